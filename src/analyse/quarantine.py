"""Split raw rows into clean rows and quarantined rows, each with a machine-readable reason.

Nothing is lost: every raw row ends either in the core table or in the quarantine table, and
:func:`partition` returns both so that callers can check ``rows_in == rows_out + rows_quarantined``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from analyse.schemas import QUARANTINE, empty_frame

ROW_COL = "_row"  # 1-based row number in the raw file, as a person sees it


@dataclass(frozen=True)
class Rule:
    """A quarantine rule: rows where ``failed`` is true go to quarantine with ``reason``."""

    reason: str
    failed: pl.Expr
    column: str | None = None
    detail: pl.Expr | None = None


def partition(
    df: pl.DataFrame,
    rules: Sequence[Rule],
    *,
    source_id: str,
    source_file: str,
    raw_columns: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``(kept, quarantined)``: the first failing rule of a row names its reason.

    ``df`` must hold :data:`ROW_COL` and the ``raw_columns`` (kept verbatim in ``raw_json``).
    The quarantined frame has the :data:`analyse.schemas.QUARANTINE` schema.
    """
    if not rules:
        return df, empty_frame(QUARANTINE)
    reason = pl.when(rules[0].failed.fill_null(False)).then(pl.lit(rules[0].reason))
    column = pl.when(rules[0].failed.fill_null(False)).then(pl.lit(rules[0].column, pl.String))
    detail = pl.when(rules[0].failed.fill_null(False)).then(
        rules[0].detail if rules[0].detail is not None else pl.lit(None, pl.String)
    )
    for rule in rules[1:]:
        cond = rule.failed.fill_null(False)
        reason = reason.when(cond).then(pl.lit(rule.reason))
        column = column.when(cond).then(pl.lit(rule.column, pl.String))
        detail = detail.when(cond).then(
            rule.detail if rule.detail is not None else pl.lit(None, pl.String)
        )
    flagged = df.with_columns(
        reason.otherwise(None).alias("_reason"),
        column.otherwise(None).alias("_column"),
        detail.otherwise(None).cast(pl.String).alias("_detail"),
    )
    kept = flagged.filter(pl.col("_reason").is_null()).drop("_reason", "_column", "_detail")
    bad = flagged.filter(pl.col("_reason").is_not_null())
    return kept, to_quarantine(
        bad,
        source_id=source_id,
        source_file=source_file,
        raw_columns=raw_columns,
        reason=pl.col("_reason"),
        column=pl.col("_column"),
        detail=pl.col("_detail"),
    )


def to_quarantine(
    df: pl.DataFrame,
    *,
    source_id: str,
    source_file: str,
    raw_columns: Sequence[str],
    reason: str | pl.Expr,
    column: str | pl.Expr | None = None,
    detail: str | pl.Expr | None = None,
) -> pl.DataFrame:
    """Turn rows of ``df`` into quarantine rows with the given reason, column and detail."""

    def as_expr(value: str | pl.Expr | None) -> pl.Expr:
        return value if isinstance(value, pl.Expr) else pl.lit(value, pl.String)

    if df.height == 0:
        return empty_frame(QUARANTINE)
    raw_json = (
        df.select(pl.struct(pl.col(c).cast(pl.String) for c in raw_columns).struct.json_encode())
        .to_series()
        .alias("raw_json")
    )
    return df.select(
        pl.lit(source_id, pl.String).alias("source_id"),
        pl.lit(source_file, pl.String).alias("source_file"),
        pl.col(ROW_COL).cast(pl.Int64).alias("source_row"),
        as_expr(column).cast(pl.String).alias("column"),
        as_expr(reason).cast(pl.String).alias("reason"),
        as_expr(detail).cast(pl.String).alias("detail"),
    ).with_columns(raw_json)
