"""Warm host processes for Dask workers.

A Dask worker is multi-threaded (event loop, comms, task threads), so forking report processes
from it would be unsafe, and it is often daemonic, so it may not start ``multiprocessing``
children. Each task thread of a Dask worker therefore keeps one host: a plain subprocess
(``python -m analyse.report.host FD``) that warms up like a pool worker, then runs the tasks it
is sent over a socket one at a time (:func:`analyse.report.worker.run_task`: same engines, same
retries, same files). A host dies with its Dask worker (``PR_SET_PDEATHSIG`` + watchdog). When
a host dies under a report (the report killed it), the report is run once more in a fresh host,
then marked failed, as with the local pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

_local = threading.local()


class HostDiedError(RuntimeError):
    """The host process ended while running a task."""


class Host:
    """One warm host subprocess and the socket to it."""

    def __init__(self, engine: str, warm_modules: Iterable[str]) -> None:
        ours, theirs = socket.socketpair()
        fd = theirs.fileno()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "analyse.report.host", str(fd)],
            pass_fds=[fd],
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send(
            {"engine": engine, "warm_modules": list(warm_modules), "main_pid": os.getpid()}
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Run one task in the host; :class:`HostDiedError` if it ends meanwhile."""
        try:
            self.conn.send(dict(task))
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.proc.wait(timeout=30)
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            raise HostDiedError(f"host process {self.proc.pid} died ({how})") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()


def _host(config: Mapping[str, Any]) -> Host:
    host: Host | None = getattr(_local, "host", None)
    if host is None or not host.alive():
        host = Host(config["engine"], config.get("warm_modules", ()))
        _local.host = host
    return host


def run_on_dask_worker(task: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Dask task: run ``task`` in this thread's warm host; one retry in a fresh host if the
    host dies under it (logged), then a failed result."""
    deaths: list[str] = []
    for _ in (1, 2):
        try:
            fields = _host(config).run(task)
        except HostDiedError as exc:
            _local.host = None
            deaths.append(f"worker process died under {task['name']} ({exc})")
            logger.warning("%s", deaths[-1])
            continue
        fields["warnings"] = [*deaths, *fields.get("warnings", [])]
        return fields
    return {
        "status": "failed",
        "error": f"worker process died: {deaths[-1]}",
        "attempts": 2,
        "warnings": deaths,
    }


def main(fd: int) -> None:
    """The host process: warm up, then run tasks until the socket closes."""
    from analyse.report.worker import init_worker, run_task

    conn = Connection(fd)
    config = conn.recv()
    init_worker(config["engine"], config["warm_modules"], config["main_pid"])
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            break
        conn.send(run_task(task))


if __name__ == "__main__":
    main(int(sys.argv[1]))
