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
# # Rapport qui tue son processus (notebook de test)
#
# Simule un processus de travail qui meurt (mémoire épuisée, plantage natif) : le noyau tue
# son parent, le processus du pool qui exécute ce notebook.

# %%
import os
import signal

print("le processus parent va mourir")
os.kill(os.getppid(), signal.SIGKILL)
