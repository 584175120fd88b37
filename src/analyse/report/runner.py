"""Run report notebooks in parallel with papermill, isolate failures, publish offline HTML.

One batch is :func:`run_batch` ``(jobs, out_dir, workers) -> RunResult``. Each :class:`Job`
is one notebook (jupytext ``.py`` or ``.ipynb``) with its parameters; jobs run through
``papermill.execute_notebook`` in a pool of worker processes (``forkserver`` context where
available, else ``spawn``), each notebook in a fresh ``python3`` kernel whose working folder
is the project root. Layout of one run::

    <out_dir>/<run-id>/
        index.html                every report: status, duration, parameters, data vintage
        national.html, regions/<code>.html, territoires/<ti_id>.html
        assets/vega-bundle.js     chart library, shared by the pages (unless self-contained)
        notebooks/<name>.ipynb    executed notebooks (partial ones kept for failed reports)
        logs/<name>.log           papermill log and cell outputs, traceback on failure
        logs/run.log              one line per report (status, duration)
        logs/run.json             statuses, durations, parameters, cache keys, data vintage
    <out_dir>/latest -> <run-id>  (symlink; <out_dir>/LATEST holds the run id as text too)

A failing report never stops the others: its partial notebook and traceback are kept, it is
marked failed in ``index.html`` and ``logs/run.json``, and :attr:`RunResult.exit_code` is 1.
An executed notebook with no output at all (seen under parallel load) counts as a failure and
is retried once, as are kernel start-up / kernel death errors. Reports whose cache key (hash of
notebook source, parameters, processed data files, package version and source) matches an
``ok`` report of an earlier run in ``out_dir`` are copied from it instead of re-run, unless
``force``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat

import analyse
from analyse.errors import ParameterError
from analyse.files import sha256_file
from analyse.paths import find_project_root, get_processed_dir
from analyse.report.display import BATCH_ENV
from analyse.report.params import ReportParams

logger = logging.getLogger(__name__)

#: Kernel every report notebook runs on (set explicitly, whatever the notebook metadata says).
KERNEL_NAME = "python3"
#: Report kind -> notebook stem in ``notebooks/`` (``.py`` paired with jupytext, or ``.ipynb``).
NOTEBOOK_STEMS: dict[str, str] = {
    "national": "national_review",
    "region": "regional_report",
    "territory": "territory_sheet",
}
RUN_FILE = "logs/run.json"
LATEST_LINK = "latest"
LATEST_FILE = "LATEST"

Status = Literal["ok", "cached", "failed", "interrupted"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_RESERVED_NAMES = frozenset({"index", "run"})
_RESERVED_FOLDERS = frozenset({"assets", "logs", "notebooks"})
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------
# Jobs and results
# --------------------------------------------------------------------------------------------


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
    """Outcome of one job (paths are relative to the run folder)."""

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
            "workers": self.workers,
            "package_version": analyse.__version__,
            "processed_dir": self.processed_dir,
            "data": self.metadata,
            "counts": counts,
            "reports": [r.to_dict() for r in self.reports],
        }


# --------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------


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


def load_source_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook (jupytext text or ipynb) ready to execute: no outputs, python3 kernel."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
    else:
        import jupytext

        nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata.setdefault("language_info", {"name": "python"})
    for cell in nb.cells:
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def check_executed(nb: nbformat.NotebookNode) -> str | None:
    """Why an executed notebook is not a real result (``None`` when it is)."""
    code = [c for c in nb.cells if c.cell_type == "code" and "".join(c.source).strip()]
    if not code:
        return None
    not_run = [c for c in code if c.get("execution_count") is None]
    if not_run:
        return f"{len(not_run)} of {len(code)} code cells were not executed"
    if not any(c.get("outputs") for c in code):
        return "no cell produced any output"
    return None


def _papermill_execute(
    source: nbformat.NotebookNode, output: Path, task: Mapping[str, Any]
) -> nbformat.NotebookNode:
    import papermill

    os.environ[BATCH_ENV] = "1"
    kwargs: dict[str, Any] = {}
    if task.get("cell_timeout_s"):
        kwargs["execution_timeout"] = task["cell_timeout_s"]
    return papermill.execute_notebook(
        copy.deepcopy(source),
        str(output),
        parameters=dict(task["parameters"]),
        kernel_name=KERNEL_NAME,
        language="python",
        progress_bar=False,
        log_output=True,
        cwd=task["cwd"],
        start_timeout=task.get("start_timeout_s", 120),
        request_save_on_cell_execute=True,
        **kwargs,
    )


def _fix_output_metadata(path: Path, source: str) -> nbformat.NotebookNode | None:
    """papermill stores an in-memory input notebook as its own metadata: keep the path only."""
    if not path.is_file():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # a notebook cut short by a crash: keep it as it is
        return None
    nb.metadata.setdefault("papermill", {})["input_path"] = source
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return nb


@contextlib.contextmanager
def _report_log(path: Path, *, capture_stderr: bool = False):
    """Send papermill's log (cell outputs included) and ours to ``path``; with
    ``capture_stderr`` (in worker processes) the process's stderr too, which the kernel
    inherits: its warnings and crash messages land in the report's log, not the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    targets = [logging.getLogger("papermill"), logging.getLogger("analyse.report.worker")]
    saved = [(t, t.level, t.propagate) for t in targets]
    for target in targets:
        target.addHandler(handler)
        target.setLevel(logging.INFO)
        target.propagate = False
    saved_fd = None
    if capture_stderr:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, 2)
        os.close(fd)
    try:
        yield logging.getLogger("analyse.report.worker")
    finally:
        if saved_fd is not None:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        for target, level, propagate in saved:
            target.removeHandler(handler)
            target.setLevel(level)
            target.propagate = propagate
        handler.close()


