"""One report in a worker process: execute its notebook with an engine, check it, export its
page; never raise for a report's own failure.

Engines (``task["engine"]``):

* ``warm`` (default): the worker was warmed up once (:mod:`analyse.report.warm`); papermill
  runs in the worker with the ``analyse-warm`` engine, whose kernel is a child forked from the
  worker for each report (fresh state, no kernel start, no imports to redo).
* ``papermill``: papermill + nbclient on a fresh ``python3`` ipykernel per report.

A report is attempted up to ``max_attempts`` times (default 2) when a retry may help: the
kernel or the report process died, did not start, or the executed notebook came back empty. An
error raised by the notebook's own code is not retried.

Tasks are plain dicts (picklable, also sent to Dask workers): ``name``, ``title``,
``notebook``, ``parameters``, ``run_dir``, ``cwd``, ``engine``, ``self_contained``, ``meta``,
``banner``, ``cell_timeout_s``, ``max_attempts``, ``capture_stderr``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from analyse.report.assets import BATCH_ENV
from analyse.report.jobs import DEFAULT_ENGINE, ENGINES, KERNEL_NAME  # noqa: F401 - re-exported
from analyse.report.notebook import (
    cells_seconds,
    check_executed,
    fix_output_metadata,
    load_source_notebook,
)

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: ``(source notebook, output path, task) -> executed notebook``; tests pass their own.
ExecuteFn = Callable[[nbformat.NotebookNode, Path, Mapping[str, Any]], nbformat.NotebookNode]


@dataclass
class Attempt:
    """Outcome of one execution attempt (picklable: a forked report process sends it back)."""

    ok: bool
    retry: bool = False
    error: str | None = None
    traceback: str | None = None
    html_bytes: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportPaths:
    """Where one report writes, inside its run folder."""

    run_dir: Path
    name: str

    @property
    def notebook(self) -> Path:
        return self.run_dir / "notebooks" / f"{self.name}.ipynb"

    @property
    def log(self) -> Path:
        return self.run_dir / "logs" / f"{self.name}.log"

    @property
    def html(self) -> Path:
        return self.run_dir / f"{self.name}.html"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.run_dir).as_posix()


@contextlib.contextmanager
def report_log(path: Path, *, capture_stderr: bool = False):
    """Send papermill's log (cell outputs included) and ours to ``path``; with
    ``capture_stderr`` (in worker processes) the process's stderr too, which kernels and
    report processes inherit: their warnings and crash messages land in the report's log."""
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


def papermill_execute(
    source: nbformat.NotebookNode, output: Path, task: Mapping[str, Any]
) -> nbformat.NotebookNode:
    """papermill + nbclient on a fresh ``python3`` kernel (the ``papermill`` engine)."""
    import papermill

    os.environ[BATCH_ENV] = "1"
    kwargs: dict[str, Any] = {}
    if task.get("cell_timeout_s"):
        kwargs["execution_timeout"] = task["cell_timeout_s"]
    try:
        nb = papermill.execute_notebook(
            source,
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
    finally:
        fixed = fix_output_metadata(output, str(task["notebook"]))
    return fixed or nb


def _write_page(nb: nbformat.NotebookNode, paths: ReportPaths, task: Mapping[str, Any]) -> int:
    from analyse.report.html import write_report_html

    return write_report_html(
        nb,
        paths.html,
        title=task.get("title") or paths.name,
        run_dir=paths.run_dir,
        self_contained=bool(task.get("self_contained")),
        meta=task.get("meta"),
        banner=task.get("banner"),
        index_href=os.path.relpath(paths.run_dir / "index.html", paths.html.parent),
    )


def attempt_report(
    source: nbformat.NotebookNode, task: Mapping[str, Any], paths: ReportPaths, execute: ExecuteFn
) -> Attempt:
    """Execute, check and export one report in this process."""
    from papermill.exceptions import PapermillExecutionError

    started = time.monotonic()
    try:
        nb = execute(copy.deepcopy(source), paths.notebook, task)
    except PapermillExecutionError as exc:  # the notebook's own error: a retry gives the same
        return Attempt(
            ok=False,
            error=f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}",
            traceback=_ANSI_RE.sub("", "\n".join(exc.traceback)),
        )
    except Exception as exc:  # kernel did not start, died, timed out...
        return Attempt(
            ok=False, retry=True, error=f"{type(exc).__name__}: {exc}", traceback=_format_exc()
        )
    executed_s = time.monotonic() - started
    problem = check_executed(nb)
    if problem:
        return Attempt(ok=False, retry=True, error=f"executed notebook is empty: {problem}")
    try:
        html_bytes = _write_page(nb, paths, task)
    except Exception as exc:
        return Attempt(
            ok=False,
            error=f"HTML export failed: {type(exc).__name__}: {exc}",
            traceback=_format_exc(),
        )
    timings = {
        "execute_s": round(executed_s, 3),
        "cells_s": cells_seconds(nb),
        "html_s": round(time.monotonic() - started - executed_s, 3),
    }
    return Attempt(ok=True, html_bytes=html_bytes, timings=timings)


