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
processed_dir = None  # folder of the core tables (None: data/processed)
published_dir = None  # folder of the figures as announced (None: looked up)
phase = 1  # perimeter used to attribute projects to territories (the fund ran in phase 1)
n_boot = 999  # bootstrap replications for the intervals
seed = 2018  # bootstrap seed (results are reproducible)

# %%
import polars as pl
from IPython.display import HTML, Markdown, display

from analyse import charts, review
from analyse.report.display import enable_offline_charts
from analyse.report.params import NationalParams

params = NationalParams(
    processed_dir=processed_dir or str(review.default_processed_dir()),
    published_dir=published_dir,
    phase=phase,
    n_boot=n_boot,
    seed=seed,
)
enable_offline_charts()
charts.enable_theme()
data = review.load_review_data(params.processed_dir)
published = review.resolve_published_dir(params.published_dir)
projects = data["projects"]
SOURCE_FUND = review.describe_fund_source(data.metadata)
display(HTML(review.render_synthetic_banner(data.metadata)))

# %% [markdown]
# # Territoires d'industrie et fonds d'accélération : revue à trois ans
#
# Ce rapport fait le point sur le programme *Territoires d'industrie* (labellisé le
# 22 novembre 2018) et sur le fonds d'accélération des investissements industriels dans les
# territoires (France Relance). Il distingue deux sortes de chiffres :
#
# - des **chiffres descriptifs** : montants et emplois déclarés par les lauréats, rapportés à
#   l'aide accordée, avec des intervalles de confiance qui disent leur précision statistique,
#   mais **pas** ce que l'aide a causé ;
# - des **estimations causales sous hypothèses** : l'effet du label sur le chômage des zones
#   d'emploi, estimé par différence de différences, avec les hypothèses qui le fondent et les
#   tests qui les mettent à l'épreuve.

# %% [markdown]
# ## Le programme en bref

# %%
milestones = review.read_milestones(published)
if milestones is None:
    display(Markdown("*Chronologie non disponible : fichier des jalons publiés absent.*"))
else:
    display(
        charts.chart_timeline(
            review.prepare_timeline(milestones),
            title="Territoires labellisés au fil du programme",
            reading=review.describe_timeline(milestones),
            source="Source : communiqués du programme (2018-2021), ANCT (périmètres publiés).",
        )
    )
    display(HTML(review.render_milestones(milestones)))

# %%
perimeters = review.compare_perimeters(data["territory_members"])
changes = review.summarise_perimeter_changes(perimeters)
display(HTML(review.render_perimeter_changes(changes, data["territories"])))

# %% [markdown]
# ## Chiffres clés du fonds d'accélération

# %%
headline = review.build_headline(
    projects, phase=params.phase, n_boot=params.n_boot, seed=params.seed
)
display(Markdown(review.describe_headline(headline)))
display(
    HTML(
        review.render_headline(
            headline,
            caption="Chiffres clés des projets lauréats",
            source=SOURCE_FUND,
        )
    )
)

# %% [markdown]
# ### Rapprochement avec les chiffres publiés
#
# Les chiffres annoncés officiellement sont des déclarations *ex ante*, arrêtées à des dates
# différentes et avec des définitions d'emploi différentes (« créés », « à créer d'ici 2023 »,
# « maintenus »). Ils ne servent jamais d'entrée aux estimations : ce tableau les met en regard
# de nos agrégats et explique les écarts par les définitions.

# %%
display(HTML(review.render_reconciliation(projects, published)))

# %% [markdown]
# ## Effet de levier par région, secteur et taille d'entreprise

# %%
by_region = review.add_region_names(
    review.build_leverage_table(
        projects, ["region_code"], phase=params.phase, n_boot=params.n_boot, seed=params.seed
    )
)
national_ratio = review.get_metric(headline, "investment_per_aid_eur")
display(
    charts.chart_leverage_bars(
        by_region,
        "region_name",
        "investment_per_aid_eur",
        "investment_per_aid_eur_ci_low",
        "investment_per_aid_eur_ci_high",
        title="Investissement annoncé par euro d'aide, par région",
        reading=review.describe_leverage_bars(by_region, "region_name", national_ratio),
        source=SOURCE_FUND,
        reference_value=national_ratio,
        reference_label="France",
    )
)
display(HTML(review.render_leverage_table(by_region, "region_name", "Région", source=SOURCE_FUND)))

# %%
for key, label in (("sector", "Secteur"), ("firm_size", "Taille d'entreprise")):
    table = review.build_leverage_table(
        projects, [key], phase=params.phase, n_boot=params.n_boot, seed=params.seed
    )
    display(
        charts.chart_leverage_bars(
            table,
            key,
            "investment_per_aid_eur",
            "investment_per_aid_eur_ci_low",
            "investment_per_aid_eur_ci_high",
            title=f"Investissement annoncé par euro d'aide, par {label.lower()}",
            reading=review.describe_leverage_bars(table, key, national_ratio),
            source=SOURCE_FUND,
            reference_value=national_ratio,
            reference_label="France",
        )
    )
    display(HTML(review.render_leverage_table(table, key, label, source=SOURCE_FUND)))

# %%
by_territory = review.build_leverage_table(
    projects, ["ti_id"], phase=params.phase, n_boot=params.n_boot, seed=params.seed
)
shapes = data["territory_shapes"].filter(pl.col("ti_phase") == params.phase)
display(
    charts.chart_territory_map(
        shapes.join(
            by_territory.select("ti_id", "investment_per_aid_eur", "is_masked"),
            on="ti_id",
            how="left",
        ),
        "investment_per_aid_eur",
        title=f"Investissement annoncé par euro d'aide, par Territoire d'industrie (phase {params.phase})",
        reading=review.describe_leverage_bars(
            review.add_territory_names(by_territory, data["territories"], phase=params.phase),
            "ti_name",
            national_ratio,
        ),
        source=SOURCE_FUND + " ANCT, périmètres.",
        value_title="€ investis par € d'aide",
        masked="is_masked",
    )
)

