"""Helpers shared by the chart builders: input checks, titles, masks, reference lines."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

import altair as alt
import polars as pl

from analyse.charts.theme import MAX_ROWS, TEXT
from analyse.errors import ParameterError
from analyse.formatting import NBSP, prefix_reading, prefix_source, wrap_lines


def _check_frame(df: pl.DataFrame, columns: Iterable[str | None], what: str) -> None:
    if not isinstance(df, pl.DataFrame):
        raise ParameterError(f"{what}: expected a polars DataFrame, found {type(df).__name__}")
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise ParameterError(f"{what}: columns {missing} not in the frame (has {df.columns})")
    if df.height >= MAX_ROWS:
        raise ParameterError(
            f"{what}: {df.height} rows; charts take aggregated frames of fewer than "
            f"{MAX_ROWS} rows (aggregate first)"
        )
    if df.height == 0:
        raise ParameterError(f"{what}: the frame is empty")


def _is_synthetic(df: pl.DataFrame) -> bool:
    return "is_synthetic" in df.columns and bool(
        df.get_column("is_synthetic").fill_null(False).any()
    )


def _title(
    title: str,
    reading: str,
    source: str,
    *,
    note: str | None = None,
    synthetic: bool = False,
    width_chars: int = 110,
    champ: str | None = None,
) -> alt.Title:
    """Title with the optional "Champ :" line, the reading line, optional note and source line
    as subtitle (the order of the report tables' captions)."""
    if not title or not reading or not source:
        raise ParameterError("every chart needs a title, a reading line and a source line")
    lines = wrap_lines(prefix_champ(champ), width_chars) if champ and champ.strip() else []
    lines += wrap_lines(prefix_reading(reading), width_chars)
    if note:
        lines += wrap_lines(note, width_chars)
    lines += wrap_lines(prefix_source(source), width_chars)
    if synthetic:
        lines.append("Données synthétiques (démonstration) : aucun chiffre réel.")
    return alt.Title(text=title, subtitle=lines, anchor="start")


def prefix_champ(text: str) -> str:
    """Return ``text`` as a ``"Champ : ..."`` line (scope of the figures)."""
    text = re.sub(r"^champ\s*:\s*", "", text.strip(), flags=re.IGNORECASE)
    return f"Champ{NBSP}: {text}"


def _mask_flags(df: pl.DataFrame, masked: str | None) -> pl.Series:
    if masked is not None and masked in df.columns:
        return df.get_column(masked).cast(pl.Boolean).fill_null(False)
    return pl.Series([False] * df.height, dtype=pl.Boolean)


def _values(df: pl.DataFrame, column: str) -> list[Any]:
    return df.get_column(column).to_list()


def _json_list(values: Iterable[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


def _step_height(n: int, step: int = 22) -> int:
    return max(80, n * step)


def _reference_rule(
    value: float, label: str, formatter: Callable[[Any], str], channel: Literal["x", "y"]
) -> list[alt.Chart]:
    """A dashed reference line with its label (e.g. national value)."""
    from analyse.charts.theme import LINE_STYLES, line_role

    ref = pl.DataFrame({"ref": [float(value)], "ref_label": [f"{label} : {formatter(value)}"]})
    enc = {channel: alt.X("ref:Q") if channel == "x" else alt.Y("ref:Q")}
    role = line_role(label)  # France or a région: the line style of that meaning on every page
    style = LINE_STYLES[role] if role else {"color": TEXT, "dash": [4, 3], "width": 1.5}
    rule = (
        alt.Chart(ref)
        .mark_rule(color=style["color"], strokeDash=style["dash"], strokeWidth=style["width"])
        .encode(**enc)
    )
    if channel == "x":
        text = (
            alt.Chart(ref)
            .mark_text(align="center", baseline="bottom", dy=-3, color=TEXT, fontWeight="bold")
            .encode(x="ref:Q", y=alt.value(0), text="ref_label:N")
        )
    else:
        text = (
            alt.Chart(ref)
            .mark_text(align="right", baseline="bottom", dy=-3, color=TEXT, fontWeight="bold")
            .encode(y="ref:Q", x=alt.value("width"), text="ref_label:N")
        )
    return [rule, text]
