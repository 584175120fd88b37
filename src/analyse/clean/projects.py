"""Project-level files: the acceleration fund's operator extract and the MEF *plan de relance* list.

Both cleaners read every cell as text, normalise it with :mod:`analyse.normalise`, send rows
that cannot be trusted to quarantine with a reason, and attribute each kept project to its
commune -> EPCI, département, région, zone d'emploi 2020 and Territoire d'industrie of each
phase. Nothing is lost: ``rows_in == len(core) + len(quarantine)``, where ``rows_in`` counts the
data rows of the file (blank lines excluded). Everything is vectorised (no Python loop over
rows), so the fund cleaner scales to millions of rows.

Quarantine reasons are listed in :data:`FUND_REASONS` and :data:`RELANCE_REASONS`.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analyse.clean.extract_mapping import (
    AMOUNT_FIELDS,
    CANONICAL_FIELDS,
    COUNT_FIELDS,
    REQUIRED_FIELDS,
    ExtractMapping,
    resolve_mapping,
)
from analyse.errors import InputFileError
from analyse.normalise import (
    departement_from_postal_code,
    extract_siren,
    extract_siret,
    is_missing_value,
    match_commune_by_name,
    normalise_commune_insee,
    normalise_departement_code,
    normalise_name,
    normalise_postal_code,
    normalise_text,
    number_of_plain,
    parse_amount,
    parse_date,
    parse_number,
    plain_identifier,
    plain_number,
    plain_text,
    siren_of_plain,
    siret_of_plain,
)
from analyse.quarantine import ROW_COL, Rule, partition
from analyse.schemas import PROJECTS, QUARANTINE, RELANCE_PROJECTS, conform

#: Quarantine reasons of :func:`clean_fund_projects` (first failing rule of a row wins).
FUND_REASONS: dict[str, str] = {
    "invalid_siren": "siren_or_siret empty, not 9/14 digits, scientific notation or bad checksum",
    "missing_amount": "aid_eur or investment_eur empty or a no-value marker such as 'n.c.' "
    "(the marker in detail)",
    "unparsable_amount": "an amount column holds text that is not a number (raw value in detail)",
    "unparsable_number": "a jobs column holds text that is not a number (raw value in detail)",
    "negative_amount": "an amount is negative",
    "negative_number": "a jobs count is negative",
    "missing_date": "decision_date empty or a no-value marker (the marker in detail)",
    "unparsable_date": "decision_date in none of the mapping's date formats",
    "aid_exceeds_investment": "aid_eur greater than investment_eur (which includes the aid)",
    "invalid_firm_size": "firm_size not TPE/PME/ETI/GE and not recoded by firm_size_values",
    "ambiguous_commune": "no usable code and several communes of the département share the name",
    "unknown_commune": "commune code not in the COG and no commune of that name in the département",
    "commune_departement_mismatch": "the commune code lies in another département than given",
    "duplicate_project": "exact duplicate of an earlier row, or project_id already used by an "
    "earlier row with different content (the first row is kept)",
}

#: Quarantine reasons of :func:`clean_relance_projects`.
RELANCE_REASONS: dict[str, str] = {
    "unidentified_firm": "no valid SIREN/SIRET and no firm name",
    "invalid_siren": "siren given but not a SIREN/SIRET with a valid checksum (raw value in "
    "detail); a SIRET whose first nine digits are a valid SIREN is accepted",
    "duplicate_project": "exact copy of an earlier line (the first one is kept; detail names it)",
    "unknown_departement": "département code (or postal code) not a COG département",
}

#: Columns of the MEF ``plan-de-relance`` export (data.economie.gouv.fr).
RELANCE_COLUMNS: tuple[str, ...] = (
    "entreprise",
    "type_entreprise",
    "siren",
    "volet_relance",
    "mesure",
    "nom_departement",
    "nom_commune",
    "code_postal",
    "coordonnees_gps",
    "description_projet",
    "mesure_light",
    "mise_a_jour",
    "filiere",
    "tonnes_equivalent_co2_pour_les_projets_decarbonation",
    "code_departement",
    "nom_region",
)

#: Firm size labels recognised without a mapping (compared after :func:`normalise_name`).
FIRM_SIZE_LABELS: dict[str, str] = {
    "TPE": "TPE",
    "PME": "PME",
    "ETI": "ETI",
    "GE": "GE",
    "MICRO": "TPE",
    "MICRO ENTREPRISE": "TPE",
    "TRES PETITE ENTREPRISE": "TPE",
    "PETITE ENTREPRISE": "PME",
    "MOYENNE ENTREPRISE": "PME",
    "PETITE ET MOYENNE ENTREPRISE": "PME",
    "ENTREPRISE DE TAILLE INTERMEDIAIRE": "ETI",
    "GRANDE ENTREPRISE": "GE",
    "GRANDES ENTREPRISES": "GE",
    "GRAND GROUPE": "GE",
}

_CODECS = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "cp1252": "cp1252", "latin-1": "latin-1"}


def _in(field: str) -> str:
    """Working column holding the raw text of a canonical field."""
    return f"_in_{field}"


def _w(field: str) -> str:
    """Working column holding the normalised value of a canonical field."""
    return f"_w_{field}"


def _miss(field: str) -> str:
    """Working column: the raw cell of a canonical field is empty (or a "no value" marker)."""
    return f"_miss_{field}"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _decode(data: bytes, encoding: str, path: Path) -> str:
    """Decode ``data``; InputFileError naming the line of the first undecodable byte."""
    try:
        text = data.decode(_CODECS[encoding])
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            path,
            f"text encoded as {encoding}",
            row=line,
            found=f"byte 0x{data[exc.start]:02x} at offset {exc.start}, not valid {encoding} "
            "(another encoding, e.g. cp1252? set 'encoding' in the mapping)",
        ) from exc
    if encoding in {"cp1252", "latin-1"} and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return text
        first = re.search(rb"[\x80-\xff]", data)
        line = data.count(b"\n", 0, first.start()) + 1 if first else None
        raise InputFileError(
            path,
            f"text encoded as {encoding}",
            row=line,
            found="UTF-8 text (accented letters would come out garbled); set encoding: utf-8",
        )
    return text


def _first_ragged_row(text: str, separator: str, skip_rows: int) -> tuple[int, int, int] | None:
    """(line, n_fields, n_header_fields) of the first record with more fields than the header.

    Only called after Polars refused the file, to name the offending line.
    """
    import csv

    lines = io.StringIO(text)
    for _ in range(skip_rows):
        lines.readline()
    reader = csv.reader(lines, delimiter=separator)
    header = next(reader, [])
    for record in reader:
        if len(record) > len(header):
            return skip_rows + reader.line_num, len(record), len(header)
    return None


def _strip_header(name: str) -> str:
    return re.sub(r"^[\s\u00a0\u202f]+|[\s\u00a0\u202f]+$", "", name)


def _strip_headers(df: pl.DataFrame) -> pl.DataFrame:
    """Strip spaces (incl. non-breaking) around headers, when that creates no duplicate."""
    stripped = [_strip_header(c) for c in df.columns]
    if len(set(stripped)) == len(stripped):
        df.columns = stripped
    return df


def _drop_blank_rows(df: pl.DataFrame) -> pl.DataFrame:
    values = [c for c in df.columns if c != ROW_COL]
    if not values:
        return df
    # blank lines and empty spreadsheet rows come as all-null rows (empty cells are null)
    return df.filter(~pl.all_horizontal(pl.col(values).is_null()))


_CSV_OPTIONS = {
    "has_header": True,
    "infer_schema": False,
    "quote_char": '"',
    "truncate_ragged_lines": False,
    "raise_if_empty": True,
}


def _read_csv(
    path: Path,
    *,
    encoding: str,
    separator: str,
    skip_rows: int,
    categorical: frozenset[str] = frozenset(),
) -> pl.DataFrame:
    """Every cell as text, ``_row`` = line number. UTF-8 files are read by Polars straight from
    disk (it checks the encoding), the columns named in ``categorical`` as ``Categorical`` (4
    bytes a row instead of 16 for columns whose values repeat); any problem sends them the
    careful way, which decodes the whole file in Python to name the offending line."""
    if encoding in {"utf-8", "utf-8-sig"}:
        df = _read_utf8_csv(path, separator=separator, skip_rows=skip_rows, categorical=categorical)
        if df is not None:
            return _number_lines(
                df, skip_rows, _count_lines(path, header_line=skip_rows + 1, rows=df.height)
            )
    data = path.read_bytes()
    text = _decode(data, encoding, path)
    if encoding in {"utf-8", "utf-8-sig"}:
        payload = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    else:
        payload = text.encode("utf-8")
    if not text or text.isspace():
        raise InputFileError(path, "a header line", row=skip_rows + 1, found="an empty file")
    try:
        df = pl.read_csv(
            io.BytesIO(payload), separator=separator, skip_lines=skip_rows, **_CSV_OPTIONS
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        ragged = _first_ragged_row(text, separator, skip_rows)
        if ragged is not None:
            line, n, n_header = ragged
            raise InputFileError(
                path,
                f"at most {n_header} fields separated by {separator!r} (as in the header)",
                row=line,
                found=f"{n} fields (wrong delimiter, or an unquoted {separator!r} in a value?)",
            ) from exc
        raise InputFileError(
            path, f"CSV separated by {separator!r}", found=str(exc).split("\n")[0]
        ) from exc
    n_lines = payload.count(b"\n") + (0 if payload.endswith(b"\n") else 1)
    return _number_lines(df, skip_rows, n_lines)


def _read_utf8_csv(
    path: Path, *, separator: str, skip_rows: int, categorical: frozenset[str]
) -> pl.DataFrame | None:
    """The file read by Polars from disk, or None when anything looks wrong (see _read_csv)."""
    import csv

    with path.open("rb") as handle:  # Polars checks neither skipped lines nor the header
        skipped = b"".join(handle.readline() for _ in range(skip_rows))
        header = handle.readline()
    try:
        skipped.decode("utf-8")
        names = next(csv.reader([header.decode("utf-8-sig").rstrip("\r\n")], delimiter=separator))
        overrides = {n: pl.Categorical for n in names if _strip_header(n) in categorical}
        df = pl.read_csv(
            path,
            separator=separator,
            skip_lines=skip_rows,
            schema_overrides=overrides or None,
            **_CSV_OPTIONS,
        )
    except (UnicodeDecodeError, StopIteration, csv.Error, pl.exceptions.PolarsError):
        return None
    return df if df.height else None


def _count_lines(path: Path, *, header_line: int, rows: int, chunk_bytes: int = 1 << 24) -> int:
    """Lines of a file (a last line without end counted), read in chunks (bounded memory).

    A file without any ``"`` has no value spanning lines: its ``header_line + rows`` lines
    (``rows`` records, blank lines included) are not counted.
    """
    import mmap

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm.find(b'"') < 0:
            return header_line + rows
    n, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (0 if last == b"\n" else 1)


def _number_lines(df: pl.DataFrame, skip_rows: int, n_lines: int) -> pl.DataFrame:
    """Stripped headers, ``_row`` (line of each record: values spanning several lines shift the
    following ones), blank rows dropped."""
    df = _strip_headers(df)
    header_line = skip_rows + 1
    df = df.with_row_index(ROW_COL).with_columns(
        (pl.col(ROW_COL).cast(pl.Int64) + header_line + 1).alias(ROW_COL)
    )
    if n_lines != header_line + df.height and df.width > 1:
        # quoted values spanning several lines: shift the following rows' line numbers
        values = [c for c in df.columns if c != ROW_COL]
        inner = pl.sum_horizontal(
            pl.col(values).cast(pl.String).str.count_matches("\n", literal=True).fill_null(0)
        ).cast(pl.Int64)
        df = df.with_columns(
            (pl.col(ROW_COL) + inner.cum_sum().shift(1, fill_value=0)).alias(ROW_COL)
        )
    return _drop_blank_rows(df)


def _read_xlsx(path: Path, *, sheet: str | None, skip_rows: int, decimal: str) -> pl.DataFrame:
    import fastexcel

    try:
        sheets = list(fastexcel.read_excel(str(path)).sheet_names)
    except Exception as exc:  # fastexcel raises its own error types
        raise InputFileError(
            path, "a readable .xlsx workbook", found=str(exc).split("\n")[0]
        ) from exc
    name = sheet if sheet is not None else (sheets[0] if sheets else None)
    if name is None or name not in sheets:
        raise InputFileError(
            path, f"a sheet named {sheet!r}", sheet=sheet, found=f"sheets {sheets}"
        )
    options = {
        "sheet_name": name,
        "read_options": {"header_row": skip_rows},
        "drop_empty_rows": False,  # keep positions equal to spreadsheet rows
        "drop_empty_cols": False,
        "raise_if_empty": False,
    }
    try:
        df = pl.read_excel(path, infer_schema_length=0, **options)
        typed = pl.read_excel(path, infer_schema_length=None, **options)
    except Exception as exc:
        raise InputFileError(
            path,
            f"a header row on spreadsheet row {skip_rows + 1}",
            sheet=name,
            row=skip_rows + 1,
            found=str(exc).split("\n")[0],
        ) from exc
    # numeric cells come as machine numbers ("12.345"): write their decimal mark as the text
    # cells of the file do, so that a "." thousands separator cannot misread them
    floats = [c for c, t in typed.schema.items() if t.is_float() and c in df.columns]
    if floats and decimal != ".":
        df = df.with_columns(pl.col(floats).str.replace(".", decimal, literal=True))
    df = _strip_headers(df)
    df = df.with_row_index(ROW_COL).with_columns(
        (pl.col(ROW_COL).cast(pl.Int64) + skip_rows + 2).alias(ROW_COL)
    )
    return _drop_blank_rows(df)


def read_raw_projects(
    path: str | Path,
    mapping: ExtractMapping | str | Path | None = None,
    *,
    categorical_fields: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Read an operator extract as written: every cell as text, plus ``_row``.

    ``_row`` is the 1-based line (CSV) or spreadsheet row (xlsx) as a person sees it, header
    and skipped rows counted. Entirely blank rows are dropped. Headers are stripped of spaces.
    Raises :class:`InputFileError` for a missing file, a wrong encoding (naming the line of the
    first undecodable byte), a missing sheet (naming the sheets present) or a row with more
    fields than the header. The columns of ``categorical_fields`` (canonical names) may come
    as ``Categorical`` text (UTF-8 CSV read directly: less memory for repeated values).
    """
    path = Path(path)
    mapping = resolve_mapping(mapping)
    if not path.is_file():
        raise InputFileError(path, "an operator extract file", found="no such file")
    if mapping.format == "xlsx":
        return _read_xlsx(
            path, sheet=mapping.sheet, skip_rows=mapping.skip_rows, decimal=mapping.decimal
        )
    columns = mapping.columns or {f: f for f in CANONICAL_FIELDS}
    categorical = frozenset(h for f, h in columns.items() if f in categorical_fields)
    return _read_csv(
        path,
        encoding=mapping.encoding,
        separator=mapping.delimiter,
        skip_rows=mapping.skip_rows,
        categorical=categorical,
    )