# %% [markdown]
# ### Emplois par million d'euros d'aide

# %%
display(
    charts.chart_leverage_bars(
        by_region,
        "region_name",
        "jobs_created_per_meur_aid",
        "jobs_created_per_meur_aid_ci_low",
        "jobs_created_per_meur_aid_ci_high",
        title="Emplois à créer (déclarés) par million d'euros d'aide, par région",
        reading=review.describe_leverage_bars(
            by_region,
            "region_name",
            review.get_metric(headline, "jobs_created_per_meur_aid"),
            metric="jobs_created_per_meur_aid",
        ),
        source=SOURCE_FUND,
        axis_title="emplois par M€ d'aide",
        reference_value=review.get_metric(headline, "jobs_created_per_meur_aid"),
        reference_label="France",
    )
)

# %% [markdown]
# ## Projets situés dans un Territoire d'industrie et hors territoire

# %%
in_ti = review.build_leverage_table(
    projects, ["in_ti"], phase=params.phase, n_boot=params.n_boot, seed=params.seed
)
display(HTML(review.render_in_ti_comparison(in_ti, phase=params.phase, source=SOURCE_FUND)))

# %% [markdown]
# ### Sensibilité des ratios
#
# Les ratios de sommes peuvent dépendre de quelques très grands projets. Le tableau reprend le
# ratio national en écrêtant les montants (1er et 99e centiles), sans le 1 % des projets les plus
# aidés, et, pour les projets dont on connaît aussi les montants réalisés, en comparant annoncé
# et réalisé sur le même sous-ensemble.

# %%
display(
    HTML(
        review.render_sensitivity(
            projects, phase=params.phase, seed=params.seed, source=SOURCE_FUND
        )
    )
)

# %% [markdown]
# ## Associations statistiques : élasticité de l'investissement et emplois
#
# Ces régressions décrivent comment l'investissement et les emplois déclarés varient avec le
# montant d'aide, à région, secteur et taille comparables. Ce sont des **associations**, pas des
# effets causaux : les projets aidés ont été sélectionnés, et les montants sont déclarés.

# %%
display(HTML(review.render_models(projects, source=SOURCE_FUND)))

# %% [markdown]
# ## Le label a-t-il changé le chômage des territoires ? Contrefactuel
#
# On compare l'évolution trimestrielle du taux de chômage des zones d'emploi couvertes par des
# Territoires d'industrie de la phase 1 avec celle des autres zones, avant et après l'annonce du
# label (22 novembre 2018, donc à partir du 4e trimestre 2018) : différence de différences avec
# effets fixes zone et trimestre, erreurs types groupées par zone. L'intensité du traitement est
# la part des communes de la zone situées dans un territoire labellisé.

# %%
counterfactual = review.run_counterfactual(data)
display(
    charts.chart_event_study(
        review.select_event_study(counterfactual),
        title="Écart de taux de chômage des zones labellisées, par trimestre autour du label",
        reading=review.describe_event_study(counterfactual),
        source=review.SOURCE_LABOUR,
    )
)
display(Markdown(review.describe_pretrend(counterfactual)))
display(HTML(review.render_did_table(counterfactual, data.metadata)))

# %% [markdown]
# ### Hypothèses et portée
#
# Les coefficients « après label » s'interprètent comme l'effet causal moyen du label sur le
# taux de chômage des zones traitées **sous les hypothèses suivantes** : (1) tendances
# parallèles : sans le label, le chômage des zones labellisées aurait évolué comme celui des
# autres zones ; (2) pas d'anticipation avant l'annonce ; (3) pas d'effet de débordement sur les
# zones voisines non labellisées ; (4) le label est daté de son annonce. Le test joint des
# coefficients avant label, la date placebo (fin 2015) et la comparaison avec des zones
# appariées sur les typologies de l'ANCT mettent ces hypothèses à l'épreuve sans les prouver.
# La crise sanitaire de 2020 est traitée explicitement : une fenêtre s'arrête fin 2019, une autre
# va jusqu'en 2023 avec un contrôle « trimestres COVID × traitement ». Le label n'est pas le
# fonds : ces estimations portent sur l'ensemble du programme (label, animation, aides).

# %% [markdown]
# ## Méthodologie et limites
#
# - **Données du fonds** : extrait par projet (aide, investissement, emplois déclarés), nettoyé
#   et rattaché aux communes, EPCI, départements, régions et Territoires d'industrie ; les lignes
#   rejetées sont conservées en quarantaine avec leur motif (tableau ci-dessous).
# - **Ratios** : ratio des sommes (investissement total ÷ aide totale) en chiffre principal ; la
#   moyenne des ratios par projet est donnée à titre secondaire.
# - **Intervalles** : bootstrap par grappes d'EPCI (les projets d'un même EPCI ne sont pas
#   indépendants), percentiles à 95 %, graine fixée.
# - **Secret statistique** : une case de moins de 3 entreprises, ou dont une entreprise
#   représente plus de 85 % du montant, est masquée (« s ») ; un second masquage empêche de la
#   retrouver par différence avec le total.
# - **Chômage** : taux localisés trimestriels de l'INSEE par zone d'emploi 2020 ; moyennes non
#   pondérées par la population active, faute de cette donnée dans nos sources.

# %%
display(HTML(review.render_quality(data.quality)))
display(HTML(review.render_provenance(data.metadata, params.to_parameters())))
