# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
ti_id = "ti-8401"  # territory id ("ti-RRnn"; ids differ between phases)
ti_phase = 2  # 1 = 2018-2022, 2 = 2023-2027
processed_dir = None  # folder of the core tables (None: data/processed)
published_dir = None  # folder of the figures as announced (None: looked up)
n_boot = 999  # bootstrap replications for the intervals
seed = 2018  # bootstrap seed (results are reproducible)

# %%
import polars as pl
from IPython.display import HTML, Markdown, display

from analyse import charts, review
from analyse.reference import REGION_NAMES
from analyse.report.display import enable_offline_charts
from analyse.report.params import TerritoryParams

params = TerritoryParams(
    ti_id=ti_id,
    ti_phase=ti_phase,
    processed_dir=processed_dir or str(review.default_processed_dir()),
    published_dir=published_dir,
    n_boot=n_boot,
    seed=seed,
)
enable_offline_charts()
charts.enable_theme()
data = review.load_review_data(params.processed_dir)
territory = (
    data["territories"]
    .filter((pl.col("ti_id") == params.ti_id) & (pl.col("ti_phase") == params.ti_phase))
    .row(0, named=True)
)
REGION = REGION_NAMES.get(territory["region_code"], territory["region_code"])
SOURCE_FUND = review.describe_fund_source(data.metadata)
display(HTML(review.render_synthetic_banner(data.metadata)))
display(
    Markdown(
        f"# {territory['ti_name']}\n\nTerritoire d'industrie `{params.ti_id}`, phase "
        f"{params.ti_phase} ({'2018-2022' if params.ti_phase == 1 else '2023-2027'}), région "
        f"{REGION}. Chiffres descriptifs : montants déclarés par les lauréats du fonds "
        "d'accélération situés dans le territoire."
    )
)

# %% [markdown]
# ## Projets, aide, investissement et emplois

# %%
in_territory = pl.col(f"ti_id_phase{params.ti_phase}") == params.ti_id
comparison = review.build_scope_comparison(
    data["projects"],
    {
        "Territoire": in_territory,
        "Région": pl.col("region_code") == territory["region_code"],
        "France": pl.lit(True),
    },
    phase=params.ti_phase,
    n_boot=params.n_boot,
    seed=params.seed,
)
display(Markdown(review.describe_scope_comparison(comparison, "Territoire")))
display(
    charts.chart_leverage_bars(
        comparison,
        "scope",
        "investment_per_aid_eur",
        "investment_per_aid_eur_ci_low",
        "investment_per_aid_eur_ci_high",
        title="Investissement annoncé par euro d'aide : territoire, région, France",
        reading=review.describe_leverage_bars(comparison, "scope", None),
        source=SOURCE_FUND,
    )
)
display(HTML(review.render_scope_comparison(comparison, source=SOURCE_FUND)))

# %% [markdown]
# ## Chômage local

# %%
trends = review.compute_unemployment_trends(
    data["labour_panel"],
    data["communes"],
    data["commune_territories"],
    ti_id=params.ti_id,
    phase=params.ti_phase,
    region_code=territory["region_code"],
)
if trends.filter(pl.col("group") == "Territoire").height:
    display(
        charts.chart_unemployment_trend(
            trends,
            title="Taux de chômage : territoire, région et France",
            reading=review.describe_trends(trends),
            source=review.SOURCE_LABOUR,
            group_order=["Territoire", "Région", "France"],
            note="Territoire : moyenne de ses zones d'emploi pondérée par son nombre de communes.",
        )
    )
else:
    display(
        Markdown("*Pas de taux de chômage publié par l'INSEE pour les zones de ce territoire.*")
    )

# %% [markdown]
# ## Intercommunalités membres

# %%
display(HTML(review.render_members(data, params.ti_id, params.ti_phase)))
shapes = data["territory_shapes"].filter(
    (pl.col("ti_phase") == params.ti_phase) & (pl.col("region_code") == territory["region_code"])
)
if shapes.filter(pl.col("ti_id") == params.ti_id).height:
    display(
        charts.chart_territory_map(
            shapes,
            highlight=params.ti_id,
            title=f"{territory['ti_name']} parmi les territoires de la région",
            reading="Lecture : contour rouge : le territoire ; en bleu, les autres territoires de la région.",
            source="Source : ANCT, périmètres des Territoires d'industrie.",
            width=360,
            height=320,
        )
    )

# %%
display(HTML(review.render_provenance(data.metadata, params.to_parameters())))