def _source_label(path: Path, mapping: ExtractMapping) -> str:
    if mapping.format == "xlsx" and mapping.sheet:
        return f"{path.name}#{mapping.sheet}"
    return path.name


def _resolve_headers(
    raw: pl.DataFrame,
    mapping: ExtractMapping,
    file: str | Path,
    header_row: int | None,
    sheet: str | None = None,
) -> dict[str, str | None]:
    """Canonical field -> source header (None: absent, default or null). Checks presence."""
    found = [c for c in raw.columns if c != ROW_COL]
    if mapping.columns is None:
        headers: dict[str, str | None] = {f: (f if f in found else None) for f in CANONICAL_FIELDS}
        missing = [f for f in REQUIRED_FIELDS if headers[f] is None]
        if headers["commune_insee"] is None and not (
            headers["commune_name"] and (headers["departement_code"] or headers["postal_code"])
        ):
            missing.append("commune_insee")
        if missing:
            raise InputFileError(
                file,
                f"canonical headers {list(CANONICAL_FIELDS)} (required: {list(REQUIRED_FIELDS)} "
                "and commune_insee or commune_name + departement_code); or give a mapping",
                sheet=sheet,
                row=header_row,
                column=missing[0],
                found=f"headers {found}",
            )
        return headers
    headers = {f: mapping.columns.get(f) for f in CANONICAL_FIELDS}
    for field, header in headers.items():
        if header is not None and header not in found:
            raise InputFileError(
                file,
                f"a column {header!r} (mapped to {field})",
                sheet=sheet,
                row=header_row,
                column=header,
                found=f"headers {found}",
            )
    return headers


