"""French display formats for report figures and tables (pure functions, no I/O).

Typographic convention (one for the whole project, shared with the chart locale in
:mod:`analyse.charts`):

* thousands separator: narrow no-break space U+202F (``27 250``), as recommended by the
  Imprimerie nationale and used by INSEE; groups of three digits, also for 4-digit numbers;
* decimal separator: comma (``9,4``);
* between a number and its unit (``€``, ``k€``, ``M€``, ``Md€``, ``%``, nouns): no-break
  space U+00A0 (``573 M€``, ``12,5 %``, ``27 250 emplois``), so a figure never breaks
  from its unit at the end of a line;
* negative numbers: minus sign U+2212 (``−3,2``), as d3-format (Vega) draws them;
* rounding: half away from zero on the decimal representation (``0,125 -> 0,13``), which
  is what readers do by hand, not Python's round-half-even on binary floats;
* missing value (None / NaN): ``n.d.`` (non disponible); value withheld by statistical
  secrecy: ``s`` (secret statistique). A masked cell is never shown as zero.

The constants :data:`NNBSP`, :data:`NBSP`, :data:`MINUS`, :data:`NOT_AVAILABLE` and
:data:`MASKED` let callers and tests build expected strings without typing invisible
characters.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import polars as pl

from analyse.errors import ParameterError

#: Narrow no-break space: thousands separator.
NNBSP = "\u202f"
#: No-break space: between a number and its unit.
NBSP = "\u00a0"
#: Minus sign used for negative numbers.
MINUS = "\u2212"
#: Missing value ("non disponible").
NOT_AVAILABLE = "n.d."
#: Value withheld by statistical secrecy ("secret statistique").
MASKED = "s"

MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)

Formatter = Callable[[Any], str]

# (divisor, unit, lowest absolute value shown in that unit)
_EUR_SCALES: tuple[tuple[float, str, float], ...] = (
    (1.0, "€", 0.0),
    (1e3, "k€", 1e4),
    (1e6, "M€", 1e6),
    (1e9, "Md€", 1e9),
)
_EUR_UNITS = {unit: divisor for divisor, unit, _ in _EUR_SCALES}


def is_missing(x: Any) -> bool:
    """Return True for None and NaN (the values shown as ``n.d.``)."""
    if x is None:
        return True
    if isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral):
        return math.isnan(x)
    return isinstance(x, Decimal) and x.is_nan()


def _to_decimal(x: Any) -> Decimal:
    if isinstance(x, bool):
        raise ParameterError(f"expected a number, found a boolean ({x!r})")
    try:
        if isinstance(x, numbers.Integral):
            value = Decimal(int(x))
        elif isinstance(x, Decimal):
            value = x
        else:
            value = Decimal(repr(float(x)))
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ParameterError(f"expected a number, found {x!r}") from exc
    if not value.is_finite():
        raise ParameterError(f"expected a finite number, found {x!r}")
    return value


def _round(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _group(int_digits: str) -> str:
    groups = []
    while len(int_digits) > 3:
        groups.append(int_digits[-3:])
        int_digits = int_digits[:-3]
    groups.append(int_digits)
    return NNBSP.join(reversed(groups))


def _render(rounded: Decimal, digits: int) -> str:
    text = f"{abs(rounded):.{digits}f}"
    int_part, _, frac_part = text.partition(".")
    body = _group(int_part) + ("," + frac_part if digits > 0 else "")
    return (MINUS + body) if rounded < 0 and rounded != 0 else body


def format_number(x: Any, digits: int = 0) -> str:
    """Format a number with ``digits`` decimals, French style: ``format_number(1250.5, 1)``
    -> ``"1 250,5"`` (narrow no-break space); None/NaN -> ``"n.d."``."""
    if is_missing(x):
        return NOT_AVAILABLE
    if digits < 0:
        raise ParameterError(f"digits must be >= 0, found {digits}")
    return _render(_round(_to_decimal(x), digits), digits)


def format_int(x: Any) -> str:
    """Format a count or an amount rounded to the unit: ``27250`` -> ``"27 250"``."""
    return format_number(x, 0)


def format_ratio(x: Any, digits: int = 1) -> str:
    """Format a ratio (e.g. leverage, euros invested per euro of aid): ``9.44`` -> ``"9,4"``."""
    return format_number(x, digits)


def format_pct(x: Any, digits: int = 1) -> str:
    """Format a value already in percent: ``12.5`` -> ``"12,5 %"`` (no-break space)."""
    if is_missing(x):
        return NOT_AVAILABLE
    return f"{format_number(x, digits)}{NBSP}%"


def format_eur(x: Any, unit: str | None = None, digits: int | None = None) -> str:
    """Format an amount in euros, choosing the scale: ``"1 250 €"``, ``"430 k€"``,
    ``"573 M€"``, ``"5,4 Md€"``.

    Automatic scale: euros below 10 000 €, then k€, M€ (from 1 M€) and Md€ (from 1 Md€).
    Automatic decimals: one decimal when the scaled value is below 100, none otherwise
    (``57,3 M€`` but ``573 M€``). When rounding reaches the next scale the next scale is
    used, so 999 950 € reads ``"1,0 M€"`` rather than ``"1 000 k€"`` (999 499 € reads
    ``"999 k€"``). Euros (below 10 000 €) are shown without
    decimals. ``unit`` ("€", "k€", "M€", "Md€") forces one scale, e.g. for a table column;
    ``digits`` forces the number of decimals.
    """
    if is_missing(x):
        return NOT_AVAILABLE
    value = _to_decimal(x)
    if unit is not None:
        if unit not in _EUR_UNITS:
            raise ParameterError(f"unit must be one of {sorted(_EUR_UNITS)}, found {unit!r}")
        scaled = value / Decimal(repr(_EUR_UNITS[unit]))
        n = digits if digits is not None else (0 if unit == "€" or abs(scaled) >= 100 else 1)
        return f"{_render(_round(scaled, n), n)}{NBSP}{unit}"
    # natural scale from the raw value, then one step up if rounding reaches the next threshold
    index = max(k for k, (_, _, threshold) in enumerate(_EUR_SCALES) if abs(value) >= threshold)
    while True:
        divisor, name, _ = _EUR_SCALES[index]
        scaled = value / Decimal(repr(divisor))
        if digits is not None:
            n = digits
        elif divisor == 1.0:
            n = 0
        else:
            n = 1 if abs(_round(scaled, 1)) < 100 else 0
        rounded = _round(scaled, n)
        last = index == len(_EUR_SCALES) - 1
        if last or abs(rounded) * Decimal(repr(divisor)) < Decimal(repr(_EUR_SCALES[index + 1][2])):
            return f"{_render(rounded, n)}{NBSP}{name}"
        index += 1


def format_count(n: Any, noun_singular: str, noun_plural: str) -> str:
    """Format a count with its noun, French agreement (plural from 2): ``"1 projet"``,
    ``"27 250 emplois"``, ``"0 projet"``, ``"1,5 million"``-style singular below 2."""
    if is_missing(n):
        return NOT_AVAILABLE
    value = _to_decimal(n)
    digits = 0 if value == value.to_integral_value() else 1
    noun = noun_singular if abs(_round(value, digits)) < 2 else noun_plural
    return f"{format_number(n, digits)}{NBSP}{noun}"


def format_interval(low: Any, high: Any, formatter: Formatter = format_ratio) -> str:
    """Format a confidence interval, French style: ``"[8,1 ; 10,7]"`` (no-break space before
    the semicolon); each missing bound reads ``n.d.``."""
    return f"[{_safe(formatter, low)}{NBSP}; {_safe(formatter, high)}]"


def format_masked(value: Any, is_masked: bool | None, formatter: Formatter = format_int) -> str:
    """Format a cell that statistical secrecy may withhold: ``"s"`` when masked (whatever the
    value, even 0 or None), else ``formatter(value)`` (``n.d.`` when missing)."""
    if is_masked:
        return MASKED
    return _safe(formatter, value)


def _safe(formatter: Formatter, value: Any) -> str:
    return NOT_AVAILABLE if is_missing(value) else formatter(value)


def _parse_date(date: Any) -> dt.date:
    if isinstance(date, dt.datetime):
        return date.date()
    if isinstance(date, dt.date):
        return date
    if isinstance(date, str):
        try:
            return dt.date.fromisoformat(date[:10])
        except ValueError as exc:
            raise ParameterError(f"expected an ISO date (YYYY-MM-DD), found {date!r}") from exc
    raise ParameterError(f"expected a date, found {date!r}")


def format_date_fr(date: Any) -> str:
    """Format a date in words: ``2018-11-22`` -> ``"22 novembre 2018"``, ``"1er mars 2019"``.

    Accepts ``datetime.date``, ``datetime.datetime`` or an ISO string; None -> ``n.d.``.
    """
    if is_missing(date):
        return NOT_AVAILABLE
    d = _parse_date(date)
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day}{NBSP}{MONTHS_FR[d.month - 1]} {d.year}"


def format_month_fr(date: Any) -> str:
    """Format a month: ``2021-10-05`` -> ``"octobre 2021"``."""
    if is_missing(date):
        return NOT_AVAILABLE
    d = _parse_date(date)
    return f"{MONTHS_FR[d.month - 1]} {d.year}"


_PERIOD = re.compile(r"^(\d{4})-T([1-4])$")


def parse_period(period: str) -> tuple[int, int]:
    """Split a quarter label ``"2018-T4"`` into ``(2018, 4)``."""
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None:
        raise ParameterError(f"expected a quarter like '2018-T4', found {period!r}")
    return int(match.group(1)), int(match.group(2))


def format_period(period: Any) -> str:
    """Format a quarter label in words: ``"2018-T4"`` -> ``"4e trimestre 2018"``,
    ``"2019-T1"`` -> ``"1er trimestre 2019"``; None -> ``n.d.``."""
    if is_missing(period):
        return NOT_AVAILABLE
    year, quarter = parse_period(period)
    ordinal = "1er" if quarter == 1 else f"{quarter}e"
    return f"{ordinal}{NBSP}trimestre {year}"


# --------------------------------------------------------------------------- reading back

_PRINTED = re.compile(
    r"^(?P<sign>[\u2212\-]?)(?P<int>\d{1,3}(?:[\u202f\u00a0 ]\d{3})*|\d+)(?:,(?P<frac>\d+))?"
    r"(?:[\u00a0 ](?P<unit>€|k€|M€|Md€|%))?$"
)


def parse_printed(text: str) -> tuple[float, float] | None:
    """The interval of values a printed figure stands for: ``"12,3 M€"`` -> ``(12.25e6,
    12.35e6)``, ``"1 416"`` -> ``(1415.5, 1416.5)``, ``"9,4"`` -> ``(9.35, 9.45)``; ``None``
    for ``s``, ``n.d.`` and text that is not a printed number (inverse of the formatters)."""
    match = _PRINTED.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    frac = match.group("frac") or ""
    value = Decimal(match.group("int").replace(NNBSP, "").replace(NBSP, "").replace(" ", ""))
    if frac:
        value += Decimal(f"0.{frac}")
    scale = Decimal(repr(_EUR_UNITS.get(match.group("unit") or "", 1.0)))
    half = Decimal(5).scaleb(-len(frac) - 1) * scale
    centre = value * scale * (-1 if match.group("sign") else 1)
    return float(centre - half), float(centre + half)


def printed_value(text: str) -> float | None:
    """The number a reader sees in a printed figure (``"9,4"`` -> ``9.4``; ``None`` if not a
    number): charts draw these, so they never carry more precision than the tables."""
    bounds = parse_printed(text)
    return None if bounds is None else round((bounds[0] + bounds[1]) / 2, 12)


# --------------------------------------------------------------------------- tables


def _default_formatter(dtype: pl.DataType) -> Formatter:
    if dtype == pl.Boolean:
        return lambda v: "oui" if v else "non"
    if dtype.is_integer():
        return format_int
    if dtype.is_float() or dtype.is_decimal():
        return lambda v: format_number(v, 1)
    if dtype == pl.Date or dtype == pl.Datetime:
        return format_date_fr
    return str


def format_table(
    df: pl.DataFrame,
    formats: Mapping[str, Formatter] | None = None,
    *,
    masks: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Return ``df`` as a frame of display strings (one String column per input column).

    ``formats`` maps a column to its formatter (e.g. ``{"aid_eur": format_eur}``); other
    columns get a default by dtype (integers :func:`format_int`, floats one decimal, dates
    in words, booleans oui/non, strings as they are). Null and NaN cells read ``n.d.``.
    ``masks`` maps a value column to a boolean column flagging statistical secrecy: those
    cells read ``s`` and the mask columns are dropped from the output. ``labels`` renames
    columns for display (French headers). Meant for small, aggregated tables.
    """
    formats = dict(formats or {})
    masks = dict(masks or {})
    unknown = [c for c in [*formats, *masks, *masks.values()] if c not in df.columns]
    if unknown:
        raise ParameterError(f"columns not in the table: {unknown}; table has {df.columns}")
    mask_columns = set(masks.values())
    out: dict[str, list[str]] = {}
    for name in df.columns:
        if name in mask_columns and name not in formats:
            continue
        formatter = formats.get(name) or _default_formatter(df.schema[name])
        values = df.get_column(name).to_list()
        flags = df.get_column(masks[name]).to_list() if name in masks else [False] * len(values)
        out[name] = [
            format_masked(v, flag, formatter) for v, flag in zip(values, flags, strict=True)
        ]
    table = pl.DataFrame(out, schema={name: pl.String for name in out})
    if labels:
        table = table.rename({k: v for k, v in labels.items() if k in table.columns})
    return table


