"""What a batch runs and what it gives back: :class:`Job`, :class:`ReportResult`,
:class:`RunResult`, the run folder's fixed names, and the notebooks of each report kind."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import analyse
from analyse.errors import ParameterError
from analyse.paths import find_project_root

if TYPE_CHECKING:
    from analyse.report.params import ReportParams

#: Kernel every report notebook runs on (set explicitly, whatever the notebook metadata says).
KERNEL_NAME = "python3"
#: Report kind -> notebook stem in ``notebooks/`` (``.py`` paired with jupytext, or ``.ipynb``).
NOTEBOOK_STEMS: dict[str, str] = {
    "national": "national_review",
    "region": "regional_report",
    "territory": "territory_sheet",
}
RUN_FILE = "logs/run.json"
#: One fsynced JSON line per page completed (run or reused): survives a killed run.
JOURNAL_FILE = "logs/journal.jsonl"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"

#: Engines executing a notebook (see :mod:`analyse.report.worker`).
ENGINES = ("warm", "papermill")
DEFAULT_ENGINE = "warm"
#: Imported by every warm worker before its first report (plus the notebooks' own imports).
DEFAULT_WARM_MODULES = (
    "polars",
    "altair",
    "statsmodels.api",
    "analyse",
    "analyse.charts",
    "analyse.review",
    "analyse.report.display",
    "analyse.report.params",
    "IPython.display",
    "jupytext",
    "papermill",
)

Status = Literal["ok", "cached", "failed", "interrupted"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_RESERVED_NAMES = frozenset({"index", "run"})
_RESERVED_FOLDERS = frozenset({"assets", "logs", "notebooks"})


@dataclass(frozen=True)
class Job:
    """One report to produce.

    ``name`` is the output path without extension, relative to the run folder
    (``national``, ``regions/84``, ``territoires/ti-8401``); ``parameters`` are injected by
    papermill into the notebook's ``parameters`` cell.
    """

    name: str
    notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    kind: str = "custom"

    def __post_init__(self) -> None:
        if not _NAME_RE.fullmatch(self.name) or ".." in self.name.split("/"):
            raise ParameterError(
                f"job name {self.name!r}: expected a relative path of letters, digits, '.', '_', "
                "'-' and '/'"
            )
        if self.name in _RESERVED_NAMES or self.name.split("/")[0] in _RESERVED_FOLDERS:
            raise ParameterError(
                f"job name {self.name!r} is reserved: the run folder uses "
                f"{', '.join(sorted(_RESERVED_NAMES | _RESERVED_FOLDERS))}"
            )


@dataclass
class ReportResult:
    """Outcome of one job (paths are relative to the run folder).

    ``timings`` (seconds): ``execute_s`` (engine, notebook included), ``cells_s`` (the cells
    themselves, as papermill timed them), ``html_s`` (page export); the engine's overhead is
    ``execute_s - cells_s``.
    """

    name: str
    title: str
    kind: str
    status: Status
    duration_s: float
    parameters: dict[str, Any]
    notebook_source: str
    cache_key: str = ""
    html: str | None = None
    notebook: str | None = None
    log: str | None = None
    html_bytes: int | None = None
    attempts: int = 0
    error: str | None = None
    traceback: str | None = None
    reused_from: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (as stored in ``logs/run.json``)."""
        return asdict(self)


@dataclass
class RunResult:
    """Outcome of a batch."""

    run_id: str
    run_dir: Path
    reports: list[ReportResult]
    started_at: str
    finished_at: str
    workers: int
    interrupted: bool = False
    metadata: dict[str, Any] | None = None
    processed_dir: str | None = None
    snapshot_id: str | None = None
    figures_dir: str | None = None
    figures_key: str | None = None
    engine: str = "warm"
    executor: str = "local"
    first_page_s: float | None = None

    @property
    def failed(self) -> list[ReportResult]:
        """Reports that failed or were interrupted."""
        return [r for r in self.reports if r.status in ("failed", "interrupted")]

    @property
    def ok(self) -> bool:
        """Whether every report was produced (run or reused)."""
        return not self.interrupted and not self.failed

    @property
    def exit_code(self) -> int:
        """0 all produced, 1 some report failed, 130 interrupted."""
        if self.interrupted:
            return 130
        return 0 if self.ok else 1

    @property
    def index_html(self) -> Path:
        """The run's index page."""
        return self.run_dir / "index.html"

    def result(self, name: str) -> ReportResult:
        """The result of the job called ``name``."""
        for report in self.reports:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """What ``logs/run.json`` holds."""
        counts: dict[str, int] = {}
        for report in self.reports:
            counts[report.status] = counts.get(report.status, 0) + 1
        status = "interrupted" if self.interrupted else ("ok" if self.ok else "failed")
        return {
            "run_id": self.run_id,
            "status": status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "first_page_s": self.first_page_s,
            "workers": self.workers,
            "engine": self.engine,
            "executor": self.executor,
            "package_version": analyse.__version__,
            "snapshot_id": self.snapshot_id,
            "processed_dir": self.processed_dir,
            "figures_key": self.figures_key,
            "figures_dir": self.figures_dir,
            "data": self.metadata,
            "counts": counts,
            "reports": [r.to_dict() for r in self.reports],
        }


def resolve_notebook(notebooks_dir: Path, stem: str) -> Path:
    """``<stem>.py`` (jupytext, the committed file) if present, else ``<stem>.ipynb``."""
    for suffix in (".py", ".ipynb"):
        candidate = notebooks_dir / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise ParameterError(
        f"notebook {notebooks_dir / stem}.py (or .ipynb) not found: it is needed for this report"
    )


def job_from_params(params: ReportParams, notebooks_dir: Path | None = None) -> Job:
    """The job running ``params`` through its kind's notebook in ``notebooks_dir``."""
    folder = notebooks_dir or find_project_root() / "notebooks"
    notebook = resolve_notebook(folder, NOTEBOOK_STEMS[params.kind])
    return Job(
        name=params.job_name,
        notebook=notebook,
        parameters=params.to_parameters(),
        title=params.title,
        kind=params.kind,
    )


def iter_jobs(params: Iterable[ReportParams], notebooks_dir: Path | None = None) -> list[Job]:
    """Jobs for validated parameters (notebooks resolved before anything runs)."""
    return [job_from_params(p, notebooks_dir) for p in params]


def read_run(run_dir: Path) -> dict[str, Any]:
    """The ``logs/run.json`` of a run folder."""
    return json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))


def summarise(result: RunResult) -> str:
    """A short text summary for the terminal: counts, then each failure and why."""
    data = result.to_dict()
    counts = ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items()))
    lines = [f"{len(result.reports)} reports ({counts}) -> {result.index_html}"]
    for report in result.failed:
        lines.append(f"  FAILED {report.name}: {report.error or report.status}")
        if report.notebook:
            lines.append(f"    partial notebook: {result.run_dir / report.notebook}")
        if report.log:
            lines.append(f"    log: {result.run_dir / report.log}")
    return "\n".join(lines)