# --------------------------------------------------------------------------------------------
# Fund extract
# --------------------------------------------------------------------------------------------


def _text(expr: pl.Expr) -> pl.Expr:
    """Trimmed text with HTML entities decoded, blank -> null (:func:`normalise_text`)."""
    return normalise_text(expr)


def _quoted(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), expr.fill_null(""), pl.lit("'"))


def _missing_detail(raw: str | pl.Expr) -> pl.Expr:
    """Detail of an empty cell: ``"empty"``, or the marker written (``"'n.c.': no-value
    marker"``), so that the quarantine names what the file says."""
    raw = pl.col(raw) if isinstance(raw, str) else raw
    blank = raw.str.strip_chars().fill_null("") == ""
    return (
        pl.when(blank)
        .then(pl.lit("empty"))
        .otherwise(pl.concat_str(_quoted(raw), pl.lit(": no-value marker")))
    )


def _identifier_detail(raw_id: pl.Expr) -> pl.Expr:
    """Detail of an identifier cell that holds no valid SIREN/SIRET (raw value quoted)."""
    scientific = raw_id.str.contains(r"(?i)^[0-9.,]+e[+-]?[0-9]+$").fill_null(False)
    return (
        pl.when(scientific)
        .then(pl.concat_str(_quoted(raw_id), pl.lit(": scientific notation, digits lost")))
        .otherwise(
            pl.concat_str(_quoted(raw_id), pl.lit(": not a SIREN/SIRET with a valid checksum"))
        )
    )


def _firm_size(expr: pl.Expr, extra: dict[str, str]) -> pl.Expr:
    labels = dict(FIRM_SIZE_LABELS)
    if extra:
        keys = pl.DataFrame({"k": list(extra)}).select(normalise_name(pl.col("k")))["k"]
        labels.update(dict(zip(keys.to_list(), extra.values(), strict=True)))
    return normalise_name(expr).replace_strict(labels, default=None, return_dtype=pl.String)


def _territory_columns(commune_territories: pl.DataFrame) -> pl.DataFrame:
    """commune_insee -> ti_id_phase1, ti_id_phase2 (one row per commune).

    Should a commune be listed in two territories of one phase, the smallest ``ti_id`` is kept
    so that projects are never duplicated by the join.
    """
    ct = (
        commune_territories.select("commune_insee", "ti_phase", "ti_id")
        .sort("commune_insee", "ti_phase", "ti_id")
        .unique(subset=["commune_insee", "ti_phase"], keep="first", maintain_order=True)
    )
    wide = ct.select("commune_insee").unique()
    for phase in (1, 2):
        part = ct.filter(pl.col("ti_phase") == phase).select(
            "commune_insee", pl.col("ti_id").alias(f"ti_id_phase{phase}")
        )
        wide = wide.join(part, on="commune_insee", how="left")
    return wide


#: Below this many rows, values are always normalised per distinct value (see _normalise_column).
_DISTINCT_MIN_ROWS = 10_000


@dataclass(frozen=True)
class _FastPath:
    """Cells for which cheap expressions give exactly what the full ones give.

    ``plain`` tells those cells apart; ``exprs`` has the keys and dtypes of the full expressions.
    Both are functions of the one input column (see the ``plain_*`` helpers of
    :mod:`analyse.normalise`).
    """

    plain: pl.Expr
    exprs: dict[str, pl.Expr]


def _mostly_distinct(keys: pl.DataFrame) -> bool:
    """Most rows distinct (normalising each distinct value once would not pay), judged on an
    evenly spread sample of about :data:`_DISTINCT_MIN_ROWS` rows (counting distinct strings
    over millions of rows costs more than normalising them); always false below that many rows.
    Either answer gives the same result, only the time differs."""
    n_rows = keys.height
    if n_rows <= _DISTINCT_MIN_ROWS:
        return False
    step = n_rows // _DISTINCT_MIN_ROWS if _DISTINCT_MIN_ROWS > 0 else 1
    sample = keys.gather_every(max(1, step))
    sample = sample.filter(~pl.all_horizontal(pl.all().is_null()))
    if sample.height == 0:
        return False
    # a sample of m rows drawn from D distinct ones holds about D * (1 - exp(-m / D)) of them:
    # 90 % distinct in the sample means D above about 5 m
    return sample.n_unique() > 0.9 * sample.height


