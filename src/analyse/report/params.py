"""Typed, validated parameters of the report notebooks, and the YAML run file.

Every report kind has a pydantic model whose fields are exactly the notebook's parameters
(papermill injects ``model.to_parameters()``):

=============  ==========================================================  ====================
kind           parameters                                                  notebook
=============  ==========================================================  ====================
``national``   ``processed_dir``, ``published_dir``, ``n_boot``, ``seed``,  ``national_review``
               ``phase`` (attribution perimeter, default 1)
``region``     ``region_code`` + the national ones                         ``regional_report``
``territory``  ``ti_id``, ``ti_phase`` (default 2), ``processed_dir``,      ``territory_sheet``
               ``published_dir``, ``n_boot``, ``seed``
=============  ==========================================================  ====================

Codes stay strings (``"01"`` is never ``1``); a région code is checked against the régions
present in the processed data (``core_communes`` / ``core_territories``), or against
:data:`analyse.reference.REGION_NAMES` when there is no processed data yet; a territory id
against ``core_territories`` for its phase. Unknown codes fail at once, listing valid ones.
Every kind also takes ``figures_dir``: the figures bundle of the run, given by the batch when the
figures stage ran (see :mod:`analyse.report.batch`).
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import polars as pl
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from analyse.errors import ParameterError
from analyse.reference import REGION_NAMES
from analyse.yamlsafe import YamlError, load_yaml, read_yaml_text

#: Phase used when none is given (the current programme, 2023-2027, 183 territories).
DEFAULT_PHASE = 2

Phase = Literal[1, 2]

_QUOTE_HINT = "codes are strings: quote them (in YAML 01 reads as the number 1, 84 as 84)"


def _as_str_path(value: Any) -> Any:
    return str(value) if isinstance(value, os.PathLike) else value


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(
            f"{what} must be a string, got {type(value).__name__} {value!r}: {_QUOTE_HINT}"
        )
    return value.strip()


def _files_stamp(folder: Path, names: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    stamp = []
    for name in names:
        path = folder / name
        stamp.append((name, path.stat().st_mtime_ns if path.is_file() else -1))
    return tuple(stamp)


@functools.lru_cache(maxsize=32)
def _read_regions(folder: str, _stamp: tuple[tuple[str, int], ...]) -> tuple[str, ...] | None:
    codes: set[str] = set()
    found = False
    for table in ("communes", "territories"):
        path = Path(folder) / f"core_{table}.parquet"
        if path.is_file():
            found = True
            frame = pl.scan_parquet(path).select("region_code").unique().collect()
            codes.update(c for c in frame["region_code"].to_list() if c)
    return tuple(sorted(codes)) if found else None


@functools.lru_cache(maxsize=32)
def _read_territories(
    folder: str, phase: int, _stamp: tuple[tuple[str, int], ...]
) -> tuple[tuple[str, str], ...] | None:
    path = Path(folder) / "core_territories.parquet"
    if not path.is_file():
        return None
    frame = (
        pl.scan_parquet(path)
        .filter(pl.col("ti_phase") == phase)
        .select("ti_id", "ti_name")
        .unique()
        .sort("ti_id")
        .collect()
    )
    return tuple(zip(frame["ti_id"].to_list(), frame["ti_name"].to_list(), strict=True))


def list_region_codes(processed_dir: str | Path) -> dict[str, str]:
    """Régions present in the processed data (code -> name), else every région of the COG."""
    folder = Path(processed_dir)
    found = _read_regions(
        str(folder), _files_stamp(folder, ("core_communes.parquet", "core_territories.parquet"))
    )
    codes = found if found is not None else tuple(REGION_NAMES)
    return {code: REGION_NAMES.get(code, code) for code in sorted(codes)}


def list_territories(processed_dir: str | Path, phase: int) -> dict[str, str]:
    """Territories of ``phase`` in ``core_territories`` (ti_id -> name); error if no data."""
    folder = Path(processed_dir)
    found = _read_territories(
        str(folder), phase, _files_stamp(folder, ("core_territories.parquet",))
    )
    if found is None:
        raise ParameterError(
            f"{folder / 'core_territories.parquet'} is missing, so territory ids cannot be "
            "checked: run `analyse clean` (after `analyse fetch` or `analyse demo`) first"
        )
    return dict(found)


def _format_choices(valid: Mapping[str, str], given: str, limit: int = 30) -> str:
    items = [f"{code} ({name})" if name and name != code else code for code, name in valid.items()]
    close = difflib.get_close_matches(given, list(valid), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    if len(items) > limit:
        shown = ", ".join(items[:limit])
        return f"{len(items)} valid: {shown}, ... (`analyse report list` shows all){hint}"
    return f"valid: {', '.join(items)}{hint}"


class ReportParams(BaseModel):
    """Parameters shared by every report notebook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str] = "report"

    processed_dir: str = Field(description="folder of the core tables (data/processed)")
    published_dir: str | None = Field(
        default=None, description="folder of published figures, for reconciliation"
    )
    figures_dir: str | None = Field(
        default=None, description="output of the figures stage (data/figures/<key>), if run"
    )
    n_boot: int = Field(default=999, ge=99, le=99_999, description="bootstrap replications")
    seed: int = Field(default=2018, ge=0, description="bootstrap seed (reproducible intervals)")

    @field_validator("processed_dir", "published_dir", "figures_dir", mode="before")
    @classmethod
    def _path_to_str(cls, value: Any) -> Any:
        return _as_str_path(value)

    def to_parameters(self) -> dict[str, Any]:
        """The dict papermill injects into the notebook's parameters cell."""
        return self.model_dump(mode="json")

    @property
    def job_name(self) -> str:
        """Output name, relative to the run folder, without extension."""
        raise NotImplementedError

    @property
    def title(self) -> str:
        """Human title of the report (French)."""
        raise NotImplementedError