_NUMERIC_CELL = re.compile(r"^[\[\u2212\-+]?\d")

#: Minimal CSS for :func:`to_html_table` output; the report template may include it once.
TABLE_CSS = """
figure.analyse-table { margin: 1.5em 0; }
figure.analyse-table table { border-collapse: collapse; font-family: Marianne, Arial, sans-serif;
  font-size: 0.9rem; color: #161616; }
figure.analyse-table caption { text-align: left; font-weight: bold; padding-bottom: 0.4em; }
figure.analyse-table th, figure.analyse-table td { padding: 0.25em 0.6em;
  border-bottom: 1px solid #dddddd; vertical-align: top; }
figure.analyse-table thead th { border-bottom: 2px solid #000091; text-align: left; }
figure.analyse-table .num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
figure.analyse-table figcaption { font-size: 0.8rem; color: #3a3a3a; margin-top: 0.4em; }
figure.analyse-table .analyse-sub { font-size: 0.78rem; color: #3a3a3a; }
""".strip()


def _cell_html(text: str) -> str:
    if text == MASKED:
        return '<abbr title="secret statistique">s</abbr>'
    if text == NOT_AVAILABLE:
        return '<abbr title="non disponible">n.d.</abbr>'
    return html.escape(text)


CellRef = tuple[str, str] | None


