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
ti_phase = 2  # 1 is 2018-2022, 2 is 2023-2027
processed_dir = None  # snapshot of the core tables (None: the current one of data/processed)
figures_dir = None  # figures bundle of the run (None: computed or reused for the snapshot)
published_dir = None  # unused: published figures travel in the snapshot
n_boot = 999  # unused here: intervals come from the figures bundle
seed = 2018  # unused here: intervals come from the figures bundle

# %%
from IPython.display import HTML, display

from analyse import review
from analyse.report.display import enable_offline_charts
from analyse.review.paths import resolve_inputs, validate_parameters

enable_offline_charts()
processed, figures = resolve_inputs(processed_dir, figures_dir)
validate_parameters("territory", processed_dir=str(processed), ti_id=ti_id, ti_phase=ti_phase)
name = f"territoires/{ti_id}" if ti_phase == 2 else f"territoires/phase{ti_phase}/{ti_id}"
page = review.page.open_page(name, processed, figures, {"ti_id": ti_id, "ti_phase": ti_phase})
info = review.territory.describe_territory(page, ti_id, ti_phase)
display(HTML(review.blocks.render_banner(page.metadata)))
display(
    HTML(
        review.page.render_breadcrumb(
            page,
            [
                ("Revue nationale", "national"),
                (f"Région {info['region_name']}", f"regions/{info['region_code']}"),
                (info["ti_name"], None),
            ],
        )
    )
)
display(HTML(f"<h1>{review.page.esc(info['ti_name'])}</h1>"))
display(HTML(review.territory.render_identity(page, info, ti_phase)))

# %%
display(HTML(review.territory.render_key_messages_territory(page, info, ti_phase)))

# %% [markdown]
# ## Projets du fonds d'accélération
#
# Chiffres descriptifs : montants et emplois déclarés par les lauréats du fonds situés dans le
# territoire (tout son périmètre), comparés à sa région et à la France.

# %%
review.territory.show_projects(page, info, ti_phase)

# %% [markdown]
# ## Chômage local

# %%
review.territory.show_unemployment(page, info, ti_phase)

# %% [markdown]
# ## Un contrefactuel pour le territoire
#
# Que serait devenu le chômage du territoire sans le label ? Un « contrôle synthétique »
# compose, à partir de zones d'emploi hors de tout Territoire d'industrie, une référence qui
# suit le territoire avant le label ; l'écart après le label n'est interprété que si cette
# référence suivait bien le territoire avant. La valeur p (placebos dans l'espace) n'est pas
# corrigée des comparaisons multiples : parmi des centaines de territoires, environ un sur dix
# aurait une valeur p inférieure à 0,10 par le seul hasard.

# %%
review.causal.show_territory_counterfactual(page, ti_id, ti_phase)

# %% [markdown]
# ## Intercommunalités membres

# %%
review.territory.show_members_and_map(page, info, ti_phase)

# %%
display(
    HTML(
        review.blocks.render_provenance(
            page.metadata, {"ti_id": ti_id, "ti_phase": ti_phase}, figures=page.figures.manifest
        )
    )
)