def _format_exc() -> str:
    return _ANSI_RE.sub("", traceback.format_exc())


def _choose_attempt(
    task: Mapping[str, Any], execute: ExecuteFn | None
) -> Callable[[nbformat.NotebookNode, Mapping[str, Any], ReportPaths], Attempt]:
    if execute is not None:  # tests: an executor of their own, in this process
        return lambda source, task, paths: attempt_report(source, task, paths, execute)
    if task.get("engine", DEFAULT_ENGINE) == "warm":
        from analyse.report import warm

        if warm.can_fork():
            return lambda source, task, paths: attempt_report(
                source, task, paths, warm.warm_execute
            )
    return lambda source, task, paths: attempt_report(source, task, paths, papermill_execute)


def execute_report(task: Mapping[str, Any], execute: ExecuteFn | None = None) -> dict[str, Any]:
    """Run one report (attempts, check, page); return the fields of a ``ReportResult``.

    ``execute`` replaces the engine in tests (run in this process).
    """
    paths = ReportPaths(Path(task["run_dir"]), task["name"])
    paths.notebook.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"status": "failed", "log": paths.rel(paths.log), "attempts": 0}
    started = time.monotonic()
    with report_log(paths.log, capture_stderr=bool(task.get("capture_stderr"))) as log:
        log.info(
            "report %s: notebook %s, parameters %s",
            paths.name,
            task["notebook"],
            task["parameters"],
        )
        attempt = _run_attempts(task, paths, execute, log, out)
        if attempt is not None:
            out["error"], out["traceback"] = attempt.error, attempt.traceback
            if attempt.ok:
                out.update(status="ok", html=paths.rel(paths.html), html_bytes=attempt.html_bytes)
                out["timings"] = attempt.timings
        if paths.notebook.is_file():
            out["notebook"] = paths.rel(paths.notebook)
        out["duration_s"] = round(time.monotonic() - started, 3)
        log.info("report %s: %s in %.1f s", paths.name, out["status"], out["duration_s"])
    return out


def _run_attempts(
    task: Mapping[str, Any],
    paths: ReportPaths,
    execute: ExecuteFn | None,
    log: logging.Logger,
    out: dict[str, Any],
) -> Attempt | None:
    try:
        source = load_source_notebook(Path(task["notebook"]))
    except Exception as exc:
        out["error"] = f"cannot read notebook {task['notebook']}: {type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
        log.error("%s\n%s", out["error"], out["traceback"])
        return None
    attempt_once = _choose_attempt(task, execute)
    attempt: Attempt | None = None
    for number in range(1, int(task.get("max_attempts", 2)) + 1):
        out["attempts"] = number
        attempt = attempt_once(source, task, paths)
        if attempt.ok:
            break
        log.error("attempt %d failed: %s\n%s", number, attempt.error, attempt.traceback or "")
        if not attempt.retry:
            break
    return attempt


# --------------------------------------------------------------------------------------------
# Worker processes (local pool, Dask host)
# --------------------------------------------------------------------------------------------

_busy = False


def _worker_sigterm(signum: int, frame: Any) -> None:
    if _busy:  # stop the report: papermill shuts its kernel down, the warm child is killed
        raise KeyboardInterrupt(f"signal {signum}")
    os._exit(0)  # idle worker: nothing to clean


def init_worker(engine: str, warm_modules: Iterable[str], main_pid: int | None) -> None:
    """Set up a worker: ignore Ctrl-C (the parent decides), SIGTERM is a clean stop, die with
    the batch (:mod:`analyse.report.lifeline`), warm up for the ``warm`` engine."""
    from analyse.report import lifeline

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)
    os.environ[BATCH_ENV] = "1"
    lifeline.protect_worker(main_pid)
    if engine == "warm":
        from analyse.report import warm

        lifeline.on_parent_death(warm.kill_current_child)
        failed = warm.warm_up(warm_modules)
        if failed:
            logging.getLogger(__name__).info("warm-up: not importable: %s", "; ".join(failed))


def run_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Pool entry point: :func:`execute_report` with SIGTERM turned into an interruption."""
    global _busy
    _busy = True
    try:
        fields = execute_report(task)
        fields["worker_pid"] = os.getpid()
        return fields
    finally:
        _busy = False
