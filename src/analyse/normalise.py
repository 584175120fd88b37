"""Pure Polars expressions that normalise what French public and operator files contain.

Nothing here reads or writes files. Every function takes and returns ``pl.Expr`` (or, for
:func:`match_commune_by_name`, ``LazyFrame``) so that cleaning stays vectorised: no Python loop
over rows. Functions return ``null`` when a value cannot be normalised; the caller decides whether
that sends the row to quarantine (with the raw value) or is acceptable.

Codes stay strings: ``"01"`` and ``"2A"`` are département codes, not numbers.

Conventions on French data handled here:

* float artefacts from spreadsheets: ``"971.0"``, ``"1.0"``, ``"552100554.0"``; leading zeros
  lost by numeric cells (``"1001"`` for commune ``01001``);
* scientific notation (``"3.56E+13"``): precision is lost, so identifiers in that form are
  invalid (``null``), whereas an amount in that form is a valid number;
* spaces as thousands separators, including non-breaking (U+00A0) and narrow non-breaking
  (U+202F) spaces; decimal commas; units written in the cell (``"12 k€"``);
* day-first dates (``"23/03/2021"``), Excel serial day numbers (``"44278"``) and ISO datetimes;
* HTML entities left by web exports (``"&amp;"``, ``"&#39;"``, ``"&eacute;"``): :func:`unescape_html`.

Performance: each function evaluates its input expression once (intermediate values are bound
as struct fields, see ``_let``), so the functions compose without the expression tree, and the
work, growing with every nesting. On a million rows each costs from a tenth of a second (codes)
to about a second (amounts) per core. Columns that are mostly unique (identifiers, amounts) have
a *fast path* (``plain_*`` tests and ``*_of_plain`` expressions): a cheap test picks the cells
written plainly (``"104 261,5"``, ``"55210055400013"``), for which a cheap expression gives
exactly what the full normaliser gives; only the other cells need the full one (see
:func:`analyse.clean.projects.clean_fund_frame`).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import polars as pl

__all__ = [
    "DEFAULT_DATE_FORMATS",
    "LA_POSTE_SIREN",
    "MISSING_MARKERS",
    "UNIT_FACTORS",
    "AmountUnit",
    "clean_digits",
    "departement_from_postal_code",
    "extract_siren",
    "extract_siret",
    "is_missing_value",
    "is_valid_luhn",
    "is_valid_siren",
    "is_valid_siret",
    "match_commune_by_name",
    "normalise_commune_insee",
    "normalise_departement_code",
    "normalise_epci_siren",
    "normalise_insee_code",
    "normalise_name",
    "normalise_postal_code",
    "normalise_region_code",
    "normalise_text",
    "parse_amount",
    "parse_date",
    "parse_number",
    "plain_identifier",
    "plain_number",
    "plain_text",
    "siren_of_plain",
    "siret_of_plain",
    "number_of_plain",
    "unescape_html",
]

AmountUnit = Literal["EUR", "kEUR", "MEUR"]

#: Multiplier from a column unit to euros.
UNIT_FACTORS: dict[str, float] = {"EUR": 1.0, "kEUR": 1e3, "MEUR": 1e6}

#: Date formats tried in order by :func:`parse_date` (day first: French files).
DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d/%m/%y",
    "%d.%m.%Y",
)

#: Cell values that mean "no value" rather than "unparsable value" (compared upper-cased).
MISSING_MARKERS: tuple[str, ...] = (
    "",
    "-",
    "–",
    "—",
    "NC",
    "N.C.",
    "N/C",
    "ND",
    "N.D.",
    "N/D",
    "NA",
    "N/A",
    "NAN",
    "NULL",
    "NONE",
)

#: SIREN of La Poste: its establishments' SIRETs follow a different check rule (see
#: :func:`is_valid_siret`).
LA_POSTE_SIREN = "356000000"

_STRIP_CHARS = " \t\r\n\u00a0\u202f\u2007\u2009\ufeff"
_FLOAT_ARTEFACT = r"^([0-9]+)[.,]0+$"
_EXCEL_EPOCH = dt.date(1899, 12, 30)


# --------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------

F = pl.field  # struct field reference inside _let stages


def _let(bindings: dict[str, pl.Expr], *stages: Sequence[pl.Expr], out: str) -> pl.Expr:
    """Evaluate ``bindings`` once, then each stage (reading them with ``pl.field``), return ``out``.

    Polars has no variables inside an expression: an expression used twice is built (and may be
    computed) twice, and helpers that test a value several times multiply that cost. Struct
    fields act as ``let`` bindings: every field is computed once and read cheaply afterwards.
    """
    st = pl.struct(*(e.alias(k) for k, e in bindings.items()))
    for stage in stages:
        st = st.struct.with_fields(*stage)
    return st.struct.field(out)


def _strip(expr: pl.Expr) -> pl.Expr:
    """Cast to string and strip spaces of every kind (no-break ones and BOM included) at both ends.

    Spaces inside the value are left as they are; the regexes applied afterwards use ``\\s``,
    which matches every Unicode space.
    """
    return expr.cast(pl.String).str.strip_chars(_STRIP_CHARS)


def _drop_float_artefact(expr: pl.Expr) -> pl.Expr:
    """``"971.0"`` -> ``"971"``: a code that went through a float column."""
    return expr.str.replace(_FLOAT_ARTEFACT, "${1}")


def is_missing_value(expr: pl.Expr) -> pl.Expr:
    """True when the cell is null, blank or a conventional "no value" marker (``-``, ``NC``...).

    Lets callers tell an empty cell (``missing_*``) from an unparsable one (``unparsable_*``).
    """
    return _strip(expr).str.to_uppercase().fill_null("").is_in(list(MISSING_MARKERS))


# --------------------------------------------------------------------------------------------
# INSEE codes
# --------------------------------------------------------------------------------------------

_DEPARTEMENT_RE = r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$"


def normalise_insee_code(expr: pl.Expr, width: int) -> pl.Expr:
    """Normalise a purely numeric INSEE code to ``width`` characters (zero-padded), else null.

    Strips spaces and ``.0`` float artefacts: ``"1"`` -> ``"01"`` (width 2), ``"84.0"`` -> ``"84"``.
    Values with more than ``width`` digits or any non-digit character give null. Use the specific
    helpers for codes with letters (Corsica) or variable width (overseas départements).
    """
    s = _drop_float_artefact(_strip(expr))
    return s.str.extract(rf"^([0-9]{{1,{width}}})$", 1).str.zfill(width)


def normalise_commune_insee(expr: pl.Expr) -> pl.Expr:
    """Normalise a commune INSEE code (COG) to 5 characters, else null.

    ``"01001"`` stays, ``"1001"`` and ``"1001.0"`` -> ``"01001"`` (leading zero lost by a numeric
    cell), ``"2a004"`` -> ``"2A004"`` (Corsica), ``"97101"`` stays. Anything else (3 digits or
    fewer, 6 digits, letters elsewhere) gives null.
    """
    s = _drop_float_artefact(_strip(expr).str.to_uppercase())
    return s.str.replace(r"^([0-9]{4})$", "0${1}").str.extract(r"^([0-9]{5}|2[AB][0-9]{3})$", 1)


def normalise_departement_code(expr: pl.Expr) -> pl.Expr:
    """Normalise a département code to the COG form, else null.

    * ``"1"``, ``"1.0"``, ``"01.0"``, ``"001"`` -> ``"01"``; ``"75"`` stays;
    * overseas départements keep 3 characters: ``"971"``, ``"971.0"`` -> ``"971"`` (971-976);
    * Corsica: ``"2A"``, ``"2a"``, ``"2 A"`` -> ``"2A"`` (same for ``2B``);
    * ``"20"`` (Corsica before 1976, still found in files built from numeric codes) is
      **ambiguous** between 2A and 2B and gives null: resolve it from the commune or the postal
      code (:func:`departement_from_postal_code`) when available;
    * a label after the code is accepted: ``"01 - Ain"`` -> ``"01"``;
    * ``"00"``, ``"96"``, ``"97"``, ``"977"``, ``"98x"`` (not départements) -> null.
    """
    s = _strip(expr).str.to_uppercase().str.replace(r"^2\s([AB])\b", "2${1}")
    s = s.str.replace(r"^([0-9]{1,3}|2[AB])(?:\.0+)?(?:\s*[-–—:]\s*[^0-9].*)?$", "${1}")
    s = s.str.replace(r"^([0-9])$", "0${1}").str.replace(r"^0([0-9]{2})$", "${1}")
    return s.str.extract(_DEPARTEMENT_RE, 1)


def normalise_region_code(expr: pl.Expr) -> pl.Expr:
    """Normalise a région code (COG, 2 characters): ``"1"`` -> ``"01"``, ``"84.0"`` -> ``"84"``."""
    return normalise_insee_code(expr, 2)


def normalise_epci_siren(expr: pl.Expr) -> pl.Expr:
    """Normalise an EPCI SIREN to 9 digits (spaces, dots and ``.0`` removed), else null.

    ``"ZZZZZZZZZ"`` (communes outside any EPCI in the COG) is kept as is.
    """
    s = _drop_float_artefact(_strip(expr).str.to_uppercase())
    return s.str.replace_all(r"[\s.]", "").str.extract(r"^([0-9]{9}|Z{9})$", 1)


def normalise_postal_code(expr: pl.Expr) -> pl.Expr:
    """Normalise a French postal code to 5 digits (``"1000"``, ``"1000.0"`` -> ``"01000"``)."""
    s = _drop_float_artefact(_strip(expr).str.replace_all(r"\s", ""))
    return s.str.replace(r"^([0-9]{4})$", "0${1}").str.extract(r"^([0-9]{5})$", 1)


def departement_from_postal_code(expr: pl.Expr) -> pl.Expr:
    """Best guess of the département from a postal code, else null.

    First two digits; three for overseas (``971xx``-``976xx``). Corsica: ``200xx``-``201xx``
    -> ``2A``, ``202xx`` and ``206xx`` -> ``2B`` (other ``20xxx`` codes give null). A few
    communes have the postal code of a neighbouring département and CEDEX codes can differ: use
    only as a fallback.
    """
    pc = normalise_postal_code(expr)
    dep = (
        pc.str.replace(r"^(97[1-6])[0-9]{2}$", "${1}")
        .str.replace(r"^20[01][0-9]{2}$", "2A")
        .str.replace(r"^20[26][0-9]{2}$", "2B")
        .str.replace(r"^([0-9]{2})[0-9]{3}$", "${1}")
    )
    return dep.str.extract(_DEPARTEMENT_RE, 1)


# --------------------------------------------------------------------------------------------
# SIREN / SIRET
# --------------------------------------------------------------------------------------------

_ID_SEPARATORS = r"[\s./\-]"


def clean_digits(expr: pl.Expr) -> pl.Expr:
    """Keep the digits of an identifier written with separators, else null.

    Spaces (including non-breaking), dots, hyphens and slashes between digits are removed:
    ``"552 100 554"``, ``"552.100.554"`` -> ``"552100554"``. A ``.0`` float artefact is dropped
    first (``"552100554.0"``). Scientific notation (``"3.56E+13"``: digits lost by a spreadsheet),
    letters or an empty cell give null.
    """
    s = _drop_float_artefact(_strip(expr))
    return s.str.replace_all(_ID_SEPARATORS, "").str.extract(r"^([0-9]+)$", 1)


def _luhn_of_chunk(value: int, doubled_first: bool) -> int:
    total = 0
    for position in range(3):
        d = value // 10**position % 10
        if (position % 2 == 1) != doubled_first:
            d = d * 2 - (9 if d >= 5 else 0)
        total += d
    return total


#: Luhn sums of every 3-digit chunk, when its units digit is kept / doubled.
_LUHN_CHUNK = {
    doubled: np.array([_luhn_of_chunk(x, doubled) for x in range(1000)], dtype=np.int64)
    for doubled in (False, True)
}
#: Digit sums of every 3-digit chunk.
_DIGIT_SUM_CHUNK = np.array([sum(map(int, f"{x:03d}")) for x in range(1000)], dtype=np.int64)


def _chunk_sums(values: pl.Series, tables: tuple[np.ndarray, ...]) -> pl.Series:
    """Sum over the 3-digit chunks of non-negative integers of ``tables[k][chunk k]`` (numpy)."""
    v = values.cast(pl.Int64).fill_null(0).to_numpy()
    total = np.zeros(len(v), dtype=np.int64)
    for k, table in enumerate(tables):
        total += table[(v // 1000**k) % 1000]
    out = pl.Series(values.name, total)
    if values.null_count():
        out = pl.select(pl.when(values.is_not_null()).then(out)).to_series()
    return out


def _chunked(v: pl.Expr, tables: tuple[np.ndarray, ...]) -> pl.Expr:
    return v.map_batches(
        lambda s: _chunk_sums(s, tables), return_dtype=pl.Int64, is_elementwise=True
    )


def _digit_sum(v: pl.Expr, length: int) -> pl.Expr:
    """Sum of the digits of integer ``v`` over ``length`` digits (3-digit chunks, lookup table)."""
    return _chunked(v, (_DIGIT_SUM_CHUNK,) * ((length + 2) // 3))


def _luhn_total(v: pl.Expr, length: int) -> pl.Expr:
    """Luhn sum of integer ``v`` over ``length`` digits (leading zeros do not change it).

    Every second digit from the right is doubled (minus 9 when above 9). The sum is taken over
    3-digit chunks with lookup tables (numpy): 5 lookups instead of 14 digit extractions for a
    SIRET, and no Python loop over rows.
    """
    return _chunked(v, tuple(_LUHN_CHUNK[(3 * k) % 2 == 1] for k in range((length + 2) // 3)))


def _digits_value(s: pl.Expr) -> pl.Expr:
    """Integer value of a string of 1-18 digits (null otherwise: never negative)."""
    return s.str.extract(r"^([0-9]{1,18})$", 1).str.to_integer(strict=False, dtype=pl.Int64)


def is_valid_luhn(expr: pl.Expr, *, max_length: int = 18) -> pl.Expr:
    """Vectorised Luhn check on digit strings (SIREN, SIRET): true when the checksum is valid.

    Null stays null; non-digit strings, empty strings and strings longer than ``max_length``
    (at most 18, so that the value fits in a 64-bit integer) are false. The digits are taken
    arithmetically from the integer value (no Python loop over rows).

    Note: SIRETs of La Poste (SIREN ``356000000``) do not follow Luhn; their digit sum is a
    multiple of 5. :func:`is_valid_siret` accepts them; this function is the plain Luhn rule.
    """
    if not 1 <= max_length <= 18:
        raise ValueError(f"max_length must be between 1 and 18, got {max_length}")
    return _let(
        {"s": expr.cast(pl.String)},
        [
            F("s").str.contains(rf"^[0-9]{{1,{max_length}}}$").alias("ok"),
            _digits_value(F("s")).alias("v"),
        ],
        [
            pl.when(F("s").is_null())
            .then(pl.lit(None, pl.Boolean))
            .otherwise(F("ok") & (_luhn_total(F("v"), max_length) % 10 == 0).fill_null(False))
            .alias("out")
        ],
        out="out",
    )


def is_valid_siren(expr: pl.Expr) -> pl.Expr:
    """True for a 9-digit, Luhn-valid SIREN other than ``000000000``; false otherwise (null too)."""
    return _let(
        {"s": expr.cast(pl.String)},
        [
            (F("s").str.contains(r"^[0-9]{9}$") & (F("s") != "000000000"))
            .fill_null(False)
            .alias("shape"),
            _digits_value(F("s")).alias("v"),
        ],
        [(F("shape") & (_luhn_total(F("v"), 9) % 10 == 0).fill_null(False)).alias("out")],
        out="out",
    )


def is_valid_siret(expr: pl.Expr) -> pl.Expr:
    """True for a 14-digit SIRET that passes Luhn, or La Poste's rule; false otherwise.

    La Poste (SIREN 356000000) numbers its establishments beyond what Luhn allows: its SIRETs are
    valid when the sum of their 14 digits is a multiple of 5 (INSEE rule), and are accepted.
    """
    digit_sum = _digit_sum(F("v"), 14)
    return _let(
        {"s": expr.cast(pl.String)},
        [
            (F("s").str.contains(r"^[0-9]{14}$") & ~F("s").str.starts_with("000000000"))
            .fill_null(False)
            .alias("shape"),
            F("s").str.starts_with(LA_POSTE_SIREN).fill_null(False).alias("la_poste"),
            _digits_value(F("s")).alias("v"),
        ],
        [
            (
                F("shape")
                & (
                    (_luhn_total(F("v"), 14) % 10 == 0) | (F("la_poste") & (digit_sum % 5 == 0))
                ).fill_null(False)
            ).alias("out")
        ],
        out="out",
    )


def _identifier_digits(expr: pl.Expr, length: int) -> pl.Expr:
    """Digits of an identifier cell if there are ``length`` of them (SIRET: 14 or 9), else null.

    Bare numbers one or two digits short get their leading zeros back (a numeric cell lost
    them); values written with separators do not.
    """
    s = _drop_float_artefact(_strip(expr))
    short = {length - 1: "0", length - 2: "00"}
    pattern = r"^([0-9]{9})(?:[0-9]{5})?$" if length == 9 else rf"^([0-9]{{{length}}})$"
    padded = pl.when(F("bare") & (F("n") == length - 1)).then(
        pl.concat_str(pl.lit(short[length - 1]), F("d"))
    )
    padded = padded.when(F("bare") & (F("n") == length - 2)).then(
        pl.concat_str(pl.lit(short[length - 2]), F("d"))
    )
    if length == 9:  # a SIRET of 12-13 digits lost its zeros too
        padded = padded.when(F("bare") & (F("n") == 13)).then(pl.concat_str(pl.lit("0"), F("d")))
        padded = padded.when(F("bare") & (F("n") == 12)).then(pl.concat_str(pl.lit("00"), F("d")))
    return _let(
        {"s": s},
        [F("s").str.replace_all(_ID_SEPARATORS, "").alias("d")],
        [
            (F("s").str.len_bytes() == F("d").str.len_bytes()).alias("bare"),
            F("d").str.len_bytes().alias("n"),
        ],
        [padded.otherwise(F("d")).str.extract(pattern, 1).alias("out")],
        out="out",
    )


def extract_siren(expr: pl.Expr, *, validate: bool = True) -> pl.Expr:
    """The 9-digit SIREN of a cell holding a SIREN (9 digits) or a SIRET (14 digits), else null.

    Separators and ``.0`` artefacts are removed (as in :func:`clean_digits`). A bare number of
    7-8 digits, or 12-13 digits, is left-padded with zeros (leading zeros lost by a numeric
    cell); one written with separators is not. Scientific notation gives null. With ``validate``
    (default) the SIREN must pass :func:`is_valid_siren`; a SIRET whose establishment part (NIC)
    is wrong still yields its valid SIREN.
    """
    siren = _identifier_digits(expr, 9)
    if not validate:
        return siren
    return _let(
        {"siren": siren},
        [pl.when(is_valid_siren(F("siren"))).then(F("siren")).alias("out")],
        out="out",
    )


def extract_siret(expr: pl.Expr, *, validate: bool = True) -> pl.Expr:
    """The 14-digit SIRET of a cell, else null (a 9-digit SIREN gives null).

    Same cleaning as :func:`extract_siren`. With ``validate`` the SIRET must pass
    :func:`is_valid_siret` (Luhn, or La Poste's rule).
    """
    siret = _identifier_digits(expr, 14)
    if not validate:
        return siret
    return _let(
        {"siret": siret},
        [pl.when(is_valid_siret(F("siret"))).then(F("siret")).alias("out")],
        out="out",
    )


def plain_identifier(expr: pl.Expr) -> pl.Expr:
    """True for a cell that is null or exactly 9 or 14 digits (a SIREN or SIRET written plainly).

    On those cells :func:`siren_of_plain` / :func:`siret_of_plain` equal :func:`extract_siren` /
    :func:`extract_siret`.
    """
    s = expr.cast(pl.String)
    return s.is_null() | s.str.contains(r"^(?:[0-9]{9}|[0-9]{14})$")


def _plain_luhn(s: pl.Expr, length: int) -> pl.Expr:
    """Luhn check of digit strings known to hold ``length`` digits."""
    value = s.str.to_integer(strict=False, dtype=pl.Int64)
    return (_luhn_total(value, length) % 10 == 0).fill_null(False)


def siren_of_plain(expr: pl.Expr) -> pl.Expr:
    """:func:`extract_siren` (validated) of a cell that passes :func:`plain_identifier`."""
    siren = expr.cast(pl.String).str.slice(0, 9)
    return pl.when((siren != "000000000") & _plain_luhn(siren, 9)).then(siren)


def siret_of_plain(expr: pl.Expr) -> pl.Expr:
    """:func:`extract_siret` (validated) of a cell that passes :func:`plain_identifier`."""
    s = expr.cast(pl.String)
    value = s.str.to_integer(strict=False, dtype=pl.Int64)
    la_poste = s.str.starts_with(LA_POSTE_SIREN) & (_digit_sum(value, 14) % 5 == 0)
    ok = (s.str.len_bytes() == 14) & ~s.str.starts_with("000000000")
    return pl.when(ok & (_plain_luhn(s, 14) | la_poste.fill_null(False))).then(s)


# --------------------------------------------------------------------------------------------
# Amounts and numbers
# --------------------------------------------------------------------------------------------

_CELL_UNIT = r"(?i)\s*((?:k|m|mn|md|mds|mrd)?)\s*(?:€|eur|euros?)\s*$"
_CELL_FACTORS = {"": 1.0, "k": 1e3, "m": 1e6, "mn": 1e6, "md": 1e9, "mds": 1e9, "mrd": 1e9}
_NUMBER = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def _number_text(thousands: str) -> list[pl.Expr]:
    """Stage turning field ``num`` (digits and ``,``/``.``, no spaces) into a machine number.

    Rules:
    * both ``,`` and ``.``: the rightmost is the decimal mark, the other must group by 3
      (``1.234,56``, ``1,234.56``);
    * one kind only, equal to ``thousands`` and grouping by 3 (``1.234.567``): thousands;
    * one kind only, once: decimal mark (``1,5``; also ``1.5`` from a numeric spreadsheet cell
      in a file whose text cells use a decimal comma);
    * one kind only, several times, grouping by 3: thousands (``1,234,567``); else null.
    """
    num = F("num")
    has_comma = num.str.contains(",", literal=True)
    has_dot = num.str.contains(".", literal=True)
    eu = num.str.contains(r"^[0-9]{1,3}(\.[0-9]{3})+,[0-9]*$")
    us = num.str.contains(r"^[0-9]{1,3}(,[0-9]{3})+\.[0-9]*$")

    def single_kind(sep: str) -> pl.Expr:
        grouped = num.str.contains(rf"^[0-9]{{1,3}}(\{sep}[0-9]{{3}})+$")
        no_sep = num.str.replace_all(sep, "", literal=True)
        out = pl.when(grouped & pl.lit(thousands == sep)).then(no_sep)
        out = out.when(num.str.count_matches(sep, literal=True) == 1)
        out = out.then(num.str.replace(sep, ".", literal=True))
        return out.when(grouped).then(no_sep).otherwise(pl.lit(None, pl.String))

    text = (
        pl.when(has_comma & has_dot & eu)
        .then(num.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .when(has_comma & has_dot & us)
        .then(num.str.replace_all(",", "", literal=True))
        .when(has_comma & has_dot)
        .then(pl.lit(None, pl.String))
        .when(has_comma)
        .then(single_kind(","))
        .when(has_dot)
        .then(single_kind("."))
        .otherwise(num)
    )
    return [text.alias("text")]


def _parse_number_core(expr: pl.Expr, *, thousands: str, with_units: bool, unit: str) -> pl.Expr:
    s = F("s")
    stages: list[list[pl.Expr]] = [
        [
            s.str.to_uppercase().fill_null("").is_in(list(MISSING_MARKERS)).alias("missing"),
            s.str.contains(r"^\(.*\)$").fill_null(False).alias("paren"),
            s.str.replace(r"^\((.*)\)$", "${1}").str.strip_chars().alias("body"),
        ]
    ]
    if with_units:
        stages.append(
            [
                F("body").str.starts_with("€").alias("prefix_unit"),
                F("body").str.replace(r"^€\s*", "").alias("body"),
            ]
        )
    stages.append(
        [
            F("body").str.starts_with("-").fill_null(False).alias("minus"),
            F("body").str.replace(r"^[-+]\s*", "").alias("body"),
        ]
    )
    if with_units:
        stages.append(
            [
                F("body").str.extract(_CELL_UNIT, 1).str.to_lowercase().alias("cell_unit"),
                F("body").str.replace(_CELL_UNIT, "").alias("body"),
            ]
        )
        factor = (
            pl.when(F("cell_unit").is_not_null())
            .then(
                F("cell_unit").replace_strict(_CELL_FACTORS, default=None, return_dtype=pl.Float64)
            )
            .when(F("prefix_unit"))
            .then(pl.lit(1.0))
            .otherwise(pl.lit(UNIT_FACTORS[unit]))
        )
    else:
        factor = pl.lit(1.0)
    stages.append([F("body").str.replace_all(r"\s", "").alias("num")])
    stages.append(_number_text(thousands))
    value = (
        pl.when(F("text").str.contains(_NUMBER))
        .then(F("text").cast(pl.Float64, strict=False))
        .otherwise(pl.lit(None, pl.Float64))
    )
    stages.append([value.alias("value")])
    signed = pl.when(F("minus") | F("paren")).then(-F("value")).otherwise(F("value"))
    stages.append(
        [
            pl.when(F("missing") | (F("minus") & F("paren")))  # "(-12)": not a number
            .then(pl.lit(None, pl.Float64))
            .otherwise(signed * factor)
            .cast(pl.Float64)
            .alias("out")
        ]
    )
    return _let({"s": _strip(expr).str.replace_all("\u2212", "-")}, *stages, out="out")


def _check_separators(decimal: str, thousands: str) -> None:
    if decimal not in {",", "."}:
        raise ValueError(f"decimal must be ',' or '.', got {decimal!r}")
    if thousands not in {" ", ".", ",", ""}:
        raise ValueError(f"thousands must be ' ', '.', ',' or '', got {thousands!r}")
    if decimal == thousands:
        raise ValueError(f"decimal and thousands separators are both {decimal!r}")


def parse_amount(
    expr: pl.Expr,
    unit: AmountUnit = "EUR",
    decimal: str = ",",
    thousands: str = " ",
) -> pl.Expr:
    """Parse an amount written as text into euros (Float64); null when empty or unparsable.

    * ``unit`` is the column's unit (``EUR``, ``kEUR``, ``MEUR``); a unit written in the cell
      overrides it: ``"12 k€"``, ``"1,5 M€"``, ``"3 MEUR"``, ``"250 €"``, ``"€250"``,
      ``"2 Md€"`` (milliards);
    * spaces of every kind (including U+00A0 and U+202F) are thousands separators;
    * ``"1 234,56"``, ``"1.234,56"`` and ``"1,234.56"`` all give 1234.56 (when both marks appear,
      the rightmost is decimal); a lone mark is decimal unless it equals ``thousands`` and groups
      digits by three (``"1.234"`` with ``thousands="."`` is 1234, with ``" "`` it is 1.234);
      ``decimal`` is checked against ``thousands``;
    * negatives: ``"-12"``, ``"−12"`` (U+2212) and accounting parentheses ``"(12)"``;
    * empty cells and markers such as ``"-"``, ``"NC"``, ``"N/A"`` give null, as do unparsable
      values: tell them apart with :func:`is_missing_value` and quarantine with the raw value.
    """
    _check_separators(decimal, thousands)
    if unit not in UNIT_FACTORS:
        raise ValueError(f"unit must be one of {sorted(UNIT_FACTORS)}, got {unit!r}")
    return _parse_number_core(expr, thousands=thousands, with_units=True, unit=unit)


def parse_number(expr: pl.Expr, decimal: str = ",", thousands: str = " ") -> pl.Expr:
    """Parse a unitless number (jobs, tonnes) like :func:`parse_amount`, without currency units."""
    _check_separators(decimal, thousands)
    return _parse_number_core(expr, thousands=thousands, with_units=False, unit="EUR")


def plain_number(expr: pl.Expr, decimal: str = ",") -> pl.Expr:
    """True for a cell that is null or written plainly: digits, spaces (ordinary, no-break,
    narrow no-break) between them, and at most one ``decimal`` mark followed by digits
    (``"104 261,5"``). On those cells :func:`number_of_plain` equals :func:`parse_amount` /
    :func:`parse_number`: no sign, unit, marker, grouping question or missing value."""
    if decimal not in {",", "."}:
        raise ValueError(f"decimal must be ',' or '.', got {decimal!r}")
    pattern = rf"^[0-9][0-9 \u00a0\u202f]*(?:{re.escape(decimal)}[0-9]+)?$"
    s = expr.cast(pl.String)
    return s.is_null() | s.str.contains(pattern)


def number_of_plain(expr: pl.Expr, decimal: str = ",", unit: AmountUnit = "EUR") -> pl.Expr:
    """The value of a cell that passes :func:`plain_number`, in euros for ``unit`` (Float64).

    ``unit="EUR"`` for unitless numbers (jobs). Null stays null. Other cells give null or a
    wrong value: use only on plain cells.
    """
    s = expr.cast(pl.String).str.replace_all(r"[ \u00a0\u202f]", "")
    if decimal != ".":
        s = s.str.replace(decimal, ".", literal=True)
    return s.cast(pl.Float64, strict=False) * pl.lit(UNIT_FACTORS[unit])


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def parse_date(
    expr: pl.Expr,
    formats: Sequence[str] = DEFAULT_DATE_FORMATS,
    *,
    excel_serial: bool = True,
) -> pl.Expr:
    """Parse a date written as text (``pl.Date``), trying ``formats`` in order; else null.

    * a time part is ignored: ``"2021-03-23T00:00:00"``, ``"2021-03-23 00:00:00"`` (how Excel
      date cells read as text look), ``"23/03/2021 14:05"``;
    * with ``excel_serial``, a 5-digit number (``"44197"``, ``"44197.0"``, ``"44197,5"``) is an
      Excel serial day (1900 system, epoch 1899-12-30): 10000-99999 covers 1927-2173;
    * formats are day-first by default (French files); two-digit years (``%y``) follow
      Polars/chrono (``"21"`` -> 2021); a parsed year outside 1900-2199 is rejected so that
      ``"%d/%m/%Y"`` does not read ``"23/03/21"`` as year 21.
    """
    if not formats and not excel_serial:
        raise ValueError("parse_date needs at least one format or excel_serial=True")
    date_part = _strip(expr).str.replace(
        r"^(\S+)[T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$",
        "${1}",
    )
    parsed = [
        F("d").str.strptime(pl.Date, fmt, strict=False).alias(f"p{i}")
        for i, fmt in enumerate(formats)
    ]
    # chrono's %Y accepts "21": a year outside 1900-2199 means the format did not fit
    candidates = [
        pl.when(F(f"p{i}").dt.year().is_between(1900, 2199)).then(F(f"p{i}"))
        for i in range(len(formats))
    ]
    if excel_serial:
        days = F("d").str.extract(r"^([0-9]{5})(?:[.,][0-9]+)?$", 1).cast(pl.Int64, strict=False)
        candidates.append((pl.lit(_EXCEL_EPOCH) + pl.duration(days=days)).cast(pl.Date))
    return _let(
        {"d": date_part},
        parsed,
        [pl.coalesce(candidates).alias("out")],
        out="out",
    )


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _unescape_series(s: pl.Series) -> pl.Series:
    """:func:`html.unescape` on the cells holding ``&`` (each distinct one decoded once)."""
    s = s.cast(pl.String)
    has_amp = s.str.contains("&", literal=True).fill_null(False)
    if not has_amp.any():
        return s
    at = has_amp.arg_true()
    values = s.gather(at)
    decoded = {v: html.unescape(v) for v in values.unique().to_list()}
    return s.scatter(at, values.replace_strict(decoded, return_dtype=pl.String))


def unescape_html(expr: pl.Expr) -> pl.Expr:
    """Decode every HTML entity of a text cell, as :func:`html.unescape` does.

    Named (``&eacute;``, ``&amp;``, legacy ones without ``;`` such as ``&amp``), decimal
    (``&#233;``) and hexadecimal (``&#xE9;``) references; one pass (``"&amp;lt;"`` gives
    ``"&lt;"``). Only cells containing ``&`` are decoded (in Python, once per distinct value),
    so a column without entities costs one vectorised scan.
    """
    return expr.map_batches(_unescape_series, return_dtype=pl.String, is_elementwise=True)


def normalise_text(expr: pl.Expr) -> pl.Expr:
    """Free text as read by a person: HTML entities decoded, no-break spaces made ordinary
    spaces, spaces of every kind trimmed at both ends, blank -> null."""
    s = unescape_html(expr.cast(pl.String)).str.replace_all(r"[\u00a0\u202f]", " ")
    s = s.str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s)


def plain_text(expr: pl.Expr) -> pl.Expr:
    """True for a cell that :func:`normalise_text` leaves as it is (or null).

    Not blank, no space at either end, no no-break space, no ``&``.
    """
    s = expr.cast(pl.String)
    trivial = ~s.str.contains(r"^\s|\s$|[\u00a0\u202f&]") & (s.str.len_bytes() > 0)
    return s.is_null() | trivial


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def normalise_name(expr: pl.Expr) -> pl.Expr:
    """A matching key for a place or firm name: no accents, upper case, single spaces.

    * accents stripped (Unicode NFKD, combining marks removed); ``Œ``/``Æ`` -> ``OE``/``AE``;
    * punctuation, apostrophes (``'`` and ``’``), hyphens and every kind of space -> one space;
    * ``ST``/``SAINT`` and ``STE``/``SAINTE`` unified (to ``SAINT``/``SAINTE``);
    * leading articles kept; the old INSEE form with the article at the end in parentheses is
      turned round: ``"ABERGEMENT-CLEMENCIAT (L')"`` -> ``"L ABERGEMENT CLEMENCIAT"``.

    ``"L'Abergement-Clémenciat"`` -> ``"L ABERGEMENT CLEMENCIAT"``; ``"St-Étienne"`` ->
    ``"SAINT ETIENNE"``. Blank gives null.
    """
    s = (
        expr.cast(pl.String)
        .str.replace_all("œ", "oe", literal=True)
        .str.replace_all("Œ", "OE", literal=True)
        .str.replace_all("æ", "ae", literal=True)
        .str.replace_all("Æ", "AE", literal=True)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_uppercase()
        .str.strip_chars()
    )
    s = s.str.replace(r"^(.*\S)\s*\((L['’]|LE|LA|LES)\)$", "${2} ${1}")
    s = s.str.replace_all(r"[^A-Z0-9]+", " ").str.strip_chars()
    s = s.str.replace_all(r"\bST\b", "SAINT").str.replace_all(r"\bSTE\b", "SAINTE")
    return s.str.extract(r"^(.+)$", 1)  # blank -> null


def _commune_key(expr: pl.Expr) -> pl.Expr:
    """:func:`normalise_name` plus what commune columns add: CEDEX, PLM arrondissements."""
    key = normalise_name(expr).str.replace(r" CEDEX( [0-9]+)?$", "")
    return key.str.replace(
        r"^(PARIS|LYON|MARSEILLE) [0-9]{1,2}( ?(ER|E|EME))?( ARRONDISSEMENT)?$", "${1}"
    )


def match_commune_by_name(
    df: pl.LazyFrame,
    communes: pl.LazyFrame,
    *,
    name_col: str = "commune_name",
    departement_col: str = "departement_code",
    insee_col: str = "commune_insee",
    status_col: str = "commune_match",
) -> pl.LazyFrame:
    """Fill a missing ``commune_insee`` from (normalised commune name, département code).

    ``communes`` has the core ``communes`` columns ``commune_insee``, ``commune_name`` and
    ``departement_code`` (COG). ``df`` must hold ``name_col`` and ``departement_col`` (already
    normalised codes); ``insee_col`` is created when absent. Names are compared with
    :func:`normalise_name` (plus ``CEDEX`` and Paris/Lyon/Marseille arrondissements removed).

    Adds ``status_col``:

    * ``"code"``: ``insee_col`` was already filled (left untouched, not checked here);
    * ``"name"``: filled from a unique match;
    * ``"ambiguous"``: two or more communes of that département share the normalised name; not
      guessed, ``insee_col`` stays null;
    * ``"unmatched"``: no commune of that name in that département;
    * ``"missing"``: no name or no département to match on.

    Row order and row count of ``df`` are preserved.
    """
    if insee_col not in df.collect_schema().names():
        df = df.with_columns(pl.lit(None, pl.String).alias(insee_col))
    ref = (
        communes.select(
            _commune_key(pl.col("commune_name")).alias("_match_key"),
            pl.col("departement_code").alias("_match_dep"),
            pl.col("commune_insee").alias("_match_code"),
        )
        .group_by("_match_key", "_match_dep")
        .agg(pl.col("_match_code").min(), pl.len().alias("_match_n"))
    )
    # (name, département) pairs repeat a lot (millions of rows, ~35,000 communes): normalise
    # and look up each distinct pair once, then join the result back in one pass
    pairs = (
        df.select(
            pl.col(name_col).alias("_match_name"), pl.col(departement_col).alias("_match_dep")
        )
        .unique()
        .with_columns(_commune_key(pl.col("_match_name")).alias("_match_key"))
        .join(ref, on=["_match_key", "_match_dep"], how="left")
    )
    joined = df.with_columns(
        pl.col(name_col).alias("_match_name"), pl.col(departement_col).alias("_match_dep")
    ).join(
        pairs,
        on=["_match_name", "_match_dep"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    has_code = pl.col(insee_col).is_not_null()
    status = (
        pl.when(has_code)
        .then(pl.lit("code"))
        .when(pl.col("_match_key").is_null() | pl.col("_match_dep").is_null())
        .then(pl.lit("missing"))
        .when(pl.col("_match_n").is_null())
        .then(pl.lit("unmatched"))
        .when(pl.col("_match_n") > 1)
        .then(pl.lit("ambiguous"))
        .otherwise(pl.lit("name"))
    )
    filled = (
        pl.when(has_code)
        .then(pl.col(insee_col))
        .when(pl.col("_match_n") == 1)
        .then(pl.col("_match_code"))
        .otherwise(pl.lit(None, pl.String))
    )
    return joined.with_columns(filled.alias(insee_col), status.alias(status_col)).drop(
        "_match_name", "_match_key", "_match_dep", "_match_code", "_match_n"
    )
