# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Revue nationale (notebook de test)
#
# Petit notebook de test d'`analyse report` : deux graphiques et un tableau agrégés.

# %%
from pathlib import Path

import altair as alt
import polars as pl
from IPython.display import display

from analyse.report.display import enable_offline_charts

# %% tags=["parameters"]
processed_dir = "data/processed"
published_dir = None

# %%
enable_offline_charts()
print(f"renderer={alt.renderers.active} cwd={Path.cwd()} processed_dir={processed_dir}")

# %% [markdown]
# ## Projets par année
#
# Chiffres inventés pour le test.

# %%
projects = pl.DataFrame({"decision_year": ["2020", "2021", "2022"], "projects": [120, 640, 656]})
display(
    alt.Chart(projects, title="Projets par année")
    .mark_bar()
    .encode(x=alt.X("decision_year:O", title="année"), y=alt.Y("projects:Q", title="projets"))
)

# %% [markdown]
# ## Aide et investissement
#
# ### Nuage de points

# %%
points = pl.DataFrame(
    {"aid_eur": [1.0e5, 4.0e5, 9.0e5, 2.0e6], "investment_eur": [1e6, 3e6, 8e6, 1.5e7]}
)
display(alt.Chart(points).mark_point().encode(x="aid_eur:Q", y="investment_eur:Q"))

# %% [markdown]
# ## Tableau

# %%
display(projects)