Executor = Callable[[nbformat.NotebookNode, Path, Mapping[str, Any]], nbformat.NotebookNode]


def execute_report(task: Mapping[str, Any], execute: Executor | None = None) -> dict[str, Any]:
    """Worker: run one notebook, check it, export its HTML; never raises for a report error.

    ``task`` is a plain dict (see :func:`run_batch`); ``execute`` replaces papermill in tests.
    Returns the fields of a :class:`ReportResult`.
    """
    from papermill.exceptions import PapermillExecutionError

    from analyse.report.html import write_report_html

    execute = execute or _papermill_execute
    run_dir = Path(task["run_dir"])
    name = task["name"]
    nb_path = run_dir / "notebooks" / f"{name}.ipynb"
    log_path = run_dir / "logs" / f"{name}.log"
    html_path = run_dir / f"{name}.html"
    nb_path.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "status": "failed",
        "notebook": None,
        "log": log_path.relative_to(run_dir).as_posix(),
        "html": None,
        "html_bytes": None,
        "attempts": 0,
        "error": None,
        "traceback": None,
    }
    started = time.monotonic()
    max_attempts = int(task.get("max_attempts", 2))
    with _report_log(log_path, capture_stderr=bool(task.get("capture_stderr"))) as log:
        log.info(
            "report %s: notebook %s, parameters %s", name, task["notebook"], task["parameters"]
        )
        try:
            source = load_source_notebook(Path(task["notebook"]))
        except Exception as exc:
            out["error"] = f"cannot read notebook {task['notebook']}: {type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc()
            log.error("%s\n%s", out["error"], out["traceback"])
            source = None
        attempt = 0
        while source is not None and attempt < max_attempts:
            attempt += 1
            out["attempts"] = attempt
            try:
                nb = execute(source, nb_path, task)
            except PapermillExecutionError as exc:
                out["error"] = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
                out["traceback"] = _ANSI_RE.sub("", "\n".join(exc.traceback))
                log.error("execution failed in %s\n%s", out["error"], out["traceback"])
                break  # the notebook's own error: running it again gives the same
            except Exception as exc:  # kernel did not start, died, timed out...
                out["error"] = f"{type(exc).__name__}: {exc}"
                out["traceback"] = traceback.format_exc()
                log.error("attempt %d failed: %s\n%s", attempt, out["error"], out["traceback"])
                continue
            problem = check_executed(nb)
            if problem:
                out["error"] = f"executed notebook is empty: {problem}"
                out["traceback"] = None
                log.error("attempt %d: %s", attempt, out["error"])
                continue
            try:
                fixed = _fix_output_metadata(nb_path, str(task["notebook"])) or nb
                out["html_bytes"] = write_report_html(
                    fixed,
                    html_path,
                    title=task.get("title") or name,
                    run_dir=run_dir,
                    self_contained=bool(task.get("self_contained")),
                    meta=task.get("meta"),
                    banner=task.get("banner"),
                    index_href=os.path.relpath(run_dir / "index.html", html_path.parent),
                )
            except Exception as exc:
                out["error"] = f"HTML export failed: {type(exc).__name__}: {exc}"
                out["traceback"] = traceback.format_exc()
                log.error("%s\n%s", out["error"], out["traceback"])
                break
            out.update(status="ok", error=None, traceback=None)
            out["html"] = html_path.relative_to(run_dir).as_posix()
            break
        if nb_path.is_file():
            if out["status"] != "ok":
                _fix_output_metadata(nb_path, str(task["notebook"]))
            out["notebook"] = nb_path.relative_to(run_dir).as_posix()
        out["duration_s"] = round(time.monotonic() - started, 3)
        log.info("report %s: %s in %.1f s", name, out["status"], out["duration_s"])
    return out


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def hash_processed_dir(processed_dir: Path) -> str:
    """Checksum of the processed layer (every ``*.parquet`` and ``*.json`` file)."""
    digest = hashlib.sha256()
    if processed_dir.is_dir():
        for path in sorted(processed_dir.iterdir()):
            if path.is_file() and path.suffix in (".parquet", ".json"):
                digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    else:
        digest.update(b"no processed data")
    return digest.hexdigest()


