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
# # Rapport qui échoue (notebook de test)

# %% tags=["parameters"]
label = "x"

# %%
print(f"avant l'erreur: {label}")

# %%
raise ValueError(f"échec volontaire du rapport {label}")

# %%
print("jamais atteint")
