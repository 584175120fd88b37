"""Low-level readers shared by the cleaners: xlsx sheets, UTF-8 CSV files and GeoJSON.

Every reader returns string columns (no type guessing) plus :data:`analyse.quarantine.ROW_COL`,
the 1-based row (line) number as a person sees it in the file, and raises
:class:`analyse.errors.InputFileError` naming file, sheet, row and column on bad input.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from analyse.errors import InputFileError
from analyse.normalise import unescape_html
from analyse.quarantine import ROW_COL


@dataclass(frozen=True)
class SourceStats:
    """Row accounting of one raw source: ``rows_in == rows_out + len(quarantine)``."""

    source_id: str
    file: str
    unit: str  # what one "row" is (spreadsheet row, CSV line, territory x grouping link...)
    rows_in: int
    rows_out: int


@dataclass
class CleanResult:
    """What a cleaner returns: core frames, quarantine frames (by core table) and row accounting."""

    tables: dict[str, pl.DataFrame]
    quarantine: dict[str, pl.DataFrame]
    stats: list[SourceStats]

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.tables[name]


def check_file(path: Path) -> Path:
    """Return ``path`` as a :class:`Path`; :class:`FileNotFoundError` if it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


def open_workbook(path: Path) -> Any:
    """Open an xlsx workbook with fastexcel (the calamine engine behind ``pl.read_excel``).

    InputFileError if the file is not a readable workbook.
    """
    import fastexcel

    path = check_file(path)
    try:
        return fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own CalamineError / FastExcelError
        first_line = str(exc).split("\n")[0]
        raise InputFileError(
            path, "a readable .xlsx workbook", found=f"an unreadable file ({first_line})"
        ) from exc


def list_sheets(path: Path) -> list[str]:
    """Sheet names of an xlsx workbook (InputFileError if the file is not a readable workbook)."""
    return list(open_workbook(path).sheet_names)


def read_xlsx_sheet(
    path: Path,
    sheet: str,
    *,
    header_row: int,
    expected: Sequence[str],
    workbook: Any | None = None,
) -> pl.DataFrame:
    """Read ``sheet`` of an xlsx file as strings, with column names taken from ``header_row``.

    ``header_row`` is the 1-based spreadsheet row holding the variable codes (e.g. 6 for INSEE
    files with a 5-row title block). Every name in ``expected`` must be there. Data rows are the
    rows below it; rows that are entirely empty are dropped. :data:`ROW_COL` holds the spreadsheet
    row number of each data row. Pass ``workbook`` (from :func:`open_workbook`) to read several
    sheets of one file without parsing it again.

    fastexcel is called directly with ``skip_rows=0``: ``pl.read_excel`` drops leading empty
    rows, which would shift row numbers.
    """
    path = Path(path)
    book = workbook if workbook is not None else open_workbook(path)
    sheets = list(book.sheet_names)
    if sheet not in sheets:
        raise InputFileError(path, f"a sheet named {sheet!r}", found=f"sheets {sheets}")
    try:
        raw = book.load_sheet(
            sheet,
            header_row=None,
            skip_rows=0,
            dtypes="string",  # codes keep leading zeros
        ).to_polars()
    except Exception as exc:
        raise InputFileError(
            path, "a readable worksheet", sheet=sheet, found=str(exc).split("\n")[0]
        ) from exc
    if raw.height < header_row:
        raise InputFileError(
            path,
            f"variable codes {list(expected)} on row {header_row}",
            sheet=sheet,
            row=header_row,
            found=f"only {raw.height} rows",
        )
    header = [None if v is None else str(v).strip() for v in raw.row(header_row - 1)]
    missing = [c for c in expected if c not in header]
    if missing:
        found_cols = [h for h in header if h]
        found = f"columns {found_cols}" if found_cols else "an empty row"
        elsewhere = _find_header_row(raw, expected)
        if elsewhere is not None:
            found += f" (the expected codes are on row {elsewhere})"
        raise InputFileError(
            path,
            f"variable codes {list(expected)} on row {header_row}",
            sheet=sheet,
            row=header_row,
            column=missing[0],
            found=found,
        )
    names: list[str] = []
    for i, h in enumerate(header):
        name = h if h else f"_unnamed_{i}"
        names.append(name if name not in names else f"{name}_{i}")
    data = raw.slice(header_row)
    data.columns = names
    data = data.with_columns(pl.all().cast(pl.String)).with_row_index(
        ROW_COL, offset=header_row + 1
    )
    empty = pl.all_horizontal(pl.col(names).str.strip_chars().fill_null("") == "")
    return data.with_columns(pl.col(ROW_COL).cast(pl.Int64)).filter(~empty)


def _find_header_row(raw: pl.DataFrame, expected: Sequence[str], scan: int = 30) -> int | None:
    """1-based row (among the first ``scan``) holding every expected name, if any."""
    for i in range(min(scan, raw.height)):
        values = {str(v).strip() for v in raw.row(i) if v is not None}
        if all(c in values for c in expected):
            return i + 1
    return None


