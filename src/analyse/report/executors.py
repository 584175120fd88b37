"""Where the reports of a batch run: a local process pool, or an existing Dask cluster.

Both take the same task dicts (see :mod:`analyse.report.worker`) and hand each outcome to the
batch as it arrives; caching, the journal, the index and run.json stay in the batch.

* :class:`LocalExecutor` (one machine): ``concurrent.futures.ProcessPoolExecutor`` on the
  ``forkserver`` context (``spawn`` where there is none). Workers import the notebooks'
  libraries once (forkserver preload + warm-up) and die with the batch
  (:mod:`analyse.report.lifeline`). A worker that dies breaks the whole pool: the reports it
  took down are logged and run again, each in a pool of its own, so that one report killing
  its worker fails alone.
* :class:`DaskExecutor` (``--executor dask --scheduler ADDRESS``): one ``client.submit`` per
  report on an existing ``distributed`` cluster; on each Dask worker a warm host process
  (:mod:`analyse.report.host`) runs the reports, with the same retry when it dies. The run
  folder must be on a file system the Dask workers share with the machine starting the batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from analyse.errors import ParameterError
from analyse.report.jobs import DEFAULT_WARM_MODULES, Job

EXECUTORS = ("local", "dask")

Record = Callable[[Job, Mapping[str, Any]], None]
Item = tuple[Job, dict[str, Any]]


class Executor(Protocol):
    """Runs tasks and records each outcome (``record(job, fields)``) as it arrives."""

    name: str
    workers: int
    warm_modules: tuple[str, ...]

    def run(
        self,
        items: list[Item],
        record: Record,
        started: Callable[[], None],
        log: Callable[[str], None],
    ) -> None: ...


def _iter_completed(futures: Iterable[cf.Future]) -> Iterable[cf.Future]:
    """Like ``as_completed``, but the main thread wakes up twice a second: a signal delivered
    to another thread (SIGTERM from a scheduler) then takes effect at once."""
    pending = set(futures)
    while pending:
        done, pending = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
        yield from done


def _mp_context(preload: list[str]) -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(preload)
        return ctx
    return multiprocessing.get_context("spawn")


def _describe_exit(process: Any) -> str:
    code = getattr(process, "exitcode", None)
    if code is None:
        return f"pid {process.pid}"
    if code < 0:
        with contextlib.suppress(ValueError):
            import signal

            return f"pid {process.pid} killed by {signal.Signals(-code).name}"
    return f"pid {process.pid} exit code {code}"


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


class LocalExecutor:
    """A process pool on this machine (see the module doc)."""

    name = "local"

    def __init__(self, workers: int, engine: str, warm_modules: Iterable[str] = ()) -> None:
        self.workers = max(1, workers)
        self.engine = engine
        self.warm_modules = tuple(warm_modules)

    def _context(self) -> multiprocessing.context.BaseContext:
        # the same list whatever the engine: the forkserver is started once per process
        preload = ["analyse.report._forkserver_preload", "analyse.report.warm"]
        return _mp_context([*preload, *DEFAULT_WARM_MODULES])

    def prestart(self) -> None:
        """Start the forkserver now: its imports overlap with the batch's preparation
        (figures stage, cache keys) instead of delaying the first page."""
        if self._context().get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()

    def _pool(self, workers: int) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=self._context(),
            initializer=_init,
            initargs=(self.engine, self.warm_modules, os.getpid()),
        )

    def run(
        self,
        items: list[Item],
        record: Record,
        started: Callable[[], None],
        log: Callable[[str], None],
    ) -> None:
        """Run every item; items whose worker died are re-run one per pool."""
        broken = self._run_pool(items, min(self.workers, len(items)), record, started, log)
        for start in range(0, len(broken), self.workers):
            self._run_alone(broken[start : start + self.workers], record, log)

    def _run_pool(
        self,
        items: list[Item],
        workers: int,
        record: Record,
        started: Callable[[], None],
        log: Callable[[str], None],
    ) -> list[Item]:
        if not items:
            started()
            return []
        broken: list[Item] = []
        executor = self._pool(workers)
        try:
            futures = {executor.submit(_run, task): (job, task) for job, task in items}
            processes = list(getattr(executor, "_processes", {}).values())
            started()
            for future in _iter_completed(futures):
                try:
                    record(futures[future][0], future.result())
                except BrokenProcessPool:
                    broken.append(futures[future])
        except BaseException:
            _stop_workers(executor)
            raise
        executor.shutdown(wait=True)
        if broken:
            dead = ", ".join(_describe_exit(p) for p in processes if p.exitcode not in (None, 0))
            log(
                f"worker process died ({dead or 'exit status unknown'}): "
                f"{len(broken)} report(s) it took down re-run one per process: "
                + ", ".join(job.name for job, _ in broken)
            )
        return broken

    def _run_alone(self, chunk: list[Item], record: Record, log: Callable[[str], None]) -> None:
        executors = [self._pool(1) for _ in chunk]
        try:
            futures = {
                ex.submit(_run, task): (job, ex)
                for ex, (job, task) in zip(executors, chunk, strict=True)
            }
            for future in _iter_completed(futures):
                job, ex = futures[future]
                try:
                    record(job, future.result())
                except BrokenProcessPool as exc:
                    procs = list(getattr(ex, "_processes", {}).values())
                    why = ", ".join(_describe_exit(p) for p in procs) or str(exc)
                    log(f"worker process died again running {job.name} alone ({why}): failed")
                    record(job, {"error": f"worker process died: {why}"})
        except BaseException:
            for ex in executors:
                _stop_workers(ex)
            raise
        for ex in executors:
            ex.shutdown(wait=True)


def _init(engine: str, warm_modules: tuple[str, ...], main_pid: int) -> None:
    from analyse.report.worker import init_worker

    init_worker(engine, warm_modules, main_pid)


def _run(task: Mapping[str, Any]) -> dict[str, Any]:
    from analyse.report.worker import run_task

    return run_task(task)


class DaskExecutor:
    """Reports as tasks on an existing Dask ``distributed`` cluster (see the module doc)."""

    name = "dask"

    def __init__(self, scheduler: str | Any, engine: str, warm_modules: Iterable[str] = ()) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - the cluster extra is not installed
            raise ParameterError(
                "--executor dask needs the `distributed` package (extra `cluster`)"
            ) from exc
        self.engine = engine
        self.warm_modules = tuple(warm_modules)
        self._own = isinstance(scheduler, str)
        try:
            self.client = (
                Client(scheduler, set_as_default=False, timeout="30s") if self._own else scheduler
            )
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from exc
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def run(
        self,
        items: list[Item],
        record: Record,
        started: Callable[[], None],
        log: Callable[[str], None],
    ) -> None:
        """Submit every item, record each outcome as it completes; cancel them if interrupted."""
        from distributed import as_completed

        from analyse.report.host import run_on_dask_worker

        config = {"engine": self.engine, "warm_modules": self.warm_modules}
        futures = {}
        for job, task in items:
            key = "analyse-report-" + re.sub(
                r"[^A-Za-z0-9_.-]", "_", f"{task['run_id']}-{job.name}"
            )
            futures[self.client.submit(run_on_dask_worker, task, config, key=key, pure=False)] = job
        started()
        try:
            for future in as_completed(list(futures), loop=self.client.loop):
                job = futures[future]
                try:
                    record(job, future.result())
                except Exception as exc:  # KilledWorker, lost connection...
                    log(f"Dask task of {job.name} failed: {type(exc).__name__}: {exc}")
                    record(job, {"error": f"worker process died: {type(exc).__name__}: {exc}"})
        except BaseException:
            self.client.cancel(list(futures))
            raise
        finally:
            if self._own:
                with contextlib.suppress(Exception):
                    self.client.close()


def make_executor(
    name: str, workers: int | None, scheduler: str | Any | None, engine: str, n_jobs: int
) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``); :class:`ParameterError` if unusable."""
    if name == "local":
        if scheduler is not None:
            raise ParameterError("--scheduler goes with --executor dask")
        count = workers or os.cpu_count() or 1
        return LocalExecutor(max(1, min(count, n_jobs)), engine)
    if name == "dask":
        if scheduler is None:
            raise ParameterError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        return DaskExecutor(scheduler, engine)
    raise ParameterError(f"unknown executor {name!r}: expected one of {', '.join(EXECUTORS)}")
