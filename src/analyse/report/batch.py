"""A batch of reports: :func:`run_batch` ``(jobs, out_dir, workers) -> RunResult``.

Order of a batch: pin the processed snapshot (``resolve_snapshot`` once) and lease it, run the
optional preparation step (figures), bind ``processed_dir`` / ``figures_dir`` into every job,
compute cache keys, copy pages reusable from earlier runs (finished or killed), run the rest on
the executor (local pool or Dask) with the engine (warm or papermill), journal each page as it
completes, then write run.json, the index and the ``latest`` link. Layout of one run::

    <out_dir>/<run-id>/
        index.html                catalogue for readers (régions, key figures, search)
        run.html                  every report: status, duration, parameters, logs, sources
        national.html, regions/<code>.html, territoires/<ti_id>.html
        assets/vega-bundle.js     chart library, shared by the pages (unless self-contained)
        notebooks/<name>.ipynb    executed notebooks (partial ones kept for failed reports)
        logs/<name>.log           papermill log and cell outputs, traceback on failure
        logs/run.log              one line per report (status, duration), worker deaths
        logs/journal.jsonl        one fsynced line per finished page (survives kill -9)
        logs/run.json             statuses, durations, parameters, cache keys, snapshot id
    <out_dir>/latest -> <run-id>  (symlink; <out_dir>/LATEST holds the run id as text too)

A failing report never stops the others: :attr:`RunResult.exit_code` is 1. SIGTERM or Ctrl-C
marks unfinished reports ``interrupted`` (exit code 130) and leaves ``latest`` alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from analyse.errors import ParameterError
from analyse.files import sha256_file, write_text_atomic
from analyse.paths import find_project_root
from analyse.report.cache import compute_cache_key, hash_package, previous_reports, reuse_first
from analyse.report.executors import Executor, make_executor
from analyse.report.jobs import (
    DEFAULT_ENGINE,
    ENGINES,
    JOURNAL_FILE,
    KERNEL_NAME,
    LATEST_FILE,
    LATEST_LINK,
    RUN_FILE,
    Job,
    ReportResult,
    RunResult,
)
from analyse.report.journal import Journal
from analyse.report.meta import banner_for, page_meta
from analyse.report.notebook import declared_parameters, load_source_notebook, notebook_imports
from analyse.report.snapshot import Snapshot, lease, pin_snapshot

logger = logging.getLogger("analyse.report.runner")

#: ``prepare(snapshot_dir) -> figures_dir``: run once before any report (the figures stage).
Prepare = Callable[[Path], Path]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id(out_dir: Path) -> str:
    """A timestamp (UTC) not yet used in ``out_dir``."""
    base = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id, n = base, 1
    while (out_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def _make_run_dir(out_dir: Path, run_id: str | None) -> Path:
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
    return run_dir


def update_latest(out_dir: Path, run_id: str) -> Path:
    """Point ``<out_dir>/latest`` at the run (symlink) and write ``<out_dir>/LATEST``."""
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

    def warning(self, message: str) -> None:
        self._write(f"WARNING {message}")
        logger.warning(message)

    def report(self, result: ReportResult) -> None:
        line = _log_line(result)
        self._write(line)
        if result.status == "failed":
            logger.warning(line)
        elif self.echo_reports:
            logger.info(line)

    def close(self) -> None:
        self.fh.close()


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM raises ``KeyboardInterrupt`` in the main thread during the batch."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@dataclasses.dataclass
class _Settings:
    """What every task of a batch shares."""

    cwd: Path
    engine: str
    self_contained: bool
    cell_timeout_s: int | None
    max_attempts: int
    force: bool
    progress: bool
    update_latest: bool


class _Batch:
    """State of one running batch: results, logs, journal, and the final files."""

    def __init__(
        self,
        jobs: list[Job],
        run_dir: Path,
        snapshot: Snapshot,
        settings: _Settings,
        figures: tuple[str | None, str | None],
        clock: float,
    ) -> None:
        self.jobs, self.run_dir, self.snapshot, self.settings = jobs, run_dir, snapshot, settings
        self.figures_dir, self.figures_key = figures
        self.started_at = _now()
        self.clock = clock  # time.monotonic() when run_batch was called
        self.first_page_s: float | None = None
        self.meta = page_meta(snapshot.metadata, self.started_at, snapshot.snapshot_id)
        self.banner = banner_for(snapshot.metadata)
        self.results: dict[str, ReportResult] = {}
        self.run_log = _RunLog(run_dir / "logs" / "run.log", echo_reports=not settings.progress)
        self.journal = Journal(run_dir / JOURNAL_FILE)
        self.bar = _Progress(len(jobs), settings.progress)
        self.asset_written = settings.self_contained
        options = {"self_contained": settings.self_contained, "kernel": KERNEL_NAME}
        package = hash_package()
        self.keys = {
            job.name: compute_cache_key(
                job, snapshot.snapshot_id, package, options, self.figures_key
            )
            for job in jobs
        }

    def record(self, job: Job, fields: Mapping[str, Any]) -> None:
        """Store one outcome: result, run.log line, progress, journal line for a page."""
        result = ReportResult(
            name=job.name,
            title=job.title or job.name,
            kind=job.kind,
            parameters=dict(job.parameters),
            notebook_source=str(job.notebook),
            cache_key=self.keys[job.name],
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
            timings=dict(fields.get("timings") or {}),
        )
        self.results[job.name] = result
        for warning in fields.get("warnings") or ():
            self.run_log.warning(warning)
        if result.status in ("ok", "cached") and result.html:
            self._journal(result)
            if self.first_page_s is None:
                self.first_page_s = round(time.monotonic() - self.clock, 3)
        self.run_log.report(result)
        self.bar.update(result)

    def _journal(self, result: ReportResult) -> None:
        entry = {
            key: getattr(result, key)
            for key in ("name", "status", "cache_key", "html", "notebook", "log", "html_bytes")
        }
        entry["html_sha256"] = sha256_file(self.run_dir / result.html)
        entry["reused_from"] = result.reused_from
        entry["snapshot_id"] = self.snapshot.snapshot_id
        entry["finished_at"] = _now()
        self.journal.append(entry)

    def reuse_cached(self, out_dir: Path) -> list[Job]:
        """Copy reusable pages of earlier runs; return the jobs left to run."""
        previous = {} if self.settings.force else previous_reports(out_dir, self.run_dir.name)
        pending = []
        for job in self.jobs:
            hits = previous.get(self.keys[job.name])
            reused = reuse_first(self.run_dir, hits) if hits else None
            if reused is not None:
                self.record(job, {"status": "cached", "duration_s": 0.0, **reused})
            else:
                pending.append(job)
        return pending

    def task(self, job: Job) -> dict[str, Any]:
        """The picklable task a worker runs for ``job``."""
        return {
            "name": job.name,
            "title": job.title or job.name,
            "notebook": str(job.notebook.resolve()),
            "parameters": dict(job.parameters),
            "run_dir": str(self.run_dir),
            "run_id": self.run_dir.name,
            "cwd": str(self.settings.cwd),
            "engine": self.settings.engine,
            "self_contained": self.settings.self_contained,
            "meta": self.meta,
            "banner": self.banner,
            "cell_timeout_s": self.settings.cell_timeout_s,
            "max_attempts": self.settings.max_attempts,
            "capture_stderr": True,
        }

    def write_asset(self) -> None:
        """The shared chart bundle, once (while the workers start)."""
        if not self.asset_written:
            from analyse.report.assets import write_vega_asset

            write_vega_asset(self.run_dir)
            self.asset_written = True

    def run(self, executor: Executor, out_dir: Path) -> RunResult:
        """Reuse, execute, finish; never raises for a failing report."""
        interrupted = False
        self.run_log.info(
            f"run {self.run_dir.name}: {len(self.jobs)} reports, {executor.workers} workers "
            f"({executor.name} executor, {self.settings.engine} engine), into {self.run_dir} "
            f"(snapshot {self.snapshot.snapshot_id} at {self.snapshot.path})"
        )
        try:
            with _sigterm_interrupts():
                pending = self.reuse_cached(out_dir)
                items = [(job, self.task(job)) for job in pending]
                executor.run(items, self.record, self.write_asset, self.run_log.warning)
                self.write_asset()
        except KeyboardInterrupt:
            interrupted = True
            self.run_log.info(
                f"run {self.run_dir.name} interrupted: unfinished reports are marked interrupted"
            )
        finally:
            result = self.finish(out_dir, executor, interrupted)
        return result

    def finish(self, out_dir: Path, executor: Executor, interrupted: bool) -> RunResult:
        """Mark what did not run, write run.json and the index, point ``latest`` at the run."""
        from analyse.report.index import write_index_html

        self.bar.close()
        for job in self.jobs:
            if job.name not in self.results:
                self.record(job, {"status": "interrupted", "error": "run interrupted"})
        self.journal.close()
        for tmp in self.run_dir.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        result = RunResult(
            run_id=self.run_dir.name,
            run_dir=self.run_dir,
            reports=[self.results[job.name] for job in self.jobs],
            started_at=self.started_at,
            finished_at=_now(),
            workers=executor.workers,
            interrupted=interrupted,
            metadata=self.snapshot.metadata,
            processed_dir=str(self.snapshot.path),
            snapshot_id=self.snapshot.snapshot_id,
            figures_dir=self.figures_dir,
            figures_key=self.figures_key,
            engine=self.settings.engine,
            executor=executor.name,
            first_page_s=self.first_page_s,
        )
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
        write_text_atomic(self.run_dir / RUN_FILE, text)
        write_index_html(result, self.run_dir / "index.html")
        if self.settings.update_latest and not interrupted:
            update_latest(out_dir, result.run_id)
        counts = ", ".join(f"{n} {s}" for s, n in result.to_dict()["counts"].items())
        status = result.to_dict()["status"]
        self.run_log.info(f"run {result.run_id}: {status} ({counts})")
        self.run_log.close()
        return result


def _check_jobs(jobs: Sequence[Job]) -> list[Job]:
    jobs = list(jobs)
    names = [job.name for job in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParameterError(f"two jobs write the same report: {', '.join(duplicates)}")
    if not jobs:
        raise ParameterError("no report to run")
    return jobs


def _bind(jobs: list[Job], snapshot: Snapshot, figures_dir: str | None) -> list[Job]:
    """Every job reads the pinned snapshot (and the figures, when there are)."""
    extra: dict[str, Any] = {"processed_dir": str(snapshot.path)}
    if figures_dir is not None:
        extra["figures_dir"] = figures_dir
    return [dataclasses.replace(job, parameters={**job.parameters, **extra}) for job in jobs]


def _reads_figures(jobs: Sequence[Job]) -> bool:
    """Whether some notebook declares a ``figures_dir`` parameter (the figures step is then
    worth running)."""
    for notebook in dict.fromkeys(job.notebook for job in jobs):
        with contextlib.suppress(Exception):
            if "figures_dir" in declared_parameters(load_source_notebook(notebook)):
                return True
    return False


def warm_modules(jobs: Sequence[Job]) -> list[str]:
    """Modules the jobs' notebooks import (a warm worker imports them before any report)."""
    modules: list[str] = []
    for notebook in dict.fromkeys(job.notebook for job in jobs):
        with contextlib.suppress(Exception):
            nb = load_source_notebook(notebook)
            code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
            modules += notebook_imports(code)
    return list(dict.fromkeys(modules))


