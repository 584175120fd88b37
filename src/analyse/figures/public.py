"""Figures built from public data only, shown whatever the fund data: the baromètre's counts of
industrial firms supported by France Relance, the Territoires d'industrie's coverage of communes
and population, and, when a MEF ``plan-de-relance`` list is provided, where its laureates lie.

All descriptive. The baromètre counts pool several France Relance investment measures (not the
acceleration fund alone) and count firms, not projects or amounts; the MEF list names laureates
of several measures (the acceleration fund is "Soutien à l'investissement industriel dans les
territoires") with no amounts.
"""

from __future__ import annotations

import polars as pl

from analyse.reference import RELANCE_FIRMS_INDICATOR

#: MEF measure of the acceleration fund in the ``plan-de-relance`` list.
FUND_MEASURE = "Soutien à l'investissement industriel dans les territoires"


def compute_barometre(relance_counts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Supported industrial firms: national monthly series, latest value by région and by
    département (``public_barometre_*``)."""
    firms = relance_counts.filter(pl.col("indicator_id") == RELANCE_FIRMS_INDICATOR)
    latest = (
        firms.filter(pl.col("scale") != "national")
        .sort("date")
        .group_by("scale", "geo_code")
        .agg(pl.col("geo_name").last(), pl.col("date").last(), pl.col("value").last())
    )
    return {
        "public_barometre_national": firms.filter(pl.col("scale") == "national")
        .select("date", "value")
        .sort("date"),
        "public_barometre_regions": latest.filter(pl.col("scale") == "region")
        .select(pl.col("geo_code").alias("region_code"), "geo_name", "date", "value")
        .sort("region_code"),
        "public_barometre_departements": latest.filter(pl.col("scale") == "departement")
        .select(pl.col("geo_code").alias("departement_code"), "geo_name", "date", "value")
        .sort("departement_code"),
    }


def _in_ti(communes: pl.DataFrame, commune_territories: pl.DataFrame) -> pl.DataFrame:
    """Communes with ``in_ti_p1`` / ``in_ti_p2`` flags and a population (0 when unknown)."""
    out = communes.select(
        "commune_insee",
        "region_code",
        (pl.col("population") if "population" in communes.columns else pl.lit(None))
        .cast(pl.Float64)
        .alias("population"),
    )
    for phase in (1, 2):
        members = commune_territories.filter(pl.col("ti_phase") == phase).select(
            "commune_insee", pl.lit(True).alias(f"in_ti_p{phase}")
        )
        out = out.join(members.unique("commune_insee"), on="commune_insee", how="left")
    return out.with_columns(pl.col("in_ti_p1", "in_ti_p2").fill_null(False))


def compute_coverage(communes: pl.DataFrame, commune_territories: pl.DataFrame) -> pl.DataFrame:
    """Share of communes and of the population in a territory, by région and phase, plus France
    (``region_code`` null): ``phase``, ``n_communes``, ``share_communes``, ``share_population``."""
    flags = _in_ti(communes, commune_territories)
    frames = []
    for phase in (1, 2):
        col = pl.col(f"in_ti_p{phase}")
        aggs = [
            pl.len().alias("n_communes"),
            col.mean().alias("share_communes"),
            (pl.col("population").filter(col).sum() / pl.col("population").sum()).alias(
                "share_population"
            ),
        ]
        by_region = flags.group_by("region_code").agg(aggs)
        france = flags.select(aggs).with_columns(pl.lit(None, pl.String).alias("region_code"))
        frames.append(
            pl.concat([by_region, france], how="diagonal_relaxed").with_columns(
                pl.lit(phase, pl.Int8).alias("phase")
            )
        )
    return pl.concat(frames).sort("phase", "region_code", nulls_last=True)


def compute_mef_shares(relance_projects: pl.DataFrame) -> pl.DataFrame | None:
    """Laureates of the acceleration fund in the MEF list: number and share inside a territory,
    by région and phase, plus France (None when no list was provided)."""
    fund = relance_projects.filter(pl.col("measure") == FUND_MEASURE)
    if fund.height == 0:
        return None
    frames = []
    for phase in (1, 2):
        inside = pl.col(f"ti_id_phase{phase}").is_not_null()
        aggs = [pl.len().alias("n_laureates"), inside.mean().alias("share_in_ti")]
        by_region = fund.group_by("region_code").agg(aggs)
        france = fund.select(aggs).with_columns(pl.lit(None, pl.String).alias("region_code"))
        frames.append(
            pl.concat([by_region, france], how="diagonal_relaxed").with_columns(
                pl.lit(phase, pl.Int8).alias("phase"),
                pl.lit(bool(fund["is_synthetic"].any())).alias("is_synthetic"),
            )
        )
    return pl.concat(frames).sort("phase", "region_code", nulls_last=True)


def compute_public(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Every public-data frame of the bundle."""
    out = compute_barometre(tables["relance_counts"])
    out["public_ti_coverage"] = compute_coverage(tables["communes"], tables["commune_territories"])
    shares = compute_mef_shares(tables["relance_projects"])
    if shares is not None:
        out["public_mef_shares"] = shares
    return out