class NationalParams(ReportParams):
    """The national review."""

    kind: ClassVar[str] = "national"

    phase: Phase = Field(default=1, description="perimeter used to attribute projects")

    @property
    def job_name(self) -> str:
        return "national"

    @property
    def title(self) -> str:
        return "Revue nationale"


class RegionParams(ReportParams):
    """One région's report; ``region_code`` is the INSEE code as a string (``"84"``)."""

    kind: ClassVar[str] = "region"

    region_code: str
    phase: Phase = Field(default=2, description="perimeter the page is centred on")

    @field_validator("region_code", mode="before")
    @classmethod
    def _code_is_str(cls, value: Any) -> str:
        return _require_str(value, "region_code")

    @model_validator(mode="after")
    def _code_is_known(self) -> RegionParams:
        valid = list_region_codes(self.processed_dir)
        if self.region_code not in valid:
            raise ValueError(
                f"unknown région code {self.region_code!r}; {_format_choices(valid, self.region_code)}"
            )
        return self

    @property
    def job_name(self) -> str:
        return f"regions/{self.region_code}"

    @property
    def title(self) -> str:
        return f"Région {REGION_NAMES.get(self.region_code, self.region_code)} ({self.region_code})"


class TerritoryParams(ReportParams):
    """One territory's sheet; ``ti_id`` is only unique within its ``ti_phase``."""

    kind: ClassVar[str] = "territory"

    ti_id: str
    ti_phase: Phase = DEFAULT_PHASE

    @field_validator("ti_id", mode="before")
    @classmethod
    def _id_is_str(cls, value: Any) -> str:
        return _require_str(value, "ti_id")

    @model_validator(mode="after")
    def _id_is_known(self) -> TerritoryParams:
        valid = list_territories(self.processed_dir, self.ti_phase)
        if self.ti_id not in valid:
            raise ValueError(
                f"unknown territory {self.ti_id!r} in phase {self.ti_phase}; "
                f"{_format_choices(valid, self.ti_id)}"
            )
        return self

    @property
    def job_name(self) -> str:
        if self.ti_phase == DEFAULT_PHASE:
            return f"territoires/{self.ti_id}"
        return f"territoires/phase{self.ti_phase}/{self.ti_id}"

    @property
    def title(self) -> str:
        name = list_territories(self.processed_dir, self.ti_phase).get(self.ti_id, self.ti_id)
        return f"Territoire d'industrie {name} ({self.ti_id}, phase {self.ti_phase})"


# --------------------------------------------------------------------------------------------
# Run file
# --------------------------------------------------------------------------------------------


