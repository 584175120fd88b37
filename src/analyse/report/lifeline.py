"""Processes of a batch end when the batch's main process dies (kill -9 included).

Chain of a local batch and what ends each link when the one above it disappears:

=====================  ===================================  =================================
process                started by                           ends when its parent dies through
=====================  ===================================  =================================
forkserver             the main process                     ``PR_SET_PDEATHSIG`` (set when it
                                                            imports its preload module),
                                                            and EOF on its "alive" pipe
pool worker            the forkserver                       ``PR_SET_PDEATHSIG`` + a watchdog
                                                            thread polling the main process
report process (warm)  the pool worker (``os.fork``)        ``PR_SET_PDEATHSIG``
kernel (papermill)     the pool worker (``subprocess``)     ipykernel's parent poller
                                                            (``JPY_PARENT_PID``, 1 s)
resource tracker       the main process                     EOF once every holder of its pipe
                                                            (main, forkserver, workers) is gone
=====================  ===================================  =================================

``PR_SET_PDEATHSIG`` (Linux ``prctl(2)``, through ctypes) delivers a signal when the *thread*
that created the process exits; elsewhere it is a no-op and the watchdog alone does the job.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from analyse.snapshots import pid_alive

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
#: Seconds between two checks of the watchdog.
WATCH_INTERVAL_S = 0.5

_libc: ctypes.CDLL | None = None
_on_parent_death: list[Callable[[], None]] = []


def _prctl() -> Callable[..., int] | None:
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        except OSError:
            return None
    return _libc.prctl


def die_with_parent(sig: int = signal.SIGKILL, expected_parent: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux).

    ``expected_parent``: the parent's pid as the caller knew it before forking; if the parent
    is already gone (the signal would then never come), exit at once. Returns whether the
    request was accepted.
    """
    prctl = _prctl()
    ok = False
    if prctl is not None:
        ok = prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # parent died before the request: nobody would signal us
    return ok


def on_parent_death(callback: Callable[[], None]) -> None:
    """Run ``callback`` (e.g. kill the report process) before the watchdog exits."""
    _on_parent_death.append(callback)


def _watch(pid: int, interval_s: float) -> None:
    while pid_alive(pid):
        time.sleep(interval_s)
    for callback in _on_parent_death:
        with contextlib.suppress(Exception):
            callback()
    os._exit(1)


def start_watchdog(pid: int, interval_s: float = WATCH_INTERVAL_S) -> threading.Thread:
    """A daemon thread that ends this process (``os._exit``) once process ``pid`` is gone.

    The thread only sleeps and calls ``kill(pid, 0)``: it holds no lock a forked child could
    inherit locked, so the warm engine may still fork from this process.
    """
    thread = threading.Thread(
        target=_watch, args=(pid, interval_s), name="analyse-lifeline", daemon=True
    )
    thread.start()
    return thread


def protect_worker(main_pid: int | None) -> None:
    """In a pool worker or a host: die with the parent (prctl) and with the main process
    (watchdog)."""
    die_with_parent(signal.SIGKILL, expected_parent=os.getppid())
    if main_pid and main_pid != os.getpid():
        start_watchdog(main_pid)
