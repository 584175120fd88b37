"""Read the fund's published cells (the figures table) for a page: one cell, or one breakdown as
a wide frame of printed values with the keys that annotate them on the page.

Nothing is computed here: values, intervals, secrecy and the printed text all come from
``cells.parquet`` (:mod:`analyse.figures.fund`), so a cell reads the same on every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.figures.scopes import DIM_ORDER, NOT_GIVEN, OUTSIDE, cell_key
from analyse.reference import REGION_NAMES

#: The two measures shown with an interval in breakdown tables and charts.
MAIN_RATIOS = ("investment_per_aid_eur", "jobs_created_per_meur_aid")

MEASURE_LABELS_FR: dict[str, str] = {
    "n_projects": "Projets",
    "n_firms": "Entreprises",
    "aid_eur": "Aide accordée",
    "investment_eur": "Investissement annoncé",
    "jobs_created": "Emplois à créer (déclarés)",
    "jobs_maintained": "Emplois maintenus (déclarés)",
    "investment_per_aid_eur": "€ investis par € d'aide",
    "jobs_created_per_meur_aid": "Emplois à créer par M€ d'aide",
    "private_investment_per_aid_eur": "€ investis hors aide par € d'aide",
    "aid_per_job_created_eur": "Aide par emploi à créer",
    "mean_project_investment_per_aid": "€ investis par € d'aide, moyenne des projets",
}

CI_REASONS_FR: dict[str, str] = {
    "too_few_clusters": "trop peu d'intercommunalités porteuses de projets",
    "zero_denominator": "dénominateur nul",
    "unstable_denominator": "dénominateur instable",
    "bca_undefined": "intervalle non défini",
    "nonpositive_estimate": "ratio nul ou négatif",
    "unbounded": "intervalle non borné",
}


@dataclass(frozen=True)
class CellView:
    """One published value: its key, the text as printed and the number behind the text."""

    key: str
    measure: str
    printed: str
    printed_ci: str | None
    ci_reason: str | None
    is_masked: bool
    value: float | None

    @property
    def shown(self) -> float | None:
        """The value as a reader sees it (parsed back from the printed text), for charts."""
        return None if self.is_masked else fmt.printed_value(self.printed)

    @property
    def ref(self) -> tuple[str, str]:
        return (self.key, self.measure)


def _ci_text(low: str | None, high: str | None) -> str | None:
    if low is None or high is None:
        return None
    return f"[{low}{fmt.NBSP}; {high}]"


class FundCells:
    """Index of the published cells by (key, measure)."""

    def __init__(self, cells: pl.DataFrame) -> None:
        self.frame = cells
        self._rows = {(r["cell_key"], r["measure"]): r for r in cells.iter_rows(named=True)}

    def get(self, scope: Mapping[str, str] | str, measure: str) -> CellView | None:
        """The cell of a scope (dict or key) and measure; ``None`` when not published (a scope
        with no project)."""
        key = scope if isinstance(scope, str) else cell_key(scope)
        row = self._rows.get((key, measure))
        if row is None:
            return None
        return CellView(
            key=key,
            measure=measure,
            printed=row["printed"],
            printed_ci=_ci_text(row["printed_ci_low"], row["printed_ci_high"]),
            ci_reason=row["ci_reason"],
            is_masked=bool(row["is_masked"]),
            value=row["value"],
        )

    def printed(self, scope: Mapping[str, str] | str, measure: str) -> str:
        """The text of a cell; ``0`` for a count of a scope with no project."""
        cell = self.get(scope, measure)
        if cell is None:
            return "0" if measure in ("n_projects", "n_firms") else fmt.NOT_AVAILABLE
        return cell.printed

    def breakdown(
        self, family: Sequence[str], where: Mapping[str, str] | None = None
    ) -> pl.DataFrame:
        """One row per published scope of ``family`` matching ``where``: the dimension values,
        ``cell_key``, ``is_masked`` and for each measure ``<m>`` (printed), ``<m>__shown``
        (number as printed, null when masked or not a number) and ``<m>__ci`` (printed
        interval or null) and ``<m>__ci_reason``."""
        where = dict(where or {})
        family = list(family)
        others = [d for d in DIM_ORDER if d not in family and d not in where]
        frame = self.frame.filter(
            pl.all_horizontal(
                [pl.col(d) == v for d, v in where.items()]
                + [pl.col(d).is_not_null() for d in family]
                + [pl.col(d).is_null() for d in others]
            )
        )
        if frame.height == 0:
            return pl.DataFrame(schema={**{d: pl.String for d in family}, "cell_key": pl.String})
        base = frame.select(*family, "cell_key", "is_masked").unique("cell_key", keep="first")
        wide = frame.with_columns(
            pl.col("printed")
            .map_elements(fmt.printed_value, return_dtype=pl.Float64)
            .alias("shown"),  # fmt: skip
            pl.when(pl.col("printed_ci_low").is_not_null())
            .then(pl.format("[{}\u00a0; {}]", "printed_ci_low", "printed_ci_high"))
            .alias("ci"),
        ).pivot(
            on="measure",
            index="cell_key",
            values=["printed", "shown", "ci", "ci_reason"],
            aggregate_function="first",
        )
        renamed = {}
        for col in wide.columns:
            for prefix, suffix in (("printed_", ""), ("shown_", "__shown"), ("ci_reason_", "__ci_reason"), ("ci_", "__ci")):  # fmt: skip
                if col.startswith(prefix):
                    renamed[col] = col.removeprefix(prefix) + suffix
                    break
        out = base.join(wide.rename(renamed), on="cell_key", how="left")
        return out.sort(family)


def label_dimension(dim: str, value: Any, names: Mapping[str, str] | None = None) -> str:
    """French label of a dimension value (names of régions and territories, "Non renseigné")."""
    if value is None:
        return "Ensemble"
    if value == NOT_GIVEN:
        return "Non renseigné"
    if dim == "region_code":
        return REGION_NAMES.get(value, value)
    if dim in ("ti_p1", "ti_p2"):
        if value == OUTSIDE:
            return "Hors Territoire d'industrie"
        return (names or {}).get(value, value)
    if dim in ("in_ti_p1", "in_ti_p2"):
        phase = dim[-1]
        inside = (
            "Dans un Territoire d'industrie" if value == "oui" else "Hors Territoire d'industrie"
        )
        return f"{inside} (périmètre de la phase {phase})"
    return str(value)


def explain_ci(reason: str | None) -> str:
    """Why a cell has no interval, in French."""
    return CI_REASONS_FR.get(reason or "", "non calculé")
