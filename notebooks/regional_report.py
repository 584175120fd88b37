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
processed_dir = None  # snapshot of the core tables (None: the current one of data/processed)
figures_dir = None  # figures bundle of the run (None: computed or reused for the snapshot)
published_dir = None  # unused: published figures travel in the snapshot
phase = 2  # perimeter the page is centred on: 2 is 2023-2027, the other shown as history
n_boot = 999  # unused here: intervals come from the figures bundle
seed = 2018  # unused here: intervals come from the figures bundle

# %%
from IPython.display import HTML, display

from analyse import review
from analyse.report.display import enable_offline_charts
from analyse.review.paths import resolve_inputs, validate_parameters

enable_offline_charts()
processed, figures = resolve_inputs(processed_dir, figures_dir)
validate_parameters("region", processed_dir=str(processed), region_code=region_code, phase=phase)
page = review.page.open_page(
    f"regions/{region_code}", processed, figures, {"region_code": region_code, "phase": phase}
)
NAME = review.regional.region_name(region_code)
display(HTML(review.blocks.render_banner(page.metadata)))
display(
    HTML(
        review.page.render_breadcrumb(
            page, [("Revue nationale", "national"), (f"Région {NAME}", None)]
        )
    )
)
display(HTML(f"<h1>{review.page.esc(NAME)} : revue à trois ans des Territoires d'industrie</h1>"))

# %% [markdown]
# Cette page reprend, pour une région, les questions de la revue nationale : combien
# d'investissement et d'emplois accompagnent chaque euro du fonds d'accélération, où et avec
# quelle précision ; elle présente les territoires de la région dans leur périmètre actuel
# (phase 2, 2023-2027) et rappelle ceux de la phase 1. Les ratios sont **descriptifs**
# (montants déclarés) : ils ne mesurent pas l'effet causal de l'aide.

# %%
display(HTML(review.regional.render_key_messages_region(page, region_code)))

# %% [markdown]
# ## Chiffres clés : la région et la France

# %%
review.regional.show_overview(page, region_code)

# %% [markdown]
# ## Les territoires de la région

# %%
review.regional.show_territories(page, region_code, phase=phase)

# %% [markdown]
# ### Rappel : les territoires de l'autre phase

# %%
review.regional.show_territories(page, region_code, phase=3 - phase)

# %% [markdown]
# ## Secteurs

# %%
review.regional.show_sectors(page, region_code)

# %% [markdown]
# ## Chômage dans la région
#
# Évolution descriptive du taux de chômage trimestriel de la région comparée à la France.
# L'effet du label est estimé dans la revue nationale.

# %%
review.regional.show_unemployment(page, region_code)
display(HTML(review.public.render_coverage(page, region_code)))

# %%
display(HTML(review.blocks.render_quality(page.quality, number=page.next_table())))
display(
    HTML(
        review.blocks.render_provenance(
            page.metadata,
            {"region_code": region_code, "phase": phase},
            figures=page.figures.manifest,
        )  # fmt: skip
    )
)
