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
region_code = "84"  # INSEE région code, as a string ("01" stays "01")
processed_dir = None  # folder of the core tables (None: data/processed)
published_dir = None  # folder of the figures as announced (None: looked up)
phase = 1  # perimeter used to attribute projects to territories (the fund ran in phase 1)
n_boot = 999  # bootstrap replications for the intervals
seed = 2018  # bootstrap seed (results are reproducible)

# %%
import polars as pl
from IPython.display import HTML, Markdown, display

from analyse import charts, review
from analyse.reference import REGION_NAMES
from analyse.report.display import enable_offline_charts
from analyse.report.params import RegionParams

params = RegionParams(
    region_code=region_code,
    processed_dir=processed_dir or str(review.default_processed_dir()),
    published_dir=published_dir,
    phase=phase,
    n_boot=n_boot,
    seed=seed,
)
enable_offline_charts()
charts.enable_theme()
data = review.load_review_data(params.processed_dir)
REGION = REGION_NAMES.get(params.region_code, params.region_code)
projects = data["projects"]
in_region = pl.col("region_code") == params.region_code
SOURCE_FUND = review.describe_fund_source(data.metadata)
display(HTML(review.render_synthetic_banner(data.metadata)))
display(Markdown(f"# {REGION} : revue à trois ans des Territoires d'industrie"))

# %% [markdown]
# Ce rapport reprend, pour une région, les questions de la revue nationale : combien
# d'investissement et d'emplois accompagnent chaque euro du fonds d'accélération, où, et avec
# quelle précision ; puis il compare les territoires de la région entre eux et avec la France.
# Les ratios sont **descriptifs** (montants déclarés) ; ils ne mesurent pas l'effet causal de
# l'aide.

# %% [markdown]
# ## Chiffres clés : la région et la France

# %%
comparison = review.build_scope_comparison(
    projects,
    {REGION: in_region, "France": pl.lit(True)},
    phase=params.phase,
    cluster="epci_siren",
    n_boot=params.n_boot,
    seed=params.seed,
)
display(Markdown(review.describe_scope_comparison(comparison, REGION)))
display(HTML(review.render_scope_comparison(comparison, source=SOURCE_FUND, cluster_label="EPCI")))

# %% [markdown]
# ## Les territoires de la région

# %%
regional = projects.filter(in_region)
by_territory = review.add_territory_names(
    review.build_leverage_table(
        regional,
        ["ti_id"],
        phase=params.phase,
        cluster="siren",
        n_boot=params.n_boot,
        seed=params.seed,
    ),
    data["territories"],
    phase=params.phase,
).with_columns(pl.col("ti_name").fill_null("Hors Territoire d'industrie"))
region_ratio = review.get_scope_metric(comparison, REGION)
national_ratio = review.get_scope_metric(comparison, "France")
if by_territory.height:
    display(
        charts.chart_ranked_dots(
            by_territory,
            "ti_name",
            "investment_per_aid_eur",
            "investment_per_aid_eur_ci_low",
            "investment_per_aid_eur_ci_high",
            title=f"Investissement annoncé par euro d'aide, territoires de la région {REGION}",
            reading=review.describe_leverage_bars(by_territory, "ti_name", national_ratio),
            source=SOURCE_FUND,
            reference_value=national_ratio,
            reference_label="France",
            masked="is_masked",
            axis_title="€ d'investissement par € d'aide",
        )
    )
    display(
        HTML(
            review.render_leverage_table(
                by_territory,
                "ti_name",
                "Territoire",
                source=SOURCE_FUND,
                cluster_label="entreprises",
            )
        )
    )
else:
    display(Markdown("*Aucun projet du fonds dans cette région.*"))

# %%
shapes = data["territory_shapes"].filter(
    (pl.col("ti_phase") == params.phase) & (pl.col("region_code") == params.region_code)
)
if shapes.height:
    display(
        charts.chart_territory_map(
            shapes.join(
                by_territory.select("ti_id", "investment_per_aid_eur", "is_masked"),
                on="ti_id",
                how="left",
            ),
            "investment_per_aid_eur",
            title=f"Territoires d'industrie de la région {REGION} (phase {params.phase})",
            reading=f"Lecture : {shapes.height} territoires ; couleur : € d'investissement annoncés par € d'aide.",
            source=SOURCE_FUND + " ANCT, périmètres.",
            value_title="€ investis par € d'aide",
            masked="is_masked",
        )
    )

# %% [markdown]
# ## Secteurs

# %%
by_sector = review.build_leverage_table(
    regional,
    ["sector"],
    phase=params.phase,
    cluster="siren",
    n_boot=params.n_boot,
    seed=params.seed,
)
if by_sector.height:
    display(
        charts.chart_leverage_bars(
            by_sector,
            "sector",
            "investment_per_aid_eur",
            "investment_per_aid_eur_ci_low",
            "investment_per_aid_eur_ci_high",
            title=f"Investissement annoncé par euro d'aide, par secteur ({REGION})",
            reading=review.describe_leverage_bars(by_sector, "sector", region_ratio),
            source=SOURCE_FUND,
            reference_value=region_ratio,
            reference_label=REGION,
        )
    )
    display(
        HTML(
            review.render_leverage_table(
                by_sector, "sector", "Secteur", source=SOURCE_FUND, cluster_label="entreprises"
            )
        )
    )

# %% [markdown]
# ## Chômage dans la région
#
# Évolution descriptive du taux de chômage trimestriel (moyenne des zones d'emploi de la région,
# non pondérée) comparée à la France. L'effet du label est estimé dans la revue nationale.

# %%
trends = review.compute_unemployment_trends(
    data["labour_panel"],
    data["communes"],
    data["commune_territories"],
    region_code=params.region_code,
)
if trends.filter(pl.col("group") == "Région").height:
    display(
        charts.chart_unemployment_trend(
            trends,
            title=f"Taux de chômage : {REGION} et France",
            reading=review.describe_trends(trends),
            source=review.SOURCE_LABOUR,
            group_order=["Région", "France"],
        )
    )
else:
    display(
        Markdown("*L'INSEE ne publie pas de taux de chômage par zone d'emploi pour cette région.*")
    )

# %%
display(HTML(review.render_quality(data.quality)))
display(HTML(review.render_provenance(data.metadata, params.to_parameters())))