def _default_processed(jobs: list[Job]) -> Path | str | None:
    return next(
        (j.parameters.get("processed_dir") for j in jobs if j.parameters.get("processed_dir")), None
    )


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
    engine: str = DEFAULT_ENGINE,
    executor: str = "local",
    scheduler: str | Any | None = None,
    figures_dir: Path | str | None = None,
    figures_key: str | None = None,
    prepare: Prepare | None = None,
) -> RunResult:
    """Run ``jobs`` into a new run folder of ``out_dir``; never raises for a failing report.

    ``processed_dir`` (default: the jobs' ``processed_dir`` parameter, else ``data/processed``)
    is resolved once to a snapshot that every notebook reads. ``prepare(snapshot_dir)``, if
    given and some notebook declares a ``figures_dir`` parameter, runs first and returns the
    ``figures_dir`` passed to every notebook (its folder name is the figures key unless
    ``figures_key`` is given); both go into the cache keys.
    ``engine``: ``warm`` or ``papermill``; ``executor``: ``local`` (``workers`` processes,
    default: number of cores) or ``dask`` (``scheduler``: address or ``distributed.Client``).
    ``cwd`` is the notebooks' working folder (default: the project root).
    """
    clock = time.monotonic()
    jobs = _check_jobs(jobs)
    if engine not in ENGINES:
        raise ParameterError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    out_dir = Path(out_dir).resolve()
    snapshot = pin_snapshot(processed_dir or _default_processed(jobs))
    pool = make_executor(executor, workers, scheduler, engine, len(jobs))
    getattr(pool, "prestart", lambda: None)()  # forkserver imports while we prepare
    pool.warm_modules = tuple(warm_modules(jobs))
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = _make_run_dir(out_dir, run_id)
    settings = _Settings(
        cwd=Path(cwd) if cwd is not None else find_project_root(),
        engine=engine,
        self_contained=self_contained,
        cell_timeout_s=cell_timeout_s,
        max_attempts=max_attempts,
        force=force,
        progress=sys.stdout.isatty() if progress is None else progress,
        update_latest=update_latest_link,
    )
    with lease(snapshot):
        if prepare is not None and _reads_figures(jobs):
            figures_dir = prepare(snapshot.path)
        figures = str(Path(figures_dir).resolve()) if figures_dir is not None else None
        key = figures_key or (Path(figures).name if figures else None)
        batch = _Batch(
            _bind(jobs, snapshot, figures), run_dir, snapshot, settings, (figures, key), clock
        )
        return batch.run(pool, out_dir)
