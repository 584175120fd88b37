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
# # Explore the core tables
#
# A starting point for evaluators. Run the cells in order, then change the filters. Every table
# is a Polars frame; every figure comes from `analyse` functions that the reports use too, so
# what you find here matches the published pages. Tables are read from `data/processed`
# (run `analyse demo` and `analyse clean`, or `analyse fetch` and `analyse clean`, first).

# %% tags=["parameters"]
processed_dir = None  # folder of the core tables (None: data/processed)
region_code = "84"  # a région to zoom on
phase = 1  # perimeter used to attribute projects to territories

# %%
import polars as pl
from IPython.display import HTML, display

from analyse import charts, review
from analyse.estimate import bootstrap_leverage, summarise_leverage
from analyse.report.display import enable_offline_charts

enable_offline_charts()
charts.enable_theme()
data = review.load_review_data(processed_dir)
display(HTML(review.render_synthetic_banner(data.metadata)))
projects = data["projects"]
projects.head()

# %% [markdown]
# ## Filter and group
#
# `summarise_leverage(projects, by=[...])` gives totals and ratios for any grouping; filter the
# projects first for a subset. `in_ti` and `ti_id` are derived for the chosen phase.

# %%
summarise_leverage(
    projects.filter(pl.col("region_code") == region_code), ["firm_size"], phase=phase
)

# %%
summarise_leverage(projects, ["in_ti", "decision_year"], phase=phase).sort("decision_year")

# %% [markdown]
# ## Intervals
#
# Cluster-bootstrap intervals (clusters: EPCI) for any grouping, reproducible from the seed.

# %%
bootstrap_leverage(projects, ["region_code"], metrics=("investment_per_aid_eur",), n_boot=499)

# %% [markdown]
# ## Linked views
#
# Drag over the scatter to select territories: the bars show their régions. Click a bar to
# highlight that région's territories.

# %%
enable_offline_charts("interactive")  # live selections, no network needed
by_territory = review.add_territory_names(
    summarise_leverage(projects, ["ti_id"], phase=phase).filter(pl.col("ti_id").is_not_null()),
    data["territories"],
    phase=phase,
).with_columns(pl.col("ti_id").str.slice(3, 2).alias("region_code"))
charts.chart_linked_explorer(by_territory)

# %% [markdown]
# ## Data quality
#
# Rows that could not be cleaned are kept in `quarantine_<table>.parquet` with their reason.

# %%
from analyse.tables import read_quarantine_table

read_quarantine_table("projects", data.processed_dir).group_by("reason").len()