def _all_or_list(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip() == ALL:
            return [ALL]
        raise ValueError(f"expected {ALL!r} or a list of quoted codes, got {value!r}")
    return value


def _code(value: Any) -> str:
    return _require_str(value, "a code")


#: A code as written in a run file: a string, never a number.
Code = Annotated[str, BeforeValidator(_code)]
#: The word meaning "every one in the data".
ALL = "all"


class TerritorySelection(BaseModel):
    """Territories of one phase: a list of ``ti_id`` or ``"all"``."""

    model_config = ConfigDict(extra="forbid")

    phase: Phase = DEFAULT_PHASE
    ids: list[Code] = Field(default_factory=lambda: [ALL])

    @field_validator("ids", mode="before")
    @classmethod
    def _ids_all_or_list(cls, value: Any) -> Any:
        return _all_or_list(value)


class ReportSelection(BaseModel):
    """Which reports a run file asks for (``regions: all`` or a list of codes)."""

    model_config = ConfigDict(extra="forbid")

    national: bool = False
    regions: list[Code] = Field(default_factory=list)
    territories: TerritorySelection | None = None

    @field_validator("regions", mode="before")
    @classmethod
    def _regions_all_or_list(cls, value: Any) -> Any:
        return _all_or_list(value)


class ReportOptions(BaseModel):
    """Analysis parameters given to every report of a run (absent: the notebooks' defaults)."""

    model_config = ConfigDict(extra="forbid")

    n_boot: int | None = Field(default=None, ge=99, le=99_999)
    seed: int | None = Field(default=None, ge=0)
    phase: Phase | None = Field(
        default=None, description="attribution perimeter of national and régional reports"
    )

    def for_kind(self, kind: str) -> dict[str, Any]:
        """The options that apply to reports of ``kind``."""
        fields = {"n_boot": self.n_boot, "seed": self.seed}
        if kind in ("national", "region"):
            fields["phase"] = self.phase
        return {k: v for k, v in fields.items() if v is not None}


class RunFile(BaseModel):
    """A YAML run file (see ``config/run.example.yml``). Relative paths are from the project
    root; absent values fall back to the command line, then to the defaults."""

    model_config = ConfigDict(extra="forbid")

    reports: ReportSelection
    parameters: ReportOptions = Field(default_factory=ReportOptions)
    processed_dir: str | None = None
    published_dir: str | None = None
    output_dir: str | None = None
    notebooks_dir: str | None = None
    workers: PositiveInt | None = None
    force: bool = False
    self_contained: bool = False
    cell_timeout_s: PositiveInt | None = None
    engine: Literal["warm", "papermill"] | None = None
    executor: Literal["local", "dask"] | None = None
    scheduler: str | None = None


def format_validation_error(exc: ValidationError, source: str, prefix: str = "") -> list[str]:
    """One line per error: ``source: key.path: message``."""
    lines = []
    for err in exc.errors():
        parts = [prefix] if prefix else []
        for loc in err["loc"]:
            if isinstance(loc, int):
                parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
            else:
                parts.append(str(loc))
        key = ".".join(parts) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key}: {message}")
    return lines


def read_run_file(path: Path) -> RunFile:
    """Parse and validate a run file; :class:`ParameterError` names the file and the key.

    The YAML is read by :mod:`analyse.yamlsafe`: size, nesting depth and the absence of
    aliases are checked before any object is built; errors name the line and column.
    """
    try:
        data = load_yaml(read_yaml_text(path), source=path)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read run file ({exc.strerror})") from exc
    except YamlError as exc:
        raise ParameterError(f"{exc} (not a valid run file)") from exc
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping with a `reports` key")
    try:
        return RunFile.model_validate(data)
    except ValidationError as exc:
        raise ParameterError("\n".join(format_validation_error(exc, str(path)))) from exc


def build_params(
    selection: ReportSelection,
    *,
    processed_dir: str | Path,
    published_dir: str | Path | None = None,
    options: ReportOptions | None = None,
    source: str = "command line",
) -> list[ReportParams]:
    """Expand a selection into validated parameter models; every error is reported at once."""
    common = {"processed_dir": str(processed_dir), "published_dir": _as_str_path(published_dir)}
    options = options or ReportOptions()
    out: list[ReportParams] = []
    errors: list[str] = []

    def attempt(model: type[ReportParams], key: str, **fields: Any) -> None:
        try:
            out.append(model(**common, **options.for_kind(model.kind), **fields))
        except ValidationError as exc:
            for line in format_validation_error(exc, source, prefix=key):
                errors.append(line)
        except ParameterError as exc:
            errors.append(f"{source}: {key}: {exc}")

    if selection.national:
        attempt(NationalParams, "reports.national")
    if selection.regions == [ALL]:
        for code in list_region_codes(processed_dir):
            attempt(RegionParams, "reports.regions", region_code=code)
    else:
        for i, code in enumerate(selection.regions):
            attempt(RegionParams, f"reports.regions[{i}]", region_code=code)
    terr = selection.territories
    if terr is not None:
        if terr.ids == [ALL]:
            try:
                ids = list(list_territories(processed_dir, terr.phase))
            except ParameterError as exc:
                errors.append(f"{source}: reports.territories: {exc}")
                ids = []
            for ti_id in ids:
                attempt(TerritoryParams, "reports.territories", ti_id=ti_id, ti_phase=terr.phase)
        else:
            for i, ti_id in enumerate(terr.ids):
                attempt(
                    TerritoryParams,
                    f"reports.territories.ids[{i}]",
                    ti_id=ti_id,
                    ti_phase=terr.phase,
                )
    if errors:
        # validation errors from model fields repeat the model's key; keep them readable
        raise ParameterError("\n".join(dict.fromkeys(errors)))
    if not out:
        raise ParameterError(
            f"{source}: reports: nothing selected (national, regions, territories)"
        )
    return out