def _as_text(keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` with ``Categorical`` columns as plain text (what the expressions read)."""
    cats = [c for c, t in keys.schema.items() if t == pl.Categorical]
    return keys.with_columns(pl.col(cats).cast(pl.String)) if cats else keys


def _per_category(values: pl.Series, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """:func:`_per_distinct` of one ``Categorical`` column: the expressions on the first row of
    each category, spread back by the category codes (integer gathers, no hashing of text)."""
    codes = values.to_physical()
    first = codes.arg_unique()  # null included
    results = (
        values.gather(first).cast(pl.String).to_frame().select(e.alias(n) for n, e in exprs.items())
    )
    present = codes.gather(first)
    null_slot = int(present.max() or 0) + 1
    lookup = np.zeros(null_slot + 1, dtype=np.uint32)
    lookup[present.fill_null(null_slot).to_numpy()] = np.arange(present.len(), dtype=np.uint32)
    rows = lookup[codes.fill_null(null_slot).to_numpy()]
    return results.select(pl.all().gather(rows))


def _per_distinct(keys: pl.DataFrame, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    if keys.width == 1 and keys.dtypes[0] == pl.Categorical:
        return _per_category(keys.to_series(), exprs)
    columns = keys.columns
    distinct = keys.unique()
    values = _as_text(distinct).select(e.alias(n) for n, e in exprs.items())
    distinct = pl.concat([distinct, values], how="horizontal")
    return keys.join(
        distinct, on=columns, how="left", nulls_equal=True, maintain_order="left"
    ).drop(columns)


def _normalise_column(
    df: pl.DataFrame,
    columns: str | list[str],
    exprs: dict[str, pl.Expr],
    fast: _FastPath | None = None,
) -> pl.DataFrame:
    """Columns ``exprs`` (functions of ``columns`` only), in the row order of ``df``, computed
    cheaply.

    * few distinct values (dates, codes, labels, jobs; or a few distinct combinations of
      columns that go together, such as commune code, name, département and postal code): once
      per distinct value, then one narrow join -- a few thousand string operations instead of
      millions;
    * mostly distinct values (identifiers, amounts) with a ``fast`` path (one column): the cheap
      expressions on every cell, the full ones only on the cells that are not plain (scattered
      back);
    * otherwise the full expressions on every cell.

    The result is the same whichever way is taken (tests compare them).
    """
    keys = df.select(columns)
    if not _mostly_distinct(keys):
        return _per_distinct(keys, exprs)
    keys = _as_text(keys)
    if fast is None:
        return keys.lazy().select(e.alias(n) for n, e in exprs.items()).collect()
    out = (
        keys.lazy()
        .select(fast.plain.alias("_plain"), *(e.alias(n) for n, e in fast.exprs.items()))
        .collect()
    )
    rest = out.get_column("_plain").not_().arg_true()
    out = out.drop("_plain")
    if rest.len() == 0:
        return out
    slow = _normalise_column(keys.select(pl.all().gather(rest)), columns, exprs)
    return out.with_columns(out.get_column(n).scatter(rest, slow.get_column(n)) for n in exprs)


_Spec = tuple[list[str], dict[str, pl.Expr], _FastPath | None]


def _fund_normalisers(mapping: ExtractMapping) -> list[_Spec]:
    """(raw text columns, working columns computed from them, fast path or None), by field."""
    col = {f: pl.col(_in(f)) for f in CANONICAL_FIELDS}
    specs: list[_Spec] = [
        (
            [_in("commune_insee")],
            {
                _w("commune_code"): normalise_commune_insee(col["commune_insee"]),
                _miss("commune_insee"): is_missing_value(col["commune_insee"]),
            },
            None,
        ),
        ([_in("commune_name")], {_w("commune_name"): _text(col["commune_name"])}, None),
        (
            [_in("departement_code")],
            {_w("departement_given"): normalise_departement_code(col["departement_code"])},
            None,
        ),
        (
            [_in("postal_code")],
            {_w("departement_postal"): departement_from_postal_code(col["postal_code"])},
            None,
        ),
        (
            [_in("decision_date")],
            {
                _w("decision_date"): parse_date(col["decision_date"], mapping.date_formats),
                _miss("decision_date"): is_missing_value(col["decision_date"]),
            },
            None,
        ),
        ([_in("sector")], {_w("sector"): _text(col["sector"])}, None),
        (
            [_in("firm_size")],
            {
                _w("firm_size"): _firm_size(col["firm_size"], dict(mapping.firm_size_values)),
                _miss("firm_size"): is_missing_value(col["firm_size"]),
            },
            None,
        ),
    ]
    for field in ("project_id", "firm_name"):
        fast = _FastPath(plain_text(col[field]), {_w(field): col[field]})
        specs.append(([_in(field)], {_w(field): _text(col[field])}, fast))
    raw_id = col["siren_or_siret"]
    identifiers = {
        _w("siren"): (extract_siren(raw_id), siren_of_plain(raw_id)),
        _w("siret"): (extract_siret(raw_id), siret_of_plain(raw_id)),
        _miss("siren_or_siret"): (is_missing_value(raw_id), raw_id.is_null()),
    }
    specs.append(_with_fast_path(_in("siren_or_siret"), plain_identifier(raw_id), identifiers))
    decimal, thousands = mapping.decimal, mapping.thousands
    for field in (*AMOUNT_FIELDS, *COUNT_FIELDS):
        raw = col[field]
        if field in AMOUNT_FIELDS:
            unit = mapping.unit(field)
            full = parse_amount(raw, unit=unit, decimal=decimal, thousands=thousands)
        else:
            unit, full = "EUR", parse_number(raw, decimal=decimal, thousands=thousands)
        exprs = {
            _w(field): (full, number_of_plain(raw, decimal, unit)),
            _miss(field): (is_missing_value(raw), raw.is_null()),
        }
        specs.append(_with_fast_path(_in(field), plain_number(raw, decimal), exprs))
    return specs


def _with_fast_path(
    column: str, plain: pl.Expr, exprs: dict[str, tuple[pl.Expr, pl.Expr]]
) -> _Spec:
    """A spec from ``name -> (full expression, cheap expression on plain cells)``."""
    full = {n: e for n, (e, _) in exprs.items()}
    return [column], full, _FastPath(plain, {n: e for n, (_, e) in exprs.items()})


def _normalise_fields(inputs: pl.DataFrame, mapping: ExtractMapping) -> pl.DataFrame:
    """Every working column of the fund cleaner, each group of fields normalised by
    :func:`_normalise_column` (groups in parallel threads: Polars releases the GIL)."""

    def one(spec: _Spec) -> pl.DataFrame:
        return _normalise_column(inputs, *spec)

    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        parts = list(pool.map(one, _fund_normalisers(mapping)))
    return pl.concat([inputs.select(ROW_COL), *parts], how="horizontal")


#: Threads normalising fields at once (Polars runs each field's work on its own pool too).
_THREADS = 4


def _attribution(
    codes: pl.Series, communes: pl.DataFrame, commune_territories: pl.DataFrame
) -> pl.DataFrame:
    """EPCI, département (COG), région, zone d'emploi and territories of each commune code.

    Returns a frame in the order of ``codes`` with columns ``_a_epci_siren``,
    ``_a_departement_code``, ``_a_region_code``, ``_a_ze2020_code``, ``_a_ti_id_phase1``,
    ``_a_ti_id_phase2`` (null for null or unknown codes).
    """
    geo = communes.select(
        pl.col("commune_insee").alias("_code"),
        pl.col("epci_siren").alias("_a_epci_siren"),
        pl.col("departement_code").alias("_a_departement_code"),
        pl.col("region_code").alias("_a_region_code"),
        pl.col("ze2020_code").alias("_a_ze2020_code"),
    ).unique(subset=["_code"], keep="first")
    ti = _territory_columns(commune_territories).select(
        pl.col("commune_insee").alias("_code"),
        pl.col("ti_id_phase1").alias("_a_ti_id_phase1"),
        pl.col("ti_id_phase2").alias("_a_ti_id_phase2"),
    )
    lookup = geo.join(ti, on="_code", how="left")
    return (
        codes.alias("_code")
        .to_frame()
        .join(lookup, on="_code", how="left", maintain_order="left")
        .drop("_code")
    )


def _quarantine_bad(
    bad: pl.DataFrame,
    rules: list[Rule],
    *,
    attach: pl.DataFrame,
    source_id: str,
    source_file: str,
    raw_columns: list[str],
) -> pl.DataFrame:
    """Quarantine rows of the failing rows ``bad``, whose flags ``_fail_<i>`` say which of
    ``rules`` failed: the raw columns come back from ``attach`` (by ``_row``) for details and
    raw JSON, and :func:`analyse.quarantine.partition` names the first failing rule."""
    extra = attach.filter(pl.col(ROW_COL).is_in(bad.get_column(ROW_COL).implode()))
    extra = _as_text(extra.drop([c for c in extra.columns if c in bad.columns and c != ROW_COL]))
    bad = bad.join(extra, on=ROW_COL, how="left", maintain_order="left")
    local = [Rule(r.reason, pl.col(f"_fail_{i}"), r.column, r.detail) for i, r in enumerate(rules)]
    not_failed, quarantined = partition(
        bad, local, source_id=source_id, source_file=source_file, raw_columns=raw_columns
    )
    assert not_failed.height == 0
    return quarantined


def _make_project_id(source_id: str) -> pl.Expr:
    return pl.concat_str(pl.lit(f"{source_id}-"), pl.col(ROW_COL).cast(pl.String).str.zfill(6))


def _resolve_communes(work: pl.DataFrame, communes: pl.DataFrame) -> pl.DataFrame:
    """Add the commune (COG code, else unique name within the département), its match status
    (null when the code was known) and the commune's département (``_a_departement_code``)."""
    known = communes.get_column("commune_insee").implode()
    work = work.with_columns(
        pl.coalesce(_w("departement_given"), _w("departement_postal")).alias(
            _w("departement_code")
        ),
        pl.when(pl.col(_w("commune_code")).is_in(known))
        .then(pl.col(_w("commune_code")))
        .otherwise(pl.lit(None, pl.String))
        .alias(_w("commune_insee")),
    )
    # only rows without a known code are matched by name
    code = work.get_column(_w("commune_insee"))
    by_name = code.is_null().arg_true()
    status = pl.Series(_w("commune_match"), [None] * work.height, dtype=pl.String)
    if by_name.len():
        commune_cols = [_w("commune_insee"), _w("commune_name"), _w("departement_code")]
        matched = match_commune_by_name(
            work.select(pl.col(c).gather(by_name) for c in commune_cols).lazy(),
            communes.lazy(),
            name_col=_w("commune_name"),
            departement_col=_w("departement_code"),
            insee_col=_w("commune_insee"),
            status_col=_w("commune_match"),
        ).collect()
        code = code.scatter(by_name, matched.get_column(_w("commune_insee")))
        status = status.scatter(by_name, matched.get_column(_w("commune_match")))
    departement = (
        code.alias("_code")
        .to_frame()
        .join(
            communes.select(
                pl.col("commune_insee").alias("_code"),
                pl.col("departement_code").alias("_a_departement_code"),
            ).unique(subset=["_code"], keep="first"),
            on="_code",
            how="left",
            maintain_order="left",
        )
        .get_column("_a_departement_code")
    )
    return work.with_columns(code.alias(_w("commune_insee")), status, departement)


def clean_fund_frame(
    raw: pl.DataFrame,
    mapping: ExtractMapping | str | Path | None,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    source_id: str = "fund_projects",
    source_file: str = "projects.csv",
    is_synthetic: bool = False,
    timings: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean an extract already read by :func:`read_raw_projects` (no I/O; for benchmarks).

    Returns ``(projects, quarantine)`` with the :data:`~analyse.schemas.PROJECTS` and
    :data:`~analyse.schemas.QUARANTINE` schemas. See :func:`clean_fund_projects`.
    """
    return _clean_fund(
        [raw],
        resolve_mapping(mapping),
        communes,
        commune_territories,
        source_id=source_id,
        source_file=source_file,
        is_synthetic=is_synthetic,
        timings=timings if timings is not None else {},
    )


def _clean_fund(
    holder: list[pl.DataFrame],
    mapping: ExtractMapping,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    source_id: str,
    source_file: str,
    is_synthetic: bool,
    timings: dict[str, float],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The fund cleaner. ``holder`` holds the raw frame, taken out so that it can be freed as
    soon as the failing rows have their raw values (bounded memory on millions of rows)."""
    clock = _Clock(timings)
    raw = holder.pop()
    headers = _resolve_headers(raw, mapping, source_file, mapping.skip_rows + 1)
    raw_columns = [c for c in raw.columns if c != ROW_COL]

    def column_label(field: str) -> str:
        return headers.get(field) or field

    # narrow frame of the raw text of each canonical field (columns are shared, not copied)
    inputs = raw.select(
        pl.col(ROW_COL), *(_input_column(raw, mapping, f, h) for f, h in headers.items())
    )
    work = _resolve_communes(_normalise_fields(inputs, mapping), communes)
    clock("normalise_s")
    commune_field = "commune_insee" if headers["commune_insee"] else "commune_name"
    rules = _fund_rules(column_label, column_label(commune_field))
    work, failed = _flag_rules(work, rules, 0)
    # duplicates among the rows that pass every other rule (the first such row is kept)
    work = pl.concat([work, _duplicate_columns(work, ~failed)], how="horizontal")
    work, dup_failed = _flag_rules(work, _duplicate_rules(column_label), len(rules))
    failed = failed | dup_failed
    quarantine = _quarantine_bad(
        work.filter(failed),
        [*rules, *_duplicate_rules(column_label)],
        attach=pl.concat([raw, inputs.drop(ROW_COL)], how="horizontal"),
        source_id=source_id,
        source_file=source_file,
        raw_columns=raw_columns,
    ).sort("source_row")
    del raw, inputs  # the raw text is no longer needed (unless the caller keeps it)
    kept = work.select(_KEPT).filter(~failed)
    del work
    clock("rules_s")
    kept = pl.concat(
        [kept, _attribution(kept.get_column(_w("commune_insee")), communes, commune_territories)],
        how="horizontal",
    )
    projects = conform(
        _project_columns(kept, source_id, source_file, is_synthetic), PROJECTS, name="projects"
    )
    clock("output_s")
    return projects, conform(quarantine, QUARANTINE, name="quarantine_projects")


#: Fields whose values repeat (dates, places, labels, job counts): read as ``Categorical``
#: from a UTF-8 CSV and normalised once per distinct value.
_REPEATED_FIELDS = (
    "decision_date", "sector", "firm_size", "commune_insee", "commune_name",
    "departement_code", "postal_code", "jobs_created", "jobs_maintained",
)  # fmt: skip


def _input_column(
    raw: pl.DataFrame, mapping: ExtractMapping, field: str, header: str | None
) -> pl.Expr:
    """The raw text of a canonical field: its column (text, or ``Categorical`` text as read),
    or the mapping's default."""
    if header is None:
        return pl.lit(mapping.defaults.get(field), pl.String).alias(_in(field))
    column = pl.col(header)
    if raw.schema[header] != pl.Categorical:
        column = column.cast(pl.String)
    return column.alias(_in(field))


class _Clock:
    """Records the seconds since the previous call under a name (timings for benchmarks)."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.start = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + now - self.start, 3)
        self.start = now


def _flag_rules(
    work: pl.DataFrame, rules: list[Rule], first: int
) -> tuple[pl.DataFrame, pl.Series]:
    """``work`` with one boolean column per rule (``_fail_<first + i>``) and the rows failing
    any of them."""
    flags = work.select(
        r.failed.fill_null(False).alias(f"_fail_{first + i}") for i, r in enumerate(rules)
    )
    failed = flags.select(pl.any_horizontal(pl.all())).to_series()
    return pl.concat([work, flags], how="horizontal"), failed


#: Working columns of the rows kept that the output needs.
_KEPT = [
    ROW_COL,
    *(_w(f) for f in ("project_id", "firm_name", "siren", "siret", "decision_date", "sector")),
    *(_w(f) for f in ("firm_size", *AMOUNT_FIELDS, *COUNT_FIELDS, "commune_insee")),
]


def _project_columns(
    kept: pl.DataFrame, source_id: str, source_file: str, is_synthetic: bool
) -> pl.DataFrame:
    """The core ``projects`` columns of the rows kept."""
    project_id = pl.col(_w("project_id"))
    if kept.get_column(_w("project_id")).null_count():  # ids generated only when needed
        project_id = pl.coalesce(project_id, _make_project_id(source_id))
    return kept.select(
        project_id.alias("project_id"),
        pl.col(_w("firm_name")).alias("firm_name"),
        pl.col(_w("siren")).alias("siren"),
        pl.col(_w("siret")).alias("siret"),
        pl.col(_w("decision_date")).alias("decision_date"),
        pl.col(_w("decision_date")).dt.year().cast(pl.Int16).alias("decision_year"),
        pl.col(_w("sector")).alias("sector"),
        pl.col(_w("firm_size")).alias("firm_size"),
        *(pl.col(_w(f)).alias(f) for f in ("aid_eur", "investment_eur")),
        *(pl.col(_w(f)).alias(f) for f in COUNT_FIELDS),
        *(pl.col(_w(f)).alias(f) for f in ("aid_paid_eur", "investment_realised_eur")),
        pl.col(_w("commune_insee")).alias("commune_insee"),
        pl.col("_a_epci_siren").alias("epci_siren"),
        pl.col("_a_departement_code").alias("departement_code"),
        pl.col("_a_region_code").alias("region_code"),
        pl.col("_a_ze2020_code").alias("ze2020_code"),
        pl.col("_a_ti_id_phase1").alias("ti_id_phase1"),
        pl.col("_a_ti_id_phase2").alias("ti_id_phase2"),
        pl.lit(source_file, pl.String).alias("source_file"),
        pl.col(ROW_COL).alias("source_row"),
        pl.lit(is_synthetic, pl.Boolean).alias("is_synthetic"),
    )


def _fund_rules(label: Callable[[str], str], commune_column: str) -> list[Rule]:
    """Quarantine rules of the fund extract, in priority order."""
    rules: list[Rule] = []
    raw_id = pl.col(_in("siren_or_siret"))
    rules.append(
        Rule(
            "invalid_siren",
            pl.col(_w("siren")).is_null(),
            label("siren_or_siret"),
            pl.when(pl.col(_miss("siren_or_siret")))
            .then(_missing_detail(raw_id))
            .otherwise(_identifier_detail(raw_id)),
        )
    )
    for field in ("aid_eur", "investment_eur"):
        rules.append(
            Rule("missing_amount", pl.col(_miss(field)), label(field), _missing_detail(_in(field)))
        )
    for fields, kind in ((AMOUNT_FIELDS, "amount"), (COUNT_FIELDS, "number")):
        for field in fields:
            rules.append(
                Rule(
                    f"unparsable_{kind}",
                    pl.col(_w(field)).is_null() & ~pl.col(_miss(field)),
                    label(field),
                    _quoted(pl.col(_in(field))),
                )
            )
    for fields, kind in ((AMOUNT_FIELDS, "amount"), (COUNT_FIELDS, "number")):
        for field in fields:
            rules.append(
                Rule(
                    f"negative_{kind}",
                    pl.col(_w(field)) < 0,
                    label(field),
                    _quoted(pl.col(_in(field))),
                )
            )
    return [*rules, *_date_size_rules(label), *_commune_rules(label, commune_column)]


def _date_size_rules(label: Callable[[str], str]) -> list[Rule]:
    """Rules on the decision date, aid against investment and the firm size."""
    rules: list[Rule] = []
    raw_date = pl.col(_in("decision_date"))
    rules.append(
        Rule(
            "missing_date",
            pl.col(_miss("decision_date")),
            label("decision_date"),
            _missing_detail(_in("decision_date")),
        )
    )
    rules.append(
        Rule(
            "unparsable_date",
            pl.col(_w("decision_date")).is_null(),
            label("decision_date"),
            _quoted(raw_date),
        )
    )
    rules.append(
        Rule(
            "aid_exceeds_investment",
            pl.col(_w("aid_eur")) > pl.col(_w("investment_eur")),
            label("aid_eur"),
            pl.format(
                "aid {} EUR > investment {} EUR",
                pl.col(_w("aid_eur")).round(2),
                pl.col(_w("investment_eur")).round(2),
            ),
        )
    )
    raw_size = pl.col(_in("firm_size"))
    rules.append(
        Rule(
            "invalid_firm_size",
            pl.col(_w("firm_size")).is_null() & ~pl.col(_miss("firm_size")),
            label("firm_size"),
            pl.concat_str(
                _quoted(raw_size),
                pl.lit(" is not TPE/PME/ETI/GE; recode it under firm_size_values in the mapping"),
            ),
        )
    )
    return rules


def _commune_rules(label: Callable[[str], str], commune_column: str) -> list[Rule]:
    """Rules on the commune (unique, known) and its département."""
    rules: list[Rule] = []
    status = pl.col(_w("commune_match"))
    rules.append(
        Rule(
            "ambiguous_commune",
            status == "ambiguous",
            label("commune_name"),
            pl.format(
                "several communes named '{}' in département {}",
                pl.col(_w("commune_name")),
                pl.col(_w("departement_code")),
            ),
        )
    )
    raw_code = pl.col(_in("commune_insee"))
    code_given = ~pl.col(_miss("commune_insee"))
    rules.append(
        Rule(
            "unknown_commune",
            pl.col(_w("commune_insee")).is_null(),
            commune_column,
            pl.concat_str(
                pl.when(code_given & pl.col(_w("commune_code")).is_null())
                .then(pl.concat_str(pl.lit("invalid commune code "), _quoted(raw_code)))
                .when(code_given)
                .then(
                    pl.concat_str(
                        pl.lit("commune code "),
                        _quoted(pl.col(_w("commune_code"))),
                        pl.lit(" not in the COG communes"),
                    )
                )
                .otherwise(pl.lit("no commune code")),
                pl.when(status == "unmatched")
                .then(
                    pl.format(
                        "; no commune named '{}' in département {}",
                        pl.col(_w("commune_name")),
                        pl.col(_w("departement_code")),
                    )
                )
                .otherwise(pl.lit("; no commune name with a département to match on")),
            ),
        )
    )
    rules.append(
        Rule(
            "commune_departement_mismatch",
            pl.col(_w("departement_given")).is_not_null()
            & (pl.col(_w("departement_given")) != pl.col("_a_departement_code")),
            label("departement_code"),
            pl.format(
                "département {} given, but commune {} is in département {}",
                pl.col(_w("departement_given")),
                pl.col(_w("commune_insee")),
                pl.col("_a_departement_code"),
            ),
        )
    )
    return rules


def _shared_positions(values: np.ndarray) -> np.ndarray:
    """Positions of the values that occur more than once (a sort: little memory, unlike a hash
    table over millions of rows)."""
    order = np.argsort(values)
    ordered = values[order]
    equal = ordered[1:] == ordered[:-1]
    shared = np.zeros(len(values), dtype=bool)
    shared[1:] |= equal
    shared[:-1] |= equal
    return np.sort(order[shared])


def _first_rows(
    df: pl.DataFrame, columns: dict[str, pl.Expr], key: list[str], among: pl.Series
) -> pl.Series:
    """For each row of ``df`` (in file order) where ``among`` is true, the ``_row`` of the first
    such row with the same values of ``columns`` (name -> expression of the row; nulls equal);
    null elsewhere.

    Exact and cheap: rows are hashed on ``key`` (a few mostly-unique columns that ``columns``
    include); a row whose key hash no other row shares has no equal row and is its own first
    row. The rows that share a hash, usually few, are then compared on every column by the
    window function.
    """
    combined = pl.col(key[0]).hash(seed=0)
    for seed, column in enumerate(key[1:], start=1):
        combined = combined ^ pl.col(column).hash(seed=seed)
    rows = among.arg_true()
    hashes = df.select(combined.gather(rows)).to_series().to_numpy()
    own = df.select(pl.when(among).then(pl.col(ROW_COL))).to_series()
    idx = rows.gather(_shared_positions(hashes))
    if idx.len() == 0:
        return own
    sub = df.select(pl.all().gather(idx)).select(
        pl.col(ROW_COL), *(e.alias(n) for n, e in columns.items())
    )
    first = sub.select(pl.col(ROW_COL).min().over(list(columns))).to_series()
    return own.scatter(idx, first)


#: Columns that make two projects the same (normalised values; the firm name compared in
#: upper case) and the mostly-unique ones hashed first (see _first_rows).
_CONTENT = (
    "project_id", "siren", "siret", "firm_key", "decision_date", *AMOUNT_FIELDS, *COUNT_FIELDS,
    "commune_insee", "sector", "firm_size",
)  # fmt: skip
_CONTENT_KEY = ("siren", "aid_eur", "investment_eur")


def _duplicate_columns(df: pl.DataFrame, among: pl.Series) -> pl.DataFrame:
    """``_dup_first`` (first row with the same content) and ``_id_first`` (same project_id)
    for the rows ``among`` (those passing every other rule; null elsewhere)."""
    content = {_w(c): pl.col(_w(c)) for c in _CONTENT}
    content[_w("firm_key")] = pl.col(_w("firm_name")).str.to_uppercase()
    project_id = _w("project_id")
    return pl.DataFrame(
        [
            _first_rows(df, content, [_w(c) for c in _CONTENT_KEY], among).alias("_dup_first"),
            _first_rows(df, {project_id: pl.col(project_id)}, [project_id], among).alias(
                "_id_first"
            ),
        ]
    )


def _duplicate_rules(label: Callable[[str], str]) -> list[Rule]:
    """Duplicate projects among rows that passed every other rule (the first row is kept)."""
    exact = pl.col(ROW_COL) != pl.col("_dup_first")
    conflict = (
        pl.col(_w("project_id")).is_not_null() & (pl.col(ROW_COL) != pl.col("_id_first")) & ~exact
    )
    return [
        Rule(
            "duplicate_project",
            exact,
            None,
            pl.format("exact duplicate of row {}", pl.col("_dup_first")),
        ),
        Rule(
            "duplicate_project",
            conflict,
            label("project_id"),
            pl.format(
                "project_id '{}' already used by row {} with different content",
                pl.col(_w("project_id")),
                pl.col("_id_first"),
            ),
        ),
    ]


def clean_fund_projects(
    path: str | Path,
    mapping: ExtractMapping | str | Path | None,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    source_id: str = "fund_projects",
    is_synthetic: bool = False,
    timings: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean the acceleration fund's per-project extract into ``(projects, quarantine)``.

    ``mapping`` is an :class:`ExtractMapping`, the path of its YAML file, or None for a
    canonical CSV. ``communes`` has :data:`~analyse.schemas.COMMUNES`, ``commune_territories``
    :data:`~analyse.schemas.COMMUNE_TERRITORIES`. Steps: read every cell as text
    (:func:`read_raw_projects`), check the mapped headers, normalise (SIREN/SIRET, amounts in
    the declared units, dates, codes), resolve the commune (COG code, else name within the
    département), quarantine rows by :data:`FUND_REASONS` (first failing rule), drop later
    duplicates, then attribute each project to EPCI, département, région, zone d'emploi and
    territory of each phase (``ti_id_phase1``/``ti_id_phase2``: null = outside TI).

    ``project_id`` is the file's when mapped and filled, else ``"<source_id>-<row:06d>"``.
    ``source_file`` is the file name (``name#sheet`` for xlsx). Row accounting:
    ``len(read_raw_projects(path, mapping)) == len(projects) + len(quarantine)``; ``timings``
    (optional dict) receives ``rows_in`` and the seconds of each step (``read_s``,
    ``normalise_s``, ``rules_s``, ``output_s``).
    """
    path = Path(path)
    mapping = resolve_mapping(mapping)
    timings = timings if timings is not None else {}
    start = time.perf_counter()
    raw = read_raw_projects(path, mapping, categorical_fields=_REPEATED_FIELDS)
    timings["read_s"] = round(time.perf_counter() - start, 3)
    timings["rows_in"] = raw.height
    sheet = mapping.sheet if mapping.format == "xlsx" else None
    _resolve_headers(raw, mapping, path, mapping.skip_rows + 1, sheet)  # errors name the path
    holder = [raw]
    del raw  # the cleaner frees it once the failing rows have their raw values
    return _clean_fund(
        holder,
        mapping,
        communes,
        commune_territories,
        source_id=source_id,
        source_file=_source_label(path, mapping),
        is_synthetic=is_synthetic,
        timings=timings,
    )


# --------------------------------------------------------------------------------------------
# MEF plan-de-relance list
# --------------------------------------------------------------------------------------------


def _relance_rules(raw_columns: list[str]) -> list[Rule]:
    """Quarantine rules of the MEF list, in priority order (:data:`RELANCE_REASONS`)."""
    col = pl.col
    raw_id = col("siren")
    first_copy = col(ROW_COL).min().over(raw_columns)
    return [
        Rule(
            "unidentified_firm",
            col(_w("siren")).is_null() & col(_w("firm_name")).is_null(),
            "siren",
            pl.concat_str(pl.lit("no firm name and siren "), _quoted(raw_id)),
        ),
        Rule(
            "invalid_siren",
            col(_w("siren")).is_null() & ~is_missing_value(raw_id),
            "siren",
            _identifier_detail(raw_id),
        ),
        Rule(
            "unknown_departement",
            col("_dep_region").is_null(),
            "code_departement",
            pl.format(
                "code_departement '{}', code_postal '{}'",
                col("code_departement").fill_null(""),
                col("code_postal").fill_null(""),
            ),
        ),
        Rule(
            "duplicate_project",
            col(ROW_COL) != first_copy,
            None,
            pl.format("exact duplicate of row {}", first_copy),
        ),
    ]


def _sniff_separator(path: Path) -> str:
    with path.open("rb") as handle:
        first = handle.readline()
    return ";" if first.count(b";") >= first.count(b",") else ","


def clean_relance_projects(
    path: str | Path,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    source_id: str = "mef_plan_de_relance",
    is_synthetic: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean the public MEF ``plan-de-relance`` project list into ``(relance_projects, quarantine)``.

    The export is UTF-8, ``;``-separated (``,`` is detected too), with the
    :data:`RELANCE_COLUMNS`. Rules:

    * ``siren`` holds a SIREN or a SIRET (sometimes with ``.0``): both are extracted and must
      pass the checksum (a SIRET whose first nine digits are a valid SIREN gives that SIREN and
      a null SIRET). A row with no identifier **and** no firm name is quarantined
      (``unidentified_firm``); one whose identifier is given but invalid too (``invalid_siren``,
      the raw value in the detail); a blank identifier with a firm name is kept;
    * the département comes from ``code_departement`` (``"971.0"``, ``"1.0"`` normalised), or
      from ``code_postal`` when that code is empty or invalid (e.g. ``"20"``); a row whose
      département is not a COG département is quarantined (``unknown_departement``);
    * the commune is matched by name within the département; unmatched or ambiguous names keep
      the row with null ``commune_insee`` (and null EPCI / territories); the région then comes
      from the département;
    * ``coordonnees_gps`` ``"lat, lon"`` gives latitude/longitude (null when unparsable or out
      of range); ``mise_a_jour`` a date; the CO2 column a number (null when unparsable);
      HTML entities (``&amp;``, ``&#39;``, ``&eacute;``...) in every text field are decoded;
    * a line that repeats an earlier line exactly is quarantined (``duplicate_project``, the
      detail names the earlier line).

    ``project_id`` is ``"<source_id>-<line:06d>"`` (the list has no identifier).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "the MEF plan-de-relance CSV", found="no such file")
    raw = _read_csv(path, encoding="utf-8", separator=_sniff_separator(path), skip_rows=0)
    found = [c for c in raw.columns if c != ROW_COL]
    needed = [c for c in RELANCE_COLUMNS if c != "nom_region" and c != "nom_departement"]
    missing = [c for c in needed if c not in found]
    if missing:
        raise InputFileError(
            path,
            f"columns {list(RELANCE_COLUMNS)}",
            row=1,
            column=missing[0],
            found=f"headers {found}",
        )
    df = _relance_working_frame(raw, communes, commune_territories)
    kept, quarantine = partition(
        df,
        _relance_rules(found),
        source_id=source_id,
        source_file=path.name,
        raw_columns=found,
    )
    projects = _relance_output(kept, source_id, path.name, is_synthetic)
    return conform(projects, RELANCE_PROJECTS, name="relance_projects"), conform(
        quarantine, QUARANTINE, name="quarantine_relance_projects"
    )


def _relance_working_frame(
    raw: pl.DataFrame, communes: pl.DataFrame, commune_territories: pl.DataFrame
) -> pl.DataFrame:
    """The MEF list with its normalised columns, commune (by name within the département),
    attribution and the département's région (``_dep_region``)."""
    col = pl.col
    gps = col("coordonnees_gps").str.extract_groups(
        r"^\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*[,;]\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*$"
    )
    lat = gps.struct.field("1").str.replace(",", ".").cast(pl.Float64, strict=False)
    lon = gps.struct.field("2").str.replace(",", ".").cast(pl.Float64, strict=False)
    on_earth = lat.is_between(-90, 90) & lon.is_between(-180, 180)
    code = normalise_departement_code(col("code_departement"))
    lf = raw.lazy().with_columns(
        _text(col("entreprise")).alias(_w("firm_name")),
        extract_siren(col("siren")).alias(_w("siren")),
        extract_siret(col("siren")).alias(_w("siret")),
        pl.coalesce(code, departement_from_postal_code(col("code_postal"))).alias(
            _w("departement_code")
        ),
        _text(col("nom_commune")).alias(_w("commune_name")),
        pl.when(on_earth).then(lat).alias(_w("lat")),
        pl.when(on_earth).then(lon).alias(_w("lon")),
    )
    df = match_commune_by_name(
        lf,
        communes.lazy(),
        name_col=_w("commune_name"),
        departement_col=_w("departement_code"),
        insee_col=_w("commune_insee"),
        status_col=_w("commune_match"),
    ).collect()
    df = pl.concat(
        [df, _attribution(df.get_column(_w("commune_insee")), communes, commune_territories)],
        how="horizontal",
    )
    dep_region = (
        communes.select("departement_code", "region_code")
        .unique(subset=["departement_code"], keep="first")
        .rename({"departement_code": _w("departement_code"), "region_code": "_dep_region"})
    )
    return df.join(dep_region, on=_w("departement_code"), how="left", maintain_order="left")


def _relance_output(
    kept: pl.DataFrame, source_id: str, source_file: str, is_synthetic: bool
) -> pl.DataFrame:
    """The core ``relance_projects`` columns of the lines kept."""
    col = pl.col
    return kept.select(
        _make_project_id(source_id).alias("project_id"),
        col(_w("firm_name")).alias("firm_name"),
        _text(col("type_entreprise")).alias("firm_type"),
        col(_w("siren")).alias("siren"),
        col(_w("siret")).alias("siret"),
        _text(col("volet_relance")).alias("volet"),
        _text(col("mesure")).alias("measure"),
        _text(col("mesure_light")).alias("measure_short"),
        _text(col("filiere")).alias("sector"),
        _text(col("description_projet")).alias("description"),
        parse_date(col("mise_a_jour")).alias("updated_on"),
        parse_number(
            col("tonnes_equivalent_co2_pour_les_projets_decarbonation"),
            decimal=".",
            thousands=" ",
        ).alias("co2_t"),
        normalise_postal_code(col("code_postal")).alias("postal_code"),
        col(_w("lat")).alias("latitude"),
        col(_w("lon")).alias("longitude"),
        col(_w("commune_insee")).alias("commune_insee"),
        col("_a_epci_siren").alias("epci_siren"),
        col(_w("departement_code")).alias("departement_code"),
        pl.coalesce(col("_a_region_code"), col("_dep_region")).alias("region_code"),
        col("_a_ti_id_phase1").alias("ti_id_phase1"),
        col("_a_ti_id_phase2").alias("ti_id_phase2"),
        pl.lit(source_file, pl.String).alias("source_file"),
        col(ROW_COL).alias("source_row"),
        pl.lit(is_synthetic, pl.Boolean).alias("is_synthetic"),
    )
