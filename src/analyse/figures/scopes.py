"""The scopes of the fund's published cells: dimensions, the list of scopes, canonical keys.

Every published fund figure belongs to a *scope*: a set of projects defined by values of a few
dimensions (France = no dimension; a région; a région and a phase-2 territory...). A territory
may straddle two régions: a région's table shows the part of each territory that lies in it
(``region_code`` + ``ti_pX``) and a territory's sheet the whole territory (``ti_pX`` alone). The
dimensions partition the projects: a missing value becomes :data:`NOT_GIVEN` and a project
outside every territory of a phase has ``ti_pX = "hors"``, so that the cells of a breakdown
always add up to their total. A cell's key (:func:`cell_key`) names it on every page, in the
figures table and in the secrecy audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from analyse.cellkeys import (
    DIM_ORDER,
    FRANCE,
    NOT_GIVEN,
    OUTSIDE,
    Scope,
    cell_key,
    parse_cell_key,
)

__all__ = [
    "DIM_ORDER",
    "FAMILIES",
    "FRANCE",
    "NOT_GIVEN",
    "OUTSIDE",
    "Scope",
    "add_dimensions",
    "cell_key",
    "family_of",
    "list_scopes",
    "parse_cell_key",
]

#: Families of scopes published by the reports: each tuple of dimensions is one breakdown.
FAMILIES: tuple[tuple[str, ...], ...] = (
    (),
    ("region_code",),
    ("sector",),
    ("firm_size",),
    ("decision_year",),
    ("in_ti_p1",),
    ("in_ti_p2",),
    ("region_code", "sector"),
    ("region_code", "ti_p1"),
    ("region_code", "ti_p2"),
    ("ti_p1",),
    ("ti_p2",),
)
#: Families listing territories alone (a territory's sheet): "hors" there would duplicate the
#: ``in_ti_pX = non`` cell, so it is left out.
TERRITORY_FAMILIES = frozenset({("ti_p1",), ("ti_p2",)})


def add_dimensions(projects: pl.DataFrame) -> pl.DataFrame:
    """Projects with the string dimension columns of :data:`DIM_ORDER` (no nulls)."""

    def given(expr: pl.Expr) -> pl.Expr:
        return expr.cast(pl.String).fill_null(NOT_GIVEN)

    return projects.with_columns(
        given(pl.col("region_code")).alias("region_code"),
        pl.col("ti_id_phase1").fill_null(OUTSIDE).alias("ti_p1"),
        pl.col("ti_id_phase2").fill_null(OUTSIDE).alias("ti_p2"),
        pl.when(pl.col("ti_id_phase1").is_null())
        .then(pl.lit("non"))
        .otherwise(pl.lit("oui"))
        .alias("in_ti_p1"),  # fmt: skip
        pl.when(pl.col("ti_id_phase2").is_null())
        .then(pl.lit("non"))
        .otherwise(pl.lit("oui"))
        .alias("in_ti_p2"),  # fmt: skip
        given(pl.col("sector")).alias("sector"),
        given(pl.col("firm_size")).alias("firm_size"),
        given(pl.col("decision_year")).alias("decision_year"),
    )


def list_scopes(
    projects: pl.DataFrame, families: Iterable[Sequence[str]] = FAMILIES
) -> list[dict[str, str]]:
    """Every scope of every family that holds at least one project (France always)."""
    scopes: list[dict[str, str]] = []
    for family in families:
        if not family:
            scopes.append({})
            continue
        values = projects.select(family).unique().sort(list(family))
        if tuple(family) in TERRITORY_FAMILIES:
            values = values.filter(pl.col(family[0]) != OUTSIDE)
        scopes += [dict(zip(family, row, strict=True)) for row in values.iter_rows()]
    return scopes


def family_of(key: str) -> tuple[str, ...]:
    """The dimensions of a key, in :data:`DIM_ORDER`."""
    scope = parse_cell_key(key)
    return tuple(d for d in DIM_ORDER if d in scope)
