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
from collections.abc import Callable
from pathlib import Path

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
    parse_amount,
    parse_date,
    parse_number,
)
from analyse.quarantine import ROW_COL, Rule, partition
from analyse.schemas import PROJECTS, QUARANTINE, RELANCE_PROJECTS, conform

#: Quarantine reasons of :func:`clean_fund_projects` (first failing rule of a row wins).
FUND_REASONS: dict[str, str] = {
    "invalid_siren": "siren_or_siret empty, not 9/14 digits, scientific notation or bad checksum",
    "missing_amount": "aid_eur or investment_eur empty",
    "unparsable_amount": "an amount column holds text that is not a number (raw value in detail)",
    "unparsable_number": "a jobs column holds text that is not a number (raw value in detail)",
    "negative_amount": "an amount is negative",
    "negative_number": "a jobs count is negative",
    "missing_date": "decision_date empty",
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


def _strip_headers(df: pl.DataFrame) -> pl.DataFrame:
    """Strip spaces (incl. non-breaking) around headers, when that creates no duplicate."""
    stripped = [re.sub(r"^[\s\u00a0\u202f]+|[\s\u00a0\u202f]+$", "", c) for c in df.columns]
    if len(set(stripped)) == len(stripped):
        df.columns = stripped
    return df


def _drop_blank_rows(df: pl.DataFrame) -> pl.DataFrame:
    values = [c for c in df.columns if c != ROW_COL]
    if not values:
        return df
    # blank lines and empty spreadsheet rows come as all-null rows (empty cells are null)
    return df.filter(~pl.all_horizontal(pl.col(values).is_null()))


def _read_csv(path: Path, *, encoding: str, separator: str, skip_rows: int) -> pl.DataFrame:
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
            io.BytesIO(payload),
            separator=separator,
            has_header=True,
            skip_lines=skip_rows,
            infer_schema=False,
            quote_char='"',
            truncate_ragged_lines=False,
            raise_if_empty=True,
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
    df = _strip_headers(df)
    header_line = skip_rows + 1
    df = df.with_row_index(ROW_COL).with_columns(
        (pl.col(ROW_COL).cast(pl.Int64) + header_line + 1).alias(ROW_COL)
    )
    n_lines = payload.count(b"\n") + (0 if payload.endswith(b"\n") else 1)
    if n_lines != header_line + df.height and df.width > 1:
        # quoted values spanning several lines: shift the following rows' line numbers
        values = [c for c in df.columns if c != ROW_COL]
        inner = pl.sum_horizontal(
            pl.col(values).str.count_matches("\n", literal=True).fill_null(0)
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
    path: str | Path, mapping: ExtractMapping | str | Path | None = None
) -> pl.DataFrame:
    """Read an operator extract as written: every cell as text, plus ``_row``.

    ``_row`` is the 1-based line (CSV) or spreadsheet row (xlsx) as a person sees it, header
    and skipped rows counted. Entirely blank rows are dropped. Headers are stripped of spaces.
    Raises :class:`InputFileError` for a missing file, a wrong encoding (naming the line of the
    first undecodable byte), a missing sheet (naming the sheets present) or a row with more
    fields than the header.
    """
    path = Path(path)
    mapping = resolve_mapping(mapping)
    if not path.is_file():
        raise InputFileError(path, "an operator extract file", found="no such file")
    if mapping.format == "xlsx":
        return _read_xlsx(
            path, sheet=mapping.sheet, skip_rows=mapping.skip_rows, decimal=mapping.decimal
        )
    return _read_csv(
        path, encoding=mapping.encoding, separator=mapping.delimiter, skip_rows=mapping.skip_rows
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
    """Trimmed text, blank -> null."""
    s = expr.cast(pl.String).str.replace_all(r"[\u00a0\u202f]", " ").str.strip_chars()
    return s.str.extract(r"(?s)^(.+)$", 1)


def _quoted(expr: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), expr.fill_null(""), pl.lit("'"))


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


#: Below this many rows, values are always normalised per distinct value (see _map_distinct).
_DISTINCT_MIN_ROWS = 10_000


def _map_distinct(df: pl.DataFrame, column: str, exprs: dict[str, pl.Expr]) -> pl.DataFrame:
    """Columns ``exprs`` (functions of ``column`` only), computed once per distinct value.

    For columns with few distinct values (dates, codes, labels, jobs) this replaces millions of
    string operations by a few thousand and one narrow join. When most values are distinct
    (amounts, identifiers) the expressions are applied directly. Returns only the new columns,
    in the row order of ``df``.
    """
    keys = df.select(column)
    if df.height > _DISTINCT_MIN_ROWS and keys.get_column(column).n_unique() > df.height // 4:
        return keys.select(e.alias(n) for n, e in exprs.items())
    distinct = keys.unique().with_columns(e.alias(n) for n, e in exprs.items())
    return keys.join(distinct, on=column, how="left", nulls_equal=True, maintain_order="left").drop(
        column
    )


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


def _quarantine_rows(
    df: pl.DataFrame,
    rules: list[Rule],
    *,
    attach: pl.DataFrame,
    source_id: str,
    source_file: str,
    raw_columns: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`analyse.quarantine.partition`, with details built for failing rows only.

    Every rule's condition is evaluated once on all rows of the (narrow) working frame; the
    failing rows, usually few, then get the raw columns back from ``attach`` (by ``_row``) for
    their details and raw JSON.
    """
    flags = [f"_fail_{i}" for i in range(len(rules))]
    flagged = df.with_columns(
        *(r.failed.fill_null(False).alias(f) for r, f in zip(rules, flags, strict=True))
    ).with_columns(pl.any_horizontal(flags).alias("_fail_any"))
    good = flagged.filter(~pl.col("_fail_any")).drop(*flags, "_fail_any")
    bad = flagged.filter(pl.col("_fail_any"))
    extra = attach.filter(pl.col(ROW_COL).is_in(bad.get_column(ROW_COL).implode()))
    bad = bad.join(extra, on=ROW_COL, how="left", maintain_order="left")
    local = [
        Rule(r.reason, pl.col(f), r.column, r.detail) for r, f in zip(rules, flags, strict=True)
    ]
    not_failed, quarantined = partition(
        bad, local, source_id=source_id, source_file=source_file, raw_columns=raw_columns
    )
    assert not_failed.height == 0
    return good, quarantined


def _make_project_id(source_id: str) -> pl.Expr:
    return pl.concat_str(pl.lit(f"{source_id}-"), pl.col(ROW_COL).cast(pl.String).str.zfill(6))


def clean_fund_frame(
    raw: pl.DataFrame,
    mapping: ExtractMapping | str | Path | None,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    source_id: str = "fund_projects",
    source_file: str = "projects.csv",
    is_synthetic: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean an extract already read by :func:`read_raw_projects` (no I/O; for benchmarks).

    Returns ``(projects, quarantine)`` with the :data:`~analyse.schemas.PROJECTS` and
    :data:`~analyse.schemas.QUARANTINE` schemas. See :func:`clean_fund_projects`.
    """
    mapping = resolve_mapping(mapping)
    header_row = mapping.skip_rows + 1
    headers = _resolve_headers(raw, mapping, source_file, header_row)
    raw_columns = [c for c in raw.columns if c != ROW_COL]

    def column_label(field: str) -> str:
        return headers.get(field) or field

    # narrow frame of the raw text of each canonical field (columns are shared, not copied)
    inputs = raw.select(
        pl.col(ROW_COL),
        *(
            (pl.col(h) if h else pl.lit(mapping.defaults.get(f), pl.String))
            .cast(pl.String)
            .alias(_in(f))
            for f, h in headers.items()
        ),
    )
    # normalise each distinct value once where values repeat (see _map_distinct)
    firm_sizes = dict(mapping.firm_size_values)
    repeated: dict[str, dict[str, pl.Expr]] = {
        "commune_insee": {
            _w("commune_code"): normalise_commune_insee(pl.col(_in("commune_insee"))),
            _miss("commune_insee"): is_missing_value(pl.col(_in("commune_insee"))),
        },
        "departement_code": {
            _w("departement_given"): normalise_departement_code(pl.col(_in("departement_code")))
        },
        "postal_code": {
            _w("departement_postal"): departement_from_postal_code(pl.col(_in("postal_code")))
        },
        "decision_date": {
            _w("decision_date"): parse_date(pl.col(_in("decision_date")), mapping.date_formats),
            _miss("decision_date"): is_missing_value(pl.col(_in("decision_date"))),
        },
        "sector": {_w("sector"): _text(pl.col(_in("sector")))},
        "firm_size": {
            _w("firm_size"): _firm_size(pl.col(_in("firm_size")), firm_sizes),
            _miss("firm_size"): is_missing_value(pl.col(_in("firm_size"))),
        },
    }
    raw_id = pl.col(_in("siren_or_siret"))
    repeated["siren_or_siret"] = {
        _w("siren"): extract_siren(raw_id),
        _w("siret"): extract_siret(raw_id),
        _miss("siren_or_siret"): is_missing_value(raw_id),
    }
    for f in AMOUNT_FIELDS:
        repeated[f] = {
            _w(f): parse_amount(
                pl.col(_in(f)),
                unit=mapping.unit(f),
                decimal=mapping.decimal,
                thousands=mapping.thousands,
            ),
            _miss(f): is_missing_value(pl.col(_in(f))),
        }
    for f in COUNT_FIELDS:
        repeated[f] = {
            _w(f): parse_number(
                pl.col(_in(f)), decimal=mapping.decimal, thousands=mapping.thousands
            ),
            _miss(f): is_missing_value(pl.col(_in(f))),
        }
    work = pl.concat(
        [inputs, *(_map_distinct(inputs, _in(f), e) for f, e in repeated.items())],
        how="horizontal",
    )
    known = communes.get_column("commune_insee").implode()
    work = work.with_columns(
        _text(pl.col(_in("project_id"))).alias(_w("project_id")),
        _text(pl.col(_in("firm_name"))).alias(_w("firm_name")),
        _text(pl.col(_in("commune_name"))).alias(_w("commune_name")),
        pl.coalesce(_w("departement_given"), _w("departement_postal")).alias(
            _w("departement_code")
        ),
        pl.when(pl.col(_w("commune_code")).is_in(known))
        .then(pl.col(_w("commune_code")))
        .otherwise(pl.lit(None, pl.String))
        .alias(_w("commune_insee")),
    ).drop([_in(f) for f in CANONICAL_FIELDS])
    commune_cols = [_w("commune_insee"), _w("commune_name"), _w("departement_code")]
    matched = match_commune_by_name(
        work.select(commune_cols).lazy(),
        communes.lazy(),
        name_col=_w("commune_name"),
        departement_col=_w("departement_code"),
        insee_col=_w("commune_insee"),
        status_col=_w("commune_match"),
    ).collect()
    work = work.with_columns(matched.get_column(_w("commune_insee")))
    work = pl.concat(
        [
            work,
            matched.select(_w("commune_match")),
            _attribution(work.get_column(_w("commune_insee")), communes, commune_territories),
        ],
        how="horizontal",
    )

    attach = pl.concat([raw, inputs.drop(ROW_COL)], how="horizontal")
    commune_field = "commune_insee" if headers["commune_insee"] else "commune_name"
    kept, quarantined = _quarantine_rows(
        work,
        _fund_rules(column_label, column_label(commune_field)),
        attach=attach,
        source_id=source_id,
        source_file=source_file,
        raw_columns=raw_columns,
    )
    kept, duplicates = _quarantine_rows(
        _mark_duplicates(kept),
        _duplicate_rules(column_label),
        attach=attach,
        source_id=source_id,
        source_file=source_file,
        raw_columns=raw_columns,
    )
    quarantine = pl.concat([quarantined, duplicates]).sort("source_row")

    projects = kept.select(
        pl.coalesce(pl.col(_w("project_id")), _make_project_id(source_id)).alias("project_id"),
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
    return conform(projects, PROJECTS, name="projects"), conform(
        quarantine, QUARANTINE, name="quarantine_projects"
    )


def _fund_rules(label: Callable[[str], str], commune_column: str) -> list[Rule]:
    """Quarantine rules of the fund extract, in priority order."""
    rules: list[Rule] = []
    raw_id = pl.col(_in("siren_or_siret"))
    id_missing = pl.col(_miss("siren_or_siret"))
    scientific = raw_id.str.contains(r"(?i)^[0-9.,]+e[+-]?[0-9]+$").fill_null(False)
    rules.append(
        Rule(
            "invalid_siren",
            pl.col(_w("siren")).is_null(),
            label("siren_or_siret"),
            pl.when(id_missing)
            .then(pl.lit("empty"))
            .when(scientific)
            .then(pl.concat_str(_quoted(raw_id), pl.lit(": scientific notation, digits lost")))
            .otherwise(
                pl.concat_str(_quoted(raw_id), pl.lit(": not a SIREN/SIRET with a valid checksum"))
            ),
        )
    )
    for field in ("aid_eur", "investment_eur"):
        rules.append(
            Rule(
                "missing_amount",
                pl.col(_miss(field)),
                label(field),
                pl.lit("empty"),
            )
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
    raw_date = pl.col(_in("decision_date"))
    rules.append(
        Rule(
            "missing_date", pl.col(_miss("decision_date")), label("decision_date"), pl.lit("empty")
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


def _mark_duplicates(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``_dup_first`` (first row with the same content) and ``_id_first`` (same project_id).

    Computed on all candidate rows before the split into good and bad rows, since they are
    window functions over the whole frame.
    """
    content = [
        _w("project_id"),
        _w("siren"),
        _w("siret"),
        _w("firm_key"),
        _w("decision_date"),
        *(_w(f) for f in (*AMOUNT_FIELDS, *COUNT_FIELDS)),
        _w("commune_insee"),
        _w("sector"),
        _w("firm_size"),
    ]
    return df.with_columns(
        pl.col(_w("firm_name")).str.to_uppercase().alias(_w("firm_key"))
    ).with_columns(
        pl.col(ROW_COL).min().over(content).alias("_dup_first"),
        pl.col(ROW_COL).min().over(_w("project_id")).alias("_id_first"),
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
    ``len(read_raw_projects(path, mapping)) == len(projects) + len(quarantine)``.
    """
    path = Path(path)
    mapping = resolve_mapping(mapping)
    raw = read_raw_projects(path, mapping)
    sheet = mapping.sheet if mapping.format == "xlsx" else None
    _resolve_headers(raw, mapping, path, mapping.skip_rows + 1, sheet)  # errors name the path
    return clean_fund_frame(
        raw,
        mapping,
        communes,
        commune_territories,
        source_id=source_id,
        source_file=_source_label(path, mapping),
        is_synthetic=is_synthetic,
    )


# --------------------------------------------------------------------------------------------
# MEF plan-de-relance list
# --------------------------------------------------------------------------------------------

_HTML_ENTITIES: tuple[tuple[str, str], ...] = (
    ("&quot;", '"'),
    ("&#39;", "'"),
    ("&#039;", "'"),
    ("&apos;", "'"),
    ("&rsquo;", "’"),
    ("&nbsp;", " "),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&amp;", "&"),  # last, so that "&amp;lt;" gives "&lt;"
)


def _unescape_html(expr: pl.Expr) -> pl.Expr:
    for entity, char in _HTML_ENTITIES:
        expr = expr.str.replace_all(entity, char, literal=True)
    return expr


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
      pass the checksum, else null. A row is quarantined (``unidentified_firm``) only when it has
      no valid identifier **and** no firm name;
    * the département comes from ``code_departement`` (``"971.0"``, ``"1.0"`` normalised), or
      from ``code_postal`` when that code is empty or invalid (e.g. ``"20"``); a row whose
      département is not a COG département is quarantined (``unknown_departement``);
    * the commune is matched by name within the département; unmatched or ambiguous names keep
      the row with null ``commune_insee`` (and null EPCI / territories); the région then comes
      from the département;
    * ``coordonnees_gps`` ``"lat, lon"`` gives latitude/longitude (null when unparsable or out
      of range); ``mise_a_jour`` a date; the CO2 column a number (null when unparsable);
      HTML entities (``&amp;``...) in text are decoded.

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
    raw_columns = found
    source_file = path.name
    col = pl.col

    gps = col("coordonnees_gps").str.extract_groups(
        r"^\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*[,;]\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*$"
    )
    lat = gps.struct.field("1").str.replace(",", ".").cast(pl.Float64, strict=False)
    lon = gps.struct.field("2").str.replace(",", ".").cast(pl.Float64, strict=False)
    code = normalise_departement_code(col("code_departement"))
    lf = raw.lazy().with_columns(
        _text(col("entreprise")).alias(_w("firm_name")),
        extract_siren(col("siren")).alias(_w("siren")),
        extract_siret(col("siren")).alias(_w("siret")),
        pl.coalesce(code, departement_from_postal_code(col("code_postal"))).alias(
            _w("departement_code")
        ),
        _text(col("nom_commune")).alias(_w("commune_name")),
        pl.when(lat.is_between(-90, 90) & lon.is_between(-180, 180)).then(lat).alias(_w("lat")),
        pl.when(lat.is_between(-90, 90) & lon.is_between(-180, 180)).then(lon).alias(_w("lon")),
    )
    lf = match_commune_by_name(
        lf,
        communes.lazy(),
        name_col=_w("commune_name"),
        departement_col=_w("departement_code"),
        insee_col=_w("commune_insee"),
        status_col=_w("commune_match"),
    )
    df = lf.collect()
    df = pl.concat(
        [df, _attribution(df.get_column(_w("commune_insee")), communes, commune_territories)],
        how="horizontal",
    )
    dep_region = (
        communes.select("departement_code", "region_code")
        .unique(subset=["departement_code"], keep="first")
        .rename({"departement_code": _w("departement_code"), "region_code": "_dep_region"})
    )
    df = df.join(dep_region, on=_w("departement_code"), how="left", maintain_order="left")

    rules = [
        Rule(
            "unidentified_firm",
            col(_w("siren")).is_null() & col(_w("firm_name")).is_null(),
            "siren",
            pl.concat_str(pl.lit("no firm name and siren "), _quoted(col("siren"))),
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
    ]
    kept, quarantine = partition(
        df, rules, source_id=source_id, source_file=source_file, raw_columns=raw_columns
    )
    projects = kept.select(
        _make_project_id(source_id).alias("project_id"),
        col(_w("firm_name")).alias("firm_name"),
        _text(col("type_entreprise")).alias("firm_type"),
        col(_w("siren")).alias("siren"),
        col(_w("siret")).alias("siret"),
        _text(col("volet_relance")).alias("volet"),
        _text(col("mesure")).alias("measure"),
        _text(col("mesure_light")).alias("measure_short"),
        _text(col("filiere")).alias("sector"),
        _unescape_html(_text(col("description_projet"))).alias("description"),
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
    return conform(projects, RELANCE_PROJECTS, name="relance_projects"), conform(
        quarantine, QUARANTINE, name="quarantine_relance_projects"
    )
