"""Labour-market figures computed once per run: unemployment trends by scope, the label's
counterfactual (national DiD, event study, diagnostics) and one counterfactual per territory.

Trends are **descriptive**: the rate of a scope (France, a région, a territory) is the mean of
the INSEE quarterly rates of the zones d'emploi its communes lie in, each zone weighted by the
population of the scope's communes in it (population légale; the number of communes where the
population is unknown). INSEE's own regional and national rates weight by the labour force,
which our sources do not give: ours approximate them, and every chart says so ("Champ").
"""

from __future__ import annotations

from typing import Any

import polars as pl

#: First quarter of the trend charts.
TRENDS_START = "2010-T1"

CHAMP_TREND_FR = (
    "Champ : taux de chômage localisés trimestriels (CVS) des zones d'emploi 2020 ; le taux d'un "
    "ensemble (France hors Mayotte, région, territoire) est la moyenne des taux des zones où se "
    "trouvent ses communes, chaque zone pondérée par la population de ces communes (population "
    "légale) : une approximation du taux de l'INSEE, qui pondère par la population active."
)


def _membership(communes: pl.DataFrame, commune_territories: pl.DataFrame) -> pl.DataFrame:
    """``scope``, ``commune_insee`` for France, every région and every territory of each phase."""
    france = communes.select(pl.lit("*").alias("scope"), "commune_insee")
    regions = communes.select(
        (pl.lit("region_code=") + pl.col("region_code")).alias("scope"), "commune_insee"
    )
    territories = commune_territories.select(
        (pl.lit("ti_p") + pl.col("ti_phase").cast(pl.String) + pl.lit("=") + pl.col("ti_id")).alias(
            "scope"
        ),
        "commune_insee",
    )
    return pl.concat([france, regions, territories])


def compute_trends(
    labour_panel: pl.DataFrame,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    start: str = TRENDS_START,
) -> pl.DataFrame:
    """Quarterly rate by scope: ``scope`` (a cell key: ``*``, ``region_code=84``,
    ``ti_p2=ti-8401``), ``period``, ``quarter_index``, ``unemployment_rate_pct``,
    ``n_zones`` and ``weight`` (``population`` or ``communes``)."""
    has_pop = "population" in communes.columns and communes["population"].is_not_null().any()
    weight = pl.col("population").fill_null(0).cast(pl.Float64) if has_pop else pl.lit(1.0)
    com = communes.select("commune_insee", "ze2020_code", weight.alias("w"))
    zones = (
        _membership(communes, commune_territories)
        .join(com, on="commune_insee")
        .group_by("scope", "ze2020_code")
        .agg(pl.col("w").sum())
        .filter(pl.col("w") > 0)
    )
    panel = labour_panel.filter(pl.col("period") >= start).select(
        "ze2020_code", "period", "quarter_index", "unemployment_rate_pct"
    )
    return (
        zones.join(panel, on="ze2020_code")
        .filter(pl.col("unemployment_rate_pct").is_not_null())
        .group_by("scope", "period", "quarter_index")
        .agg(
            ((pl.col("unemployment_rate_pct") * pl.col("w")).sum() / pl.col("w").sum()).alias(
                "unemployment_rate_pct"
            ),
            pl.len().cast(pl.Int64).alias("n_zones"),
        )
        .with_columns(pl.lit("population" if has_pop else "communes").alias("weight"))
        .sort("scope", "quarter_index")
    )


def compute_counterfactual(
    tables: dict[str, pl.DataFrame], metadata: dict[str, Any] | None = None
) -> dict[str, pl.DataFrame]:
    """The label's national counterfactual (every frame of ``run_label_counterfactual``,
    prefixed ``causal_``). On the fully synthetic world the planted effect is passed, so each
    row states the value it should recover over its own window."""
    from analyse.estimate.decision import planted_effect_from_manifest
    from analyse.estimate.did import run_label_counterfactual

    planted = ((metadata or {}).get("planted_effects") or {}).get("unemployment")
    results = run_label_counterfactual(
        tables["labour_panel"],
        tables["communes"],
        tables["commune_territories"],
        tables["commune_typologies"],
        phase=1,
        planted_effect=planted_effect_from_manifest(planted)
        if planted and "zone_intensity" in planted
        else None,
    )
    return {f"causal_{name}": frame for name, frame in results.items() if frame is not None}


def compute_territory_counterfactuals(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """One synthetic control per territory of both phases (``synth_summary``, ``synth_series``,
    ``synth_weights``, ``synth_placebos``; see :mod:`analyse.estimate.synth`)."""
    from analyse.estimate.synth import run_synthetic_controls

    return run_synthetic_controls(
        tables["labour_panel"],
        tables["communes"],
        tables["commune_territories"],
        tables["territories"],
    )