def _td(
    text: str, j: int, numeric: list[bool], cell: CellRef, link: str | None, sub: str | None
) -> str:
    attrs = ' class="num"' if numeric[j] else ""
    body = _cell_html(text)
    if cell is not None:
        body = (
            f'<span data-cell="{html.escape(cell[0])}" data-measure="{html.escape(cell[1])}">'
            f"{body}</span>"
        )
    if link:
        body = f'<a href="{html.escape(link)}">{body}</a>'
    if sub:
        body += f'<br><span class="analyse-sub">{_cell_html(sub)}</span>'
    tag = "th" if j == 0 else "td"
    scope = ' scope="row"' if j == 0 else ""
    return f"<{tag}{scope}{attrs}>{body}</{tag}>"


def _numeric_flags(df: pl.DataFrame, rows: list[list[str]], numeric_columns) -> list[bool]:
    if numeric_columns is None:
        numeric = []
        for j, _ in enumerate(df.columns):
            cells = [r[j] for r in rows if r[j] not in (MASKED, NOT_AVAILABLE, "")]
            numeric.append(bool(cells) and all(_NUMERIC_CELL.match(c) for c in cells))
        return numeric
    missing = [c for c in numeric_columns if c not in df.columns]
    if missing:
        raise ParameterError(f"numeric_columns not in the table: {missing}")
    return [c in numeric_columns for c in df.columns]


