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
# # Fiche territoire (notebook de test)

# %% tags=["parameters"]
ti_id = "ti-8401"
ti_phase = 2
processed_dir = "data/processed"
published_dir = None

# %% [markdown]
# ## Identité

# %%
print(f"ti_id={ti_id!r} ti_phase={ti_phase!r}")
