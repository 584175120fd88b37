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
# # Rapport régional (notebook de test)

# %%
from pathlib import Path

from IPython.display import Markdown, display

# %% tags=["parameters"]
region_code = "84"
processed_dir = "data/processed"
published_dir = None

# %%
assert isinstance(region_code, str), f"region_code must stay a string, got {region_code!r}"
print(f"region_code={region_code!r} cwd={Path.cwd()}")

# %% [markdown]
# ## Synthèse

# %%
display(Markdown(f"La région **{region_code}** est décrite ici."))
