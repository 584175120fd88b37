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
processed_dir = None  # snapshot of the core tables (None: the current one of data/processed)
figures_dir = None  # figures bundle of the run (None: computed or reused for the snapshot)
published_dir = None  # unused: published figures travel in the snapshot
phase = 1  # perimeter of the territory map: the fund ran in phase 1
n_boot = 999  # unused here: intervals come from the figures bundle
seed = 2018  # unused here: intervals come from the figures bundle

# %%
from IPython.display import HTML, display

from analyse import review
from analyse.report.display import enable_offline_charts
from analyse.review.paths import resolve_inputs, validate_parameters

enable_offline_charts()
processed, figures = resolve_inputs(processed_dir, figures_dir)
validate_parameters("national", processed_dir=str(processed), phase=phase)
page = review.page.open_page("national", processed, figures, {"phase": phase})
display(HTML(review.blocks.render_banner(page.metadata)))
display(HTML(review.page.render_breadcrumb(page, [("Revue nationale", None)])))

# %% [markdown]
# # Territoires d'industrie et fonds d'accélération : revue à trois ans
#
# Cette revue fait le point sur le programme *Territoires d'industrie* (labellisé le
# 22 novembre 2018) et sur le fonds d'accélération des investissements industriels dans les
# territoires (France Relance). Elle distingue deux sortes de chiffres :
#
# - des **chiffres descriptifs** : montants et emplois déclarés par les lauréats, rapportés à
#   l'aide accordée, avec des intervalles de confiance qui disent leur précision statistique,
#   mais **pas** ce que l'aide a causé ;
# - des **estimations causales sous hypothèses** : l'effet du label sur le chômage des zones
#   d'emploi, qui ne sont présentées comme causales que si leurs propres diagnostics le
#   permettent.

# %%
display(HTML(review.national.render_key_messages(page)))

# %% [markdown]
# ## Le programme en bref

# %%
review.programme.show_timeline(page)
display(HTML(review.programme.render_perimeter_changes(page)))
display(HTML(review.public.render_coverage(page)))

# %% [markdown]
# ## Le fonds d'accélération : chiffres clés

# %%
review.national.show_fund_overview(page)

# %% [markdown]
# ## Investissement et emplois par région, secteur et taille d'entreprise

# %%
review.national.show_breakdowns(page)

# %% [markdown]
# ## Projets situés dans un Territoire d'industrie

# %%
review.national.show_territories(page, phase=phase)

# %% [markdown]
# ## Sensibilité et associations statistiques
#
# Les ratios de sommes peuvent dépendre de quelques très grands projets : la sensibilité
# reprend le ratio national sans les extrêmes. Les régressions décrivent comment
# l'investissement et les emplois déclarés varient avec le montant d'aide, à région, secteur et
# taille comparables : ce sont des **associations**, pas des effets causaux.

# %%
review.national.show_sensitivity_and_models(page)

# %% [markdown]
# ## Le label a-t-il changé le chômage des territoires ?

# %%
review.national.show_counterfactual(page)

# %% [markdown]
# ## Méthodologie et limites

# %%
display(HTML(review.national.render_methodology(page)))
display(HTML(review.blocks.render_quality(page.quality, number=page.next_table())))
display(
    HTML(
        review.blocks.render_provenance(
            page.metadata, {"phase": phase}, figures=page.figures.manifest
        )
    )
)