def to_html_table(
    df: pl.DataFrame,
    caption: str,
    source: str,
    *,
    reading: str | None = None,
    note: str | None = None,
    champ: str | None = None,
    number: int | None = None,
    numeric_columns: Sequence[str] | None = None,
    cells: Mapping[str, Sequence[CellRef]] | None = None,
    links: Mapping[str, Sequence[str | None]] | None = None,
    subtexts: Mapping[str, Sequence[str | None]] | None = None,
    css_class: str = "",
    max_rows: int = 500,
) -> str:
    """Render a (formatted) table as a self-contained, escaped HTML ``<figure>``.

    ``caption`` is the table title (``Tableau n – `` in front when ``number`` is given),
    ``source`` the source line (prefixed ``Source : `` if not already), ``champ`` an optional
    ``Champ : ...`` line (scope of the figures), ``reading`` an optional ``Lecture : ...`` line and
    ``note`` an optional extra line (method). Non-string columns are formatted with
    :func:`format_table` defaults; pass the output of :func:`format_table` for control.
    Numeric-looking columns (or ``numeric_columns``) are right-aligned; the first column heads
    its row. ``cells`` maps a column to one ``(cell_key, measure)`` (or None) per row: those
    cells carry ``data-cell`` / ``data-measure`` attributes (the published-figures key, read by
    the secrecy audit and the browser checks); ``links`` maps a column to one href per row.
    When a cell is masked (``s``) or missing (``n.d.``) the legend of the mark is added under the
    table. Every text is HTML-escaped.
    """
    if df.height > max_rows:
        raise ParameterError(f"table has {df.height} rows, more than max_rows={max_rows}")
    if any(dtype != pl.String for dtype in df.schema.values()):
        df = format_table(df)
    rows = [[v if v is not None else NOT_AVAILABLE for v in row] for row in df.iter_rows()]
    numeric = _numeric_flags(df, rows, numeric_columns)
    refs = [list((cells or {}).get(c) or [None] * len(rows)) for c in df.columns]
    hrefs = [list((links or {}).get(c) or [None] * len(rows)) for c in df.columns]
    subs = [list((subtexts or {}).get(c) or [None] * len(rows)) for c in df.columns]
    num = ' class="num"'
    head = "".join(
        f'<th scope="col"{num if numeric[j] else ""}>{html.escape(c)}</th>'
        for j, c in enumerate(df.columns)
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            _td(v, j, numeric, refs[j][i], hrefs[j][i], subs[j][i]) for j, v in enumerate(row)
        )
        + "</tr>"
        for i, row in enumerate(rows)
    )
    flat = {v for row in rows for v in row} | {v for col in subs for v in col if v}
    legend = []
    if MASKED in flat:
        legend.append("s : secret statistique")
    if NOT_AVAILABLE in flat:
        legend.append("n.d. : non disponible")
    lines = [
        _prefixed(champ, "Champ"),
        _prefixed(reading, "Lecture"),
        note,
        _prefixed(source, "Source"),
        " ; ".join(legend) if legend else None,
    ]
    figcaption = "<br>".join(html.escape(line) for line in lines if line)
    title = f"Tableau {number} – {caption}" if number is not None else caption
    classes = " ".join(
        c for c in ("analyse-table", "analyse-table-wide" if len(df.columns) > 6 else "",
                    css_class) if c
    )  # fmt: skip
    return (
        f'<figure class="{html.escape(classes)}">\n<table>\n'
        f"<caption>{html.escape(title)}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        f"<figcaption>{figcaption}</figcaption>\n</figure>"
    )


def _prefixed(text: str | None, word: str) -> str | None:
    """Return ``text`` starting with ``"<word> : "`` (French colon spacing), or None."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if re.match(rf"^{word}\s*:", text, flags=re.IGNORECASE):
        return re.sub(rf"^{word}\s*:\s*", f"{word}{NBSP}: ", text, flags=re.IGNORECASE)
    return f"{word}{NBSP}: {text}"


def prefix_reading(text: str) -> str:
    """Return ``text`` as a ``"Lecture : ..."`` line."""
    return _prefixed(text, "Lecture") or ""


def prefix_source(text: str) -> str:
    """Return ``text`` as a ``"Source : ..."`` line."""
    return _prefixed(text, "Source") or ""


def wrap_lines(text: str, width: int = 100) -> list[str]:
    """Split a long line into lines of at most ``width`` characters (for chart subtitles)."""
    return textwrap.wrap(text, width=width, break_on_hyphens=False) or [text]
