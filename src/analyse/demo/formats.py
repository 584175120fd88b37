"""Byte-level writers of the demo files: check digits, GeoJSON text, INSEE-style xlsx, CSV.

Everything here is deterministic: the same input gives the same bytes (xlsx included: the
workbook's creation date is fixed and xlsxwriter stores zip members with a fixed timestamp).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

#: Creation date written into every demo workbook (keeps the bytes identical across runs).
WORKBOOK_DATE = datetime(2023, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------------------------
# identifiers


_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int32)  # 2d with digits summed


def luhn_check_digits(bases: np.ndarray) -> np.ndarray:
    """Luhn check digit of each row of ``bases`` (an ``(n, k)`` array of digits 0-9)."""
    bases = np.asarray(bases)
    n, k = bases.shape
    total = np.zeros(n, dtype=np.int32)
    for j in range(k):
        # the check digit will have position 0 from the right, so the base's rightmost digit
        # has position 1 (doubled), the next one position 2 (not doubled), ...
        col = bases[:, j].astype(np.intp)
        total += _DOUBLED[col] if (k - 1 - j) % 2 == 0 else col.astype(np.int32)
    return ((10 - total % 10) % 10).astype(np.uint8)


def is_luhn_valid(code: str) -> bool:
    """True when the digit string ``code`` passes the Luhn check (SIREN, SIRET)."""
    if not code.isdigit():
        return False
    digits = np.array([[int(c) for c in code[:-1]]])
    return int(luhn_check_digits(digits)[0]) == int(code[-1])


def digits_to_array(digits: np.ndarray) -> np.ndarray:
    """Rows of an ``(n, k)`` digit array as a numpy array of ``k``-character strings."""
    digits = np.ascontiguousarray(np.asarray(digits, dtype=np.uint8) + ord("0"))
    k = digits.shape[1]
    return digits.view(f"S{k}").ravel().astype(f"U{k}")


def digits_to_series(digits: np.ndarray) -> pl.Series:
    """Rows of an ``(n, k)`` digit array as a polars String series (fast for millions)."""
    digits = np.ascontiguousarray(np.asarray(digits, dtype=np.uint8) + ord("0"))
    return pl.Series(digits.view(f"S{digits.shape[1]}").ravel()).cast(pl.String)


def digits_to_strings(digits: np.ndarray) -> list[str]:
    """Rows of a digit array as strings."""
    return digits_to_array(digits).tolist()


def numbers_to_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as an ``(n, width)`` array of decimal digits (zero-padded)."""
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((len(values), width), dtype=np.uint8)
    for j in range(width):
        out[:, j] = (values // 10 ** (width - 1 - j)) % 10
    return out


def make_luhn_array(prefix_digits: np.ndarray) -> np.ndarray:
    """Append a Luhn check digit to each row of digits: the codes as a numpy string array."""
    check = luhn_check_digits(prefix_digits)
    return digits_to_array(np.column_stack([prefix_digits, check]))


def make_luhn_codes(prefix_digits: np.ndarray) -> list[str]:
    """Append a Luhn check digit to each row of digits and return the codes as strings."""
    return make_luhn_array(prefix_digits).tolist()


# ---------------------------------------------------------------------------------------------
# GeoJSON in the GDAL/ogr2ogr text layout of the ANCT files


def _gdal_value(value: Any) -> str:
    """One JSON value laid out like GDAL's GeoJSON driver (``{ "k": v }``, ``[ a, b ]``)."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=False)}: {_gdal_value(v)}" for k, v in value.items()
        )
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[ " + ", ".join(_gdal_value(v) for v in value) + " ]"
    if isinstance(value, float):  # np.float64 too
        return repr(round(float(value), 6))
    return json.dumps(value, ensure_ascii=False)


def geojson_text(name: str, features: Sequence[dict[str, Any]]) -> str:
    """A FeatureCollection (CRS84 member included) as GDAL writes it: one feature per line."""
    lines = [
        "{",
        '"type": "FeatureCollection",',
        f'"name": {json.dumps(name)},',
        '"crs": { "type": "name", "properties": { "name": "urn:ogc:def:crs:OGC:1.3:CRS84" } },',
        '"features": [',
    ]
    body = [
        _gdal_value({"type": "Feature", "properties": f["properties"], "geometry": f["geometry"]})
        for f in features
    ]
    lines.append(",\n".join(body))
    lines += ["]", "}"]
    return "\n".join(lines) + "\n"


def hexagon(lon: float, lat: float, radius: float) -> list[list[float]]:
    """A closed hexagonal ring around (lon, lat), radius in degrees (lon stretched by latitude)."""
    angles = np.deg2rad(np.arange(0, 361, 60))
    stretch = 1.0 / max(np.cos(np.deg2rad(lat)), 0.2)
    ring = [
        [
            round(lon + radius * stretch * float(np.cos(a)), 6),
            round(lat + radius * float(np.sin(a)), 6),
        ]
        for a in angles
    ]
    ring[-1] = ring[0]
    return ring


# ---------------------------------------------------------------------------------------------
# CSV


def csv_text(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    delimiter: str = ",",
    lineterminator: str = "\n",
) -> str:
    """CSV text with minimal quoting (like pandas ``to_csv``); ``None`` is an empty field."""
    buf = io.StringIO()
    writer = csv.writer(
        buf, delimiter=delimiter, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL
    )
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def write_text(path: Path, text: str, *, bom: bool = False) -> None:
    """Write UTF-8 text (optionally with a byte-order mark), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def float_text(value: float | None) -> str | None:
    """A float as pandas writes it (``240.0``, ``83.5``); ``None`` stays empty."""
    return None if value is None else repr(float(value))


# ---------------------------------------------------------------------------------------------
# xlsx


def open_workbook(path: Path) -> Any:
    """An xlsxwriter workbook with fixed document properties (deterministic bytes)."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_numbers": False, "strings_to_urls": False}
    )
    workbook.set_properties(
        {
            "title": "Données synthétiques (analyse demo)",
            "author": "analyse demo",
            "comments": "SYNTHETIC DATA generated by `analyse demo`: not real figures.",
            "created": WORKBOOK_DATE,
        }
    )
    return workbook


def write_cell(ws: Any, row: int, col: int, value: Any) -> None:
    """Write one cell: str as text, int/float as number, ``None`` left empty (0-based indices)."""
    if value is None:
        return
    if isinstance(value, str):
        ws.write_string(row, col, value)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value)
    elif isinstance(value, int | float | np.integer | np.floating):
        if isinstance(value, float | np.floating) and not np.isfinite(value):
            return
        ws.write_number(row, col, float(value) if isinstance(value, np.floating) else value)
    else:
        ws.write_string(row, col, str(value))


def write_rows(ws: Any, first_row: int, rows: Iterable[Sequence[Any]]) -> None:
    """Write rows from ``first_row`` (0-based) down, column A onwards."""
    for r, row in enumerate(rows, start=first_row):
        for c, value in enumerate(row):
            write_cell(ws, r, c, value)


def write_columns(ws: Any, first_row: int, columns: Sequence[Sequence[Any]]) -> None:
    """Write column-major data from ``first_row`` (0-based), column A onwards."""
    for c, values in enumerate(columns):
        for r, value in enumerate(values, start=first_row):
            write_cell(ws, r, c, value)