def hash_package() -> str:
    """Version and source of the ``analyse`` package (library code changes the reports)."""
    digest = hashlib.sha256(analyse.__version__.encode())
    root = Path(analyse.__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def compute_cache_key(
    job: Job, data_hash: str, package_hash: str, options: Mapping[str, Any]
) -> str:
    """Hash of notebook source + parameters + processed data + package + page options."""
    digest = hashlib.sha256()
    digest.update(job.notebook.read_bytes())
    digest.update(json.dumps(dict(job.parameters), sort_keys=True, default=str).encode())
    digest.update(data_hash.encode())
    digest.update(package_hash.encode())
    digest.update(json.dumps(dict(options), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _previous_reports(out_dir: Path, exclude: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """cache key -> (run folder, report entry) of reusable reports, newest run first."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    if not out_dir.is_dir():
        return found
    runs = [
        p
        for p in out_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and p.name != exclude and (p / RUN_FILE).is_file()
    ]
    for run_dir in sorted(runs, key=lambda p: p.name, reverse=True):
        try:
            data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for entry in data.get("reports", []):
            key = entry.get("cache_key")
            if (
                key
                and key not in found
                and entry.get("status") in ("ok", "cached")
                and entry.get("html")
                and (run_dir / entry["html"]).is_file()
            ):
                found[key] = (run_dir, entry)
    return found


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def _reuse(run_dir: Path, previous: tuple[Path, dict[str, Any]]) -> dict[str, Any] | None:
    old_dir, entry = previous
    fields: dict[str, Any] = {}
    try:
        for key in ("html", "notebook", "log"):
            rel = entry.get(key)
            if rel and (old_dir / rel).is_file():
                _copy_atomic(old_dir / rel, run_dir / rel)
                fields[key] = rel
            else:
                fields[key] = None
    except OSError:
        return None
    if fields.get("log"):
        with (run_dir / fields["log"]).open("a", encoding="utf-8") as fh:
            fh.write(f"\n[analyse report] reused from run {old_dir.name} (same cache key)\n")
    fields["html_bytes"] = entry.get("html_bytes")
    fields["reused_from"] = entry.get("reused_from") or old_dir.name
    return fields


# --------------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------------


def new_run_id(out_dir: Path) -> str:
    """A timestamp (UTC) not yet used in ``out_dir``."""
    base = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id, n = base, 1
    while (out_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _mp_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["analyse.report.runner", "papermill", "nbconvert"])
        return ctx
    return multiprocessing.get_context("spawn")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


_busy = False


def _worker_sigterm(signum: int, frame: Any) -> None:
    if _busy:  # stop the notebook: papermill/nbclient shut its kernel down on the way out
        raise KeyboardInterrupt(f"signal {signum}")
    os._exit(0)  # idle worker: nothing to clean


def _init_worker() -> None:
    """Workers ignore Ctrl-C (the parent decides) and turn SIGTERM into a clean stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)
    os.environ[BATCH_ENV] = "1"


def _execute_in_worker(task: Mapping[str, Any]) -> dict[str, Any]:
    global _busy
    _busy = True
    try:
        return execute_report(task)
    finally:
        _busy = False


def _stop_workers(executor: cf.ProcessPoolExecutor) -> None:
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + 20
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()


class _Progress:
    """One self-rewriting terminal line (only when stdout is a TTY)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.done, self.failed = total, enabled, 0, 0

    def update(self, result: ReportResult) -> None:
        self.done += 1
        self.failed += result.status in ("failed", "interrupted")
        if self.enabled:
            bad = f", {self.failed} failed" if self.failed else ""
            line = (
                f"[{self.done}/{self.total}{bad}] {result.name}: {result.status} "
                f"({result.duration_s:.1f} s)"
            )
            sys.stdout.write(f"\r\x1b[K{line}")
            sys.stdout.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stdout.write("\n")
            sys.stdout.flush()


class _RunLog:
    """``logs/run.log`` (every line) and this module's logger (stderr via the CLI's logging
    set-up): run lines always, one line per report unless a progress bar shows them."""

    def __init__(self, path: Path, *, echo_reports: bool) -> None:
        self.fh = path.open("a", encoding="utf-8")
        self.echo_reports = echo_reports

    def _write(self, message: str) -> None:
        self.fh.write(f"{_now()} {message}\n")
        self.fh.flush()

    def info(self, message: str) -> None:
        self._write(message)
        logger.info(message)

    def report(self, result: ReportResult) -> None:
        line = _log_line(result)
        self._write(line)
        if result.status == "failed":
            logger.warning(line)
        elif self.echo_reports:
            logger.info(line)

    def close(self) -> None:
        self.fh.close()


def _log_line(result: ReportResult) -> str:
    parts = [
        f"report={result.name}",
        f"status={result.status}",
        f"duration_s={result.duration_s:.1f}",
        f"attempts={result.attempts}",
    ]
    if result.html_bytes is not None:
        parts.append(f"html_kb={result.html_bytes / 1024:.0f}")
    if result.reused_from:
        parts.append(f"reused_from={result.reused_from}")
    if result.error:
        parts.append(f"error={json.dumps(result.error.splitlines()[0], ensure_ascii=False)}")
    return " ".join(parts)


def _read_metadata(processed_dir: Path) -> dict[str, Any] | None:
    from analyse.tables import read_metadata

    try:
        return read_metadata(processed_dir)
    except (FileNotFoundError, ValueError):
        return None


SYNTHETIC_BANNER = (
    "Données synthétiques (analyse demo) : ces chiffres illustrent la chaîne de traitement "
    "et ne décrivent pas la réalité."
)


def page_meta(metadata: Mapping[str, Any] | None, generated_at: str) -> list[str]:
    """Header lines of every report page: production date and data vintage."""
    line = f"Produit le {generated_at.replace('T', ' à ').replace('+00:00', ' UTC')}"
    if metadata:
        cleaned = metadata.get("cleaned_at")
        if cleaned:
            line += f" · données nettoyées le {str(cleaned)[:10]}"
        version = metadata.get("package_version")
        if version:
            line += f" · analyse {version}"
    else:
        line += " · métadonnées des données absentes"
    return [line]


def update_latest(out_dir: Path, run_id: str) -> Path:
    """Point ``<out_dir>/latest`` at the run (symlink) and write ``<out_dir>/LATEST``."""
    from analyse.files import write_text_atomic

    write_text_atomic(out_dir / LATEST_FILE, run_id + "\n")
    link = out_dir / LATEST_LINK
    tmp = out_dir / f".{LATEST_LINK}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(run_id, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except (OSError, NotImplementedError):
        logger.info("symlinks not available here: %s holds the latest run id", LATEST_FILE)
        return out_dir / LATEST_FILE
    return link


def _iter_completed(futures: Iterable[cf.Future]) -> Iterable[cf.Future]:
    """Like ``as_completed``, but the main thread wakes up twice a second: a signal delivered
    to another thread (SIGTERM from a scheduler) then takes effect at once."""
    pending = set(futures)
    while pending:
        done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
        yield from done


def _new_pool(workers: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=_mp_context(), initializer=_init_worker
    )


def _run_pool(
    jobs: list[Job],
    workers: int,
    task: Callable[[Job], dict[str, Any]],
    record: Callable[[Job, Mapping[str, Any]], None],
    while_starting: Callable[[], None],
) -> list[Job]:
    """Run ``jobs`` in one pool; return those whose worker process died under them."""
    if not jobs:
        return []
    broken: list[Job] = []
    executor = _new_pool(workers)
    try:
        futures = {executor.submit(_execute_in_worker, task(job)): job for job in jobs}
        while_starting()
        for future in _iter_completed(futures):
            try:
                record(futures[future], future.result())
            except BrokenProcessPool:
                broken.append(futures[future])
    except BaseException:
        _stop_workers(executor)
        raise
    executor.shutdown(wait=True)
    return broken


def run_batch(
    jobs: Sequence[Job],
    out_dir: Path | str,
    workers: int | None = None,
    *,
    force: bool = False,
    processed_dir: Path | str | None = None,
    run_id: str | None = None,
    cwd: Path | str | None = None,
    self_contained: bool = False,
    cell_timeout_s: int | None = None,
    progress: bool | None = None,
    update_latest_link: bool = True,
    max_attempts: int = 2,
) -> RunResult:
    """Run ``jobs`` with ``workers`` processes (default: number of cores) into a new run folder.

    Never raises for a failing report: see :attr:`RunResult.exit_code`. ``processed_dir``
    (default: the jobs' ``processed_dir`` parameter, else ``data/processed``) gives the data
    vintage and the data checksum of the cache key. ``cwd`` is the notebooks' working folder
    (default: the project root).
    """
    jobs = list(jobs)
    names = [job.name for job in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParameterError(f"two jobs write the same report: {', '.join(duplicates)}")
    if not jobs:
        raise ParameterError("no report to run")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if run_id is not None:
        (out_dir / run_id).mkdir(exist_ok=False)
    else:  # two runs starting in the same second get -2, -3...
        while True:
            run_id = new_run_id(out_dir)
            try:
                (out_dir / run_id).mkdir()
                break
            except FileExistsError:
                continue
    run_dir = out_dir / run_id
    (run_dir / "logs").mkdir()
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if processed_dir is None:
        first = next((j.parameters.get("processed_dir") for j in jobs if j.parameters), None)
        processed_dir = first or get_processed_dir()
    processed_dir = Path(processed_dir)
    cwd = Path(cwd) if cwd is not None else find_project_root()
    progress = sys.stdout.isatty() if progress is None else progress
    started_at = _now()
    metadata = _read_metadata(processed_dir)
    banner = SYNTHETIC_BANNER if metadata and metadata.get("synthetic") else None
    meta = page_meta(metadata, started_at)

    run_log = _RunLog(run_dir / "logs" / "run.log", echo_reports=not progress)
    run_log.info(
        f"run {run_id}: {len(jobs)} reports, {workers} workers, into {run_dir} "
        f"(processed data {processed_dir})"
    )
    options = {"self_contained": self_contained, "kernel": KERNEL_NAME}
    package_hash = hash_package()
    data_hashes: dict[str, str] = {}

    def data_hash(job: Job) -> str:
        folder = str(job.parameters.get("processed_dir") or processed_dir)
        if folder not in data_hashes:
            data_hashes[folder] = hash_processed_dir(Path(folder))
        return data_hashes[folder]

    keys = {job.name: compute_cache_key(job, data_hash(job), package_hash, options) for job in jobs}
    previous = {} if force else _previous_reports(out_dir, exclude=run_id)
    results: dict[str, ReportResult] = {}
    bar = _Progress(len(jobs), progress)

    def record(job: Job, fields: Mapping[str, Any]) -> None:
        result = ReportResult(
            name=job.name,
            title=job.title or job.name,
            kind=job.kind,
            parameters=dict(job.parameters),
            notebook_source=str(job.notebook),
            cache_key=keys[job.name],
            status=fields.get("status", "failed"),
            duration_s=float(fields.get("duration_s", 0.0)),
            html=fields.get("html"),
            notebook=fields.get("notebook"),
            log=fields.get("log"),
            html_bytes=fields.get("html_bytes"),
            attempts=int(fields.get("attempts", 0)),
            error=fields.get("error"),
            traceback=fields.get("traceback"),
            reused_from=fields.get("reused_from"),
        )
        results[job.name] = result
        run_log.report(result)
        bar.update(result)

    pending: list[Job] = []
    for job in jobs:
        hit = previous.get(keys[job.name])
        reused = _reuse(run_dir, hit) if hit else None
        if reused is not None:
            record(job, {"status": "cached", "duration_s": 0.0, **reused})
        else:
            pending.append(job)

    def task(job: Job) -> dict[str, Any]:
        return {
            "name": job.name,
            "title": job.title or job.name,
            "notebook": str(job.notebook.resolve()),
            "parameters": dict(job.parameters),
            "run_dir": str(run_dir),
            "cwd": str(cwd),
            "self_contained": self_contained,
            "meta": meta,
            "banner": banner,
            "cell_timeout_s": cell_timeout_s,
            "max_attempts": max_attempts,
            "capture_stderr": True,
        }

    asset_written = self_contained

    def write_asset() -> None:
        nonlocal asset_written
        if not asset_written:
            from analyse.report.html import write_vega_asset

            write_vega_asset(run_dir)
            asset_written = True

    interrupted = False
    previous_handler = None
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        # A worker process that dies (not a kernel: those are handled in the worker) breaks
        # the whole pool. The reports it took down are then run again, each in a pool of its
        # own (``workers`` at a time), so that one report killing its worker fails alone.
        broken = _run_pool(pending, min(workers, len(pending)), task, record, write_asset)
        for start in range(0, len(broken), workers):
            chunk = broken[start : start + workers]
            executors = [_new_pool(1) for _ in chunk]
            try:
                futures = {
                    ex.submit(_execute_in_worker, task(job)): job
                    for ex, job in zip(executors, chunk, strict=True)
                }
                for future in _iter_completed(futures):
                    try:
                        record(futures[future], future.result())
                    except BrokenProcessPool as exc:
                        record(futures[future], {"error": f"worker process died: {exc}"})
            except BaseException:
                for ex in executors:
                    _stop_workers(ex)
                raise
            for ex in executors:
                ex.shutdown(wait=True)
        write_asset()
    except KeyboardInterrupt:
        interrupted = True
        run_log.info(f"run {run_id} interrupted: unfinished reports are marked interrupted")
    finally:
        if in_main_thread and previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
        bar.close()
        for job in jobs:
            if job.name not in results:
                record(job, {"status": "interrupted", "error": "run interrupted"})
        _remove_stray_tmp(run_dir)
        result = RunResult(
            run_id=run_id,
            run_dir=run_dir,
            reports=[results[job.name] for job in jobs],
            started_at=started_at,
            finished_at=_now(),
            workers=workers,
            interrupted=interrupted,
            metadata=metadata,
            processed_dir=str(processed_dir),
        )
        _finish(result, out_dir, update_latest_link and not interrupted)
        summary = result.to_dict()
        counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items())
        run_log.info(f"run {run_id}: {summary['status']} ({counts})")
        run_log.close()
    return result


def _remove_stray_tmp(run_dir: Path) -> None:
    for tmp in run_dir.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _finish(result: RunResult, out_dir: Path, latest: bool) -> None:
    from analyse.files import write_text_atomic
    from analyse.report.index import write_index_html

    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
    write_text_atomic(result.run_dir / RUN_FILE, text)
    write_index_html(result, result.run_dir / "index.html")
    if latest:
        update_latest(out_dir, result.run_id)


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


def iter_jobs(params: Iterable[ReportParams], notebooks_dir: Path | None = None) -> list[Job]:
    """Jobs for validated parameters (notebooks resolved before anything runs)."""
    return [job_from_params(p, notebooks_dir) for p in params]
