"""Canonical schema of the acceleration fund's per-project extract, and the YAML mapping to it.

The fund's operator (Bpifrance / DGE / régions) exports projects in its own layout: French
headers, amounts in k€, day-first dates, cp1252 CSV or xlsx with a title block. Rather than
editing the export, the evaluator writes a small YAML *mapping* (see
``config/fund_mapping.example.yml`` and ``docs/fund_extract_schema.md``) that says where each
canonical field is and how the file is written. Without a mapping the file must be a
*canonical CSV*: UTF-8, comma-separated, headers equal to the canonical field names, decimal
point, amounts in euros.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analyse.errors import InputFileError
from analyse.normalise import DEFAULT_DATE_FORMATS
from analyse.yamlsafe import YamlError, load_yaml, read_yaml_text, short_repr


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field of the extract."""

    name: str
    dtype: str  # type after cleaning
    unit: str  # unit after cleaning ("" when none)
    required: str  # "yes", "no", or a condition
    meaning: str


#: Canonical fields, in order (the identity mapping expects these headers).
FIELD_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "project_id",
        "string",
        "",
        "no (generated from the file row when absent)",
        "operator's project / file number",
    ),
    FieldSpec("firm_name", "string", "", "no", "beneficiary firm (raison sociale)"),
    FieldSpec(
        "siren_or_siret",
        "string",
        "",
        "yes",
        "SIREN (9 digits) or SIRET (14 digits) of the beneficiary; must pass the Luhn check",
    ),
    FieldSpec(
        "commune_insee",
        "string",
        "",
        "commune_insee, or commune_name with departement_code (or postal_code)",
        "INSEE code of the commune where the investment is made (COG)",
    ),
    FieldSpec("commune_name", "string", "", "see commune_insee", "name of that commune"),
    FieldSpec(
        "departement_code", "string", "", "see commune_insee", "département code (01, 2A, 971)"
    ),
    FieldSpec(
        "postal_code",
        "string",
        "",
        "no",
        "postal code; gives the département when departement_code is absent",
    ),
    FieldSpec("decision_date", "date", "", "yes", "date of the aid decision (or of the laureate)"),
    FieldSpec("sector", "string", "", "no", "sector or filière as labelled by the operator"),
    FieldSpec(
        "firm_size", "string", "", "no", "TPE, PME, ETI or GE (recode with firm_size_values)"
    ),
    FieldSpec("aid_eur", "float", "EUR", "yes", "aid granted (subsidy and repayable advance)"),
    FieldSpec(
        "investment_eur",
        "float",
        "EUR",
        "yes",
        "total announced investment of the project, aid included",
    ),
    FieldSpec("jobs_created", "float", "jobs", "no", "jobs announced as created"),
    FieldSpec("jobs_maintained", "float", "jobs", "no", "jobs announced as maintained"),
    FieldSpec("aid_paid_eur", "float", "EUR", "no", "aid actually paid so far"),
    FieldSpec("investment_realised_eur", "float", "EUR", "no", "investment actually realised"),
)

CANONICAL_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELD_SPECS)
AMOUNT_FIELDS: tuple[str, ...] = (
    "aid_eur",
    "investment_eur",
    "aid_paid_eur",
    "investment_realised_eur",
)
COUNT_FIELDS: tuple[str, ...] = ("jobs_created", "jobs_maintained")
#: Fields that must be in every extract (plus a way to find the commune, see FIELD_SPECS).
REQUIRED_FIELDS: tuple[str, ...] = ("siren_or_siret", "aid_eur", "investment_eur", "decision_date")
#: Fields that describe one project and therefore cannot take a file-wide default.
NO_DEFAULT_FIELDS: tuple[str, ...] = (
    "project_id",
    "firm_name",
    "siren_or_siret",
    "decision_date",
    *AMOUNT_FIELDS,
    *COUNT_FIELDS,
)
FIRM_SIZES: tuple[str, ...] = ("TPE", "PME", "ETI", "GE")

