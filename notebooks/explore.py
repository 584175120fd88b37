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

# %% [markdown]
# # Explorer les chiffres publiés
#
# Point de départ pour les évaluateurs. Les cellules lisent les **chiffres publiés** du jeu de
# données courant (ceux des rapports : mêmes valeurs, mêmes intervalles, même secret
# statistique) ; changez les paramètres puis relancez les cellules dans l'ordre. Les données
# par projet (microdonnées) ne s'affichent que si vous les demandez explicitement
# (`microdonnees = True`) : elles sont confidentielles quand elles viennent d'un extrait
# opérateur.
#
# Les sorties de ce carnet ne sont jamais enregistrées dans git : un filtre (`nbstripout`),
# installé par `python3 tasks.py lab`, les retire à chaque `git add`.

# %% tags=["parameters"]
processed_dir = None  # snapshot of the core tables (None: the current one of data/processed)
figures_dir = None  # figures bundle (None: computed or reused for the snapshot)
region_code = "84"  # a région to zoom on (INSEE code, as a string)
phase = 2  # perimeter of the territories (1 = 2018-2022, 2 = 2023-2027)
microdonnees = False  # True shows project-level rows: confidential with an operator extract

# %%
from IPython.display import HTML, display

from analyse import charts, review
from analyse.report.display import enable_offline_charts
from analyse.review.paths import resolve_inputs

enable_offline_charts("interactive")  # live selections, no network needed
processed, figures = resolve_inputs(processed_dir, figures_dir)
page = review.page.open_page("explore", processed, figures, {"region_code": region_code})
display(HTML(review.blocks.render_banner(page.metadata)))

# %% [markdown]
# ## Les régions
#
# Chaque ligne est une cellule publiée (« s » : secret statistique ; sous chaque ratio, son
# intervalle de confiance à 95 %).

# %%
if page.has_fund_extract:
    regions = review.fund.breakdown(page, ["region_code"])
    display(HTML(review.fund.render_breakdown_table(page, regions, "Région", "Projets par région")))
else:
    display(HTML(review.public.render_barometre_regions(page)))

# %% [markdown]
# ## Les territoires d'une région

# %%
if page.has_fund_extract:
    territories = review.fund.breakdown(
        page, ["region_code", f"ti_p{phase}"], {"region_code": region_code}
    )
    display(
        HTML(
            review.fund.render_breakdown_table(
                page, territories, "Territoire", "Projets des territoires de la région"
            )
        )
    )
display(HTML(review.regional.render_territory_list(page, region_code, phase)))

# %% [markdown]
# ## Vues liées
#
# Sélectionnez une zone du nuage de points : les barres montrent les régions des territoires
# retenus. Cliquez sur une barre pour mettre en évidence les territoires d'une région. Seules
# les cellules publiées (non masquées) sont tracées, aux valeurs imprimées dans les rapports.

# %%
if page.has_fund_extract:
    charts.chart_linked_explorer(review.fund.explorer_frame(page, phase))

# %% [markdown]
# ## Qualité des données

# %%
display(HTML(review.blocks.render_quality(page.quality)))

# %% [markdown]
# ## Microdonnées (sur demande explicite)

# %%
if microdonnees:
    display(HTML(review.fund.render_microdata_warning(page)))
    display(page.core("projects").head(20))
else:
    display(
        HTML(
            "<p>Microdonnées non affichées (<code>microdonnees = False</code>) : les chiffres "
            "ci-dessus sont les chiffres publiés, protégés par le secret statistique.</p>"
        )
    )