def decode_utf8(path: Path) -> str:
    """The text of a UTF-8 file (BOM allowed); InputFileError naming the line if it is not UTF-8."""
    path = check_file(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            path,
            "UTF-8 text",
            row=line,
            found=f"byte 0x{data[exc.start]:02x} at offset {exc.start} (another encoding, "
            "e.g. Latin-1/cp1252? re-save the file as UTF-8)",
        ) from exc


def read_csv_text(
    path: Path,
    expected: Sequence[str],
    *,
    separator: str | None = ",",
) -> pl.DataFrame:
    """Read a UTF-8 CSV file as strings; :data:`ROW_COL` is the line number (header = line 1).

    ``separator=None`` picks ``;`` or ``,`` from the header line.
    """
    text = decode_utf8(path)
    if separator is None:
        header_line = text.split("\n", 1)[0]
        separator = ";" if header_line.count(";") > header_line.count(",") else ","
    if not text.strip():
        raise InputFileError(
            path, f"a header line with columns {list(expected)}", row=1, found="an empty file"
        )
    try:
        df = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=separator,
            infer_schema_length=0,
        )
    except pl.exceptions.PolarsError as exc:
        line, n_fields, n_header = _first_ragged_line(text, separator)
        raise InputFileError(
            path,
            f"{n_header} {separator!r}-separated fields per line (columns {list(expected)})"
            if line
            else f"{separator!r}-separated values with columns {list(expected)}",
            row=line,
            found=f"{n_fields} fields" if line else str(exc).split("\n")[0],
        ) from exc
    header = [c.strip() for c in df.columns]
    df.columns = header
    missing = [c for c in expected if c not in header]
    if missing:
        raise InputFileError(
            path,
            f"columns {list(expected)} in the header line",
            row=1,
            column=missing[0],
            found=f"columns {header}",
        )
    return df.with_row_index(ROW_COL, offset=2).with_columns(pl.col(ROW_COL).cast(pl.Int64))


def _first_ragged_line(text: str, separator: str) -> tuple[int | None, int, int]:
    """(line number, fields, header fields) of the first line whose field count differs."""
    import csv

    rows = csv.reader(io.StringIO(text), delimiter=separator)
    header = next(rows, [])
    for row in rows:
        if row and len(row) != len(header):
            return rows.line_num, len(row), len(header)
    return None, 0, len(header)


def read_geojson_features(path: Path) -> list[Any]:
    """Features of a GeoJSON FeatureCollection (the file as a whole must be one).

    Features are not checked one by one: :func:`feature_problems` says which lack a property,
    so that a cleaner can quarantine those and keep the others.
    """
    path = check_file(path)
    text = decode_utf8(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(
            path,
            "valid GeoJSON (JSON text)",
            row=exc.lineno,
            found=f"{exc.msg} at column {exc.colno}",
        ) from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InputFileError(path, "a GeoJSON FeatureCollection", found=repr(found)[:80])
    features = doc.get("features")
    if not isinstance(features, list):
        raise InputFileError(path, "a 'features' list", found=type(features).__name__)
    return features


def feature_properties(feature: Any) -> dict[str, Any]:
    """The properties of a feature, ``{}`` when it has none (or is not a feature)."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    return props if isinstance(props, dict) else {}


def feature_problems(features: Sequence[Any], expected: Sequence[str]) -> dict[int, str]:
    """1-based position -> first of ``expected`` missing from that feature's properties
    (``"properties"`` when the feature has no properties object)."""
    problems: dict[int, str] = {}
    for i, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            problems[i] = "properties"
            continue
        missing = [c for c in expected if c not in props]
        if missing:
            problems[i] = missing[0]
    return problems


def pad_digits(expr: pl.Expr, width: int) -> pl.Expr:
    """Trim a code and left-pad it with zeros when it is all digits (numbers lost their zeros)."""
    s = expr.str.strip_chars()
    return (
        pl.when(s.str.contains(r"^\d+$") & (s.str.len_chars() < width))
        .then(s.str.zfill(width))
        .otherwise(s)
    )


def clean_text(expr: pl.Expr) -> pl.Expr:
    """Decode HTML entities (:func:`analyse.normalise.unescape_html`), trim whitespace
    (non-breaking spaces included); empty strings become null."""
    s = unescape_html(expr).str.replace_all("\u00a0", " ").str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


#: INSEE commune code: 2 digits (or 2A/2B) + 3 digits, or 97x + 2 digits.
COMMUNE_RE = r"^(?:\d{2}|2A|2B)\d{3}$"
#: INSEE département code: 2 digits, 2A, 2B, or 97x.
DEPARTEMENT_RE = r"^(?:\d{2}|2A|2B|97\d)$"
#: SIREN: 9 digits.
SIREN_RE = r"^\d{9}$"


def json_row(row: dict[str, Any]) -> str:
    """A raw record as JSON (for quarantine)."""
    return json.dumps(row, ensure_ascii=False, default=str)