CanonicalField = Literal[
    "project_id",
    "firm_name",
    "siren_or_siret",
    "commune_insee",
    "commune_name",
    "departement_code",
    "postal_code",
    "decision_date",
    "sector",
    "firm_size",
    "aid_eur",
    "investment_eur",
    "jobs_created",
    "jobs_maintained",
    "aid_paid_eur",
    "investment_realised_eur",
]
AmountField = Literal["aid_eur", "investment_eur", "aid_paid_eur", "investment_realised_eur"]
Unit = Literal["EUR", "kEUR", "MEUR"]
FirmSize = Literal["TPE", "PME", "ETI", "GE"]
Encoding = Literal["utf-8", "utf-8-sig", "cp1252", "latin-1"]

#: codecs names (``-`` as ``_``) of the accepted encodings: ``UTF8``, ``windows-1252``, ``latin1``,
#: ``ISO-8859-1``... are accepted spellings.
_ENCODING_ALIASES = {
    "utf_8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "cp1252": "cp1252",
    "iso8859_1": "latin-1",
}


class _KeyedError(ValueError):
    """A validation error about one key of the mapping (kept through pydantic's wrapping)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class MappingError(InputFileError):
    """A mapping file is invalid: names the YAML file, the key and, when known, its line (and
    column)."""

    def __init__(
        self,
        file: str | Path,
        key: str | None,
        expected: str,
        *,
        line: int | None = None,
        column: int | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(file, expected, row=line, found=found)
        self.key = key
        where = [str(file)]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        if key:
            where.append(f"key {key!r}")
        msg = f"{', '.join(where)}: {expected}"
        if found is not None:
            msg += f" (found {found})"
        self.args = (msg,)


class ExtractMapping(BaseModel):
    """How an operator extract is written and where each canonical field is.

    ``columns`` maps canonical field -> source header. When it is omitted (``None``) the file
    is read as canonical: headers are the canonical names and optional columns may be absent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["csv", "xlsx"] = "csv"
    sheet: str | None = Field(default=None, description="xlsx sheet (default: the first)")
    encoding: Encoding = "utf-8"
    delimiter: str = ","
    skip_rows: int = Field(default=0, ge=0, description="rows above the header row")
    decimal: Literal[",", "."] = "."
    thousands: Literal[" ", ".", ",", ""] = ""
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    columns: dict[CanonicalField, str] | None = None
    units: dict[AmountField, Unit] = Field(default_factory=dict)
    firm_size_values: dict[str, FirmSize] = Field(default_factory=dict)
    defaults: dict[CanonicalField, str] = Field(default_factory=dict)

    @field_validator("encoding", mode="before")
    @classmethod
    def _normalise_encoding(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            name = codecs.lookup(value).name
        except LookupError:
            return value
        return _ENCODING_ALIASES.get(name.replace("-", "_"), value)

    @field_validator("defaults", mode="before")
    @classmethod
    def _defaults_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v if isinstance(v, str) or v is None else str(v)) for k, v in value.items()}
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(
                f"delimiter must be one character (e.g. ';', ',', '\\t'), got {value!r}"
            )
        return value

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("date_formats must list at least one format such as '%d/%m/%Y'")
        bad = [f for f in value if "%" not in f]
        if bad:
            raise ValueError(f"date formats use strftime codes such as '%d/%m/%Y'; got {bad}")
        return value

    @field_validator("columns")
    @classmethod
    def _headers_not_blank(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            for field, header in value.items():
                if not str(header).strip():
                    raise _KeyedError(f"columns.{field}", "the source header must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExtractMapping:
        if self.decimal == self.thousands:
            raise _KeyedError("thousands", f"decimal and thousands are both {self.decimal!r}")
        if self.format == "csv" and self.sheet is not None:
            raise _KeyedError("sheet", "'sheet' only applies to format: xlsx")
        both = sorted(set(self.defaults) & set(self.columns or {}))
        if both:
            raise _KeyedError(
                f"defaults.{both[0]}",
                f"{both} are both mapped in 'columns' and given in 'defaults'; keep one",
            )
        fixed = sorted(set(self.defaults) & set(NO_DEFAULT_FIELDS))
        if fixed:
            raise _KeyedError(
                f"defaults.{fixed[0]}",
                f"{fixed} describe each project and cannot take a file-wide default",
            )
        if self.columns is not None:
            provided = set(self.columns) | set(self.defaults)
            for field in REQUIRED_FIELDS:
                if field not in provided:
                    raise _KeyedError(
                        "columns",
                        f"required field {field!r} is not mapped "
                        f"(add '{field}: <header in the file>' under 'columns')",
                    )
            has_code = "commune_insee" in provided
            has_name = "commune_name" in provided and (
                "departement_code" in provided or "postal_code" in provided
            )
            if not (has_code or has_name):
                raise _KeyedError(
                    "columns",
                    "the commune is not mapped: map 'commune_insee', or 'commune_name' with "
                    "'departement_code' (or 'postal_code')",
                )
        return self

    @property
    def is_identity(self) -> bool:
        """True when headers are the canonical names (no ``columns`` given)."""
        return self.columns is None

    def unit(self, field: str) -> Unit:
        """Unit of an amount column in the file (``EUR`` unless ``units`` says otherwise)."""
        return self.units.get(field, "EUR")  # type: ignore[call-overload, return-value]


def identity_mapping() -> ExtractMapping:
    """The mapping of a canonical CSV (UTF-8, ``,``, decimal point, headers = field names)."""
    return ExtractMapping()


def _yaml_line(text: str, loc: tuple[str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (as deep as it exists), else None.

    ``text`` has passed :func:`analyse.yamlsafe.load_yaml` (no alias, bounded depth and size).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == part:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def _error_from_validation(path: Path, text: str, exc: ValidationError) -> MappingError:
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    original = ctx.get("error")
    loc = tuple(str(p) for p in err["loc"] if p != "[key]")
    if isinstance(original, _KeyedError):
        key = original.key
        message = str(original)
    else:
        key = ".".join(loc) or None
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = sorted(ExtractMapping.model_fields)
            message = f"unknown key (allowed keys: {allowed})"
        elif err["type"] == "literal_error" and "[key]" in [str(p) for p in err["loc"]]:
            message = f"unknown field name; {message}"
    line = _yaml_line(text, tuple(key.split("."))) if key else None
    found = None if err["type"] in {"missing"} else short_repr(err.get("input"), 120)
    if isinstance(original, _KeyedError):
        found = None
    return MappingError(path, key, message, line=line, found=found)


def load_mapping(path: str | Path) -> ExtractMapping:
    """Read and validate a YAML mapping; :class:`MappingError` names the file, key and line.

    The YAML is read by :mod:`analyse.yamlsafe` (size, depth, no aliases, checked before any
    object is built).
    """
    path = Path(path)
    if not path.is_file():
        raise MappingError(path, None, "a YAML mapping file", found="no such file")
    try:
        text = read_yaml_text(path)
        data = load_yaml(text, source=path)
    except YamlError as exc:
        raise MappingError(
            path, None, "valid YAML", line=exc.line, column=exc.column, found=exc.problem
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MappingError(path, None, "a YAML mapping of keys", found=type(data).__name__)
    try:
        return ExtractMapping.model_validate(data)
    except ValidationError as exc:
        raise _error_from_validation(path, text, exc) from exc


def resolve_mapping(mapping: ExtractMapping | str | Path | None) -> ExtractMapping:
    """An :class:`ExtractMapping` from a mapping, a YAML path, or None (identity)."""
    if mapping is None:
        return identity_mapping()
    if isinstance(mapping, ExtractMapping):
        return mapping
    return load_mapping(mapping)
