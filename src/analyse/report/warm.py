"""Warm kernels: every report of a worker starts from a process that already imported its
libraries, and no report can leave anything behind for the next one.

Design (one worker = one warm parent):

1. :func:`warm_up` runs once per worker process: it imports what the notebooks import
   (Polars, Altair, statsmodels, ``analyse``, IPython, papermill) and builds the HTML exporter.
   Nothing runs a notebook there, so the parent holds no report state, and it checks that no
   thread pool a child would inherit half-alive (Polars', Tokio's) has been started yet.
2. :func:`forked_attempt` forks the warm parent for each report. The child (a copy-on-write
   image: ~10 ms instead of a kernel start and 2-3 s of imports) executes the notebook through
   papermill with :class:`WarmEngine`, writes the executed notebook and the page, sends the
   outcome back through a pipe and exits. Isolation is the process boundary: variables,
   monkey-patches, Altair themes and renderers, ``pl.Config`` (environment variables),
   ``sys.modules`` additions, working folder, signal handlers die with the child.
3. :class:`WarmEngine` is a papermill engine (``engine_name="analyse-warm"``): papermill still
   injects parameters, records cell metadata and raises :class:`PapermillExecutionError`; the
   cells run in-process on ipykernel's own ``ZMQInteractiveShell`` whose display publisher and
   display hook send their messages to a capturing session instead of a ZeroMQ socket.
   Messages go through the same JSON packer as on the wire and become nbformat outputs the way
   nbclient builds them (``output_from_msg``, display-id updates, ``clear_output``), so the
   executed notebook, and the page, are those of a real kernel.

Differences with a kernel, none of which reaches a page: stdout / stderr are flushed at the end
of a cell or before a display (ipykernel also flushes every 0.2 s, which only splits long
outputs differently), output written by C code to file descriptors 1 and 2 goes to the
report's log (a kernel forwards it into the cell), IPython startup files and extensions of the
user's profile are not loaded, and a cell timeout raises ``TimeoutError`` in the cell.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import logging
import os
import pickle
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat

from analyse.report.jobs import DEFAULT_WARM_MODULES

logger = logging.getLogger("papermill")

#: papermill engine name of the warm engine.
WARM_ENGINE_NAME = "analyse-warm"
#: Seconds between two saves of a running notebook (the last state is always written).
AUTOSAVE_S = 5.0
#: Threads that must not exist when forking: their pool would be inherited without them.
_UNSAFE_THREAD_RE = re.compile(r"^(polars-\d+|tokio-runtime-w|tokio-rt-worker|rayon)")

_warm: dict[str, Any] = {"ready": False, "unsafe": []}


# --------------------------------------------------------------------------------------------
# The warm parent
# --------------------------------------------------------------------------------------------


def thread_names() -> list[str]:
    """Names of this process's threads (Linux ``/proc``; empty elsewhere)."""
    names = []
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"/proc/self/task/{tid}/comm") as fh:
                names.append(fh.read().strip())
    return names


def fork_unsafe_threads() -> list[str]:
    """Threads of a started Polars/Tokio pool: a forked child would wait on them forever."""
    return [name for name in thread_names() if _UNSAFE_THREAD_RE.match(name)]


def warm_up(modules: Iterable[str] = ()) -> list[str]:
    """Import the notebooks' libraries, register the engine, build the HTML exporter.

    Returns the modules that failed to import (the notebooks needing them fail on their own).
    """
    import papermill.engines  # noqa: F401 - papermill itself, before the first fork

    from analyse.report.html import warm_exporter

    failed = []
    for name in dict.fromkeys([*DEFAULT_WARM_MODULES, *modules]):
        try:
            importlib.import_module(name)
        except Exception as exc:  # a notebook's own import: its report will say it
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    register_engine()
    warm_exporter()
    _warm["ready"] = True
    _warm["unsafe"] = fork_unsafe_threads()
    if _warm["unsafe"]:
        logging.getLogger(__name__).warning(
            "warm engine: thread pools started before fork (%s): this worker runs its reports "
            "on the papermill engine",
            ", ".join(_warm["unsafe"]),
        )
    return failed


def can_fork() -> bool:
    """Whether this process may fork reports (warmed up, no thread pool started, POSIX)."""
    return hasattr(os, "fork") and _warm["ready"] and not _warm["unsafe"]


def register_engine() -> None:
    """Make ``engine_name="analyse-warm"`` known to papermill."""
    from papermill.engines import papermill_engines

    papermill_engines.register(WARM_ENGINE_NAME, WarmEngine)


# --------------------------------------------------------------------------------------------
# In the child: a shell whose messages are captured instead of sent
# --------------------------------------------------------------------------------------------


def _capture_session_class() -> type:
    from jupyter_client.session import Session, json_packer, json_unpacker

    class CaptureSession(Session):
        """A jupyter ``Session`` that keeps the messages it is asked to send."""

        def __init__(self, sink: Callable[[str, dict[str, Any]], None], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._sink = sink

        def send(  # type: ignore[override]
            self,
            stream: Any,
            msg_or_type: Any,
            content: Any = None,
            parent: Any = None,
            ident: Any = None,
            buffers: Any = None,
            track: bool = False,
            header: Any = None,
            metadata: Any = None,
        ) -> dict[str, Any]:
            if isinstance(msg_or_type, dict):
                msg = msg_or_type
            else:
                msg = self.msg(msg_or_type, content=content, parent=parent, header=header)
            # through the wire format, as a kernel's message would go
            wire = json_unpacker(json_packer(msg["content"]))
            self._sink(msg["msg_type"], wire)
            return msg

    return CaptureSession


class CaptureStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of the child: text is kept until a flush, which sends
    one ``stream`` message (as ipykernel's ``OutStream`` does between two displays)."""

    def __init__(self, name: str, sink: Callable[[str, dict[str, Any]], None], fd: int) -> None:
        super().__init__()
        self.name_ = name
        self._sink = sink
        self._fd = fd
        self._parts: list[str] = []

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "UTF-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text)}")
        if text:
            self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        if self._parts:
            text, self._parts = "".join(self._parts), []
            self._sink("stream", {"name": self.name_, "text": text})


class OutputCollector:
    """nbclient's output handling: messages of the running cell -> ``cell.outputs``."""

    def __init__(self, nb: nbformat.NotebookNode) -> None:
        self.nb = nb
        self.cell_index = -1
        self.outputs: list[Any] = []
        self.clear_pending = False
        self.display_ids: dict[str, dict[int, list[int]]] = {}
        self.failed = False

    def start(self, cell_index: int, outputs: list[Any]) -> None:
        self.cell_index, self.outputs, self.clear_pending, self.failed = (
            cell_index,
            outputs,
            False,
            False,
        )

    def __call__(self, msg_type: str, content: dict[str, Any]) -> None:
        transient = content.get("transient")
        display_id = transient.get("display_id") if transient else None
        if display_id and msg_type in ("execute_result", "display_data", "update_display_data"):
            self._update_display(display_id, msg_type, content)
        if msg_type == "clear_output":
            self._clear(bool(content.get("wait")))
        elif msg_type != "update_display_data":
            self._append(msg_type, content, display_id)

    def _append(self, msg_type: str, content: dict[str, Any], display_id: str | None) -> None:
        out = _output_from(msg_type, content)
        if self.clear_pending:
            self.outputs[:] = []
            self._forget_cell()
            self.clear_pending = False
        if display_id:
            cells = self.display_ids.setdefault(display_id, {})
            cells.setdefault(self.cell_index, []).append(len(self.outputs))
        self.outputs.append(out)
        if msg_type == "error":
            self.failed = True
        _log_output(out)

    def _clear(self, wait: bool) -> None:
        if wait:
            self.clear_pending = True
        else:
            self.outputs[:] = []
            self._forget_cell()

    def _forget_cell(self) -> None:
        for cells in self.display_ids.values():
            cells.pop(self.cell_index, None)

    def _update_display(self, display_id: str, msg_type: str, content: dict[str, Any]) -> None:
        if display_id not in self.display_ids:
            return
        kind = "display_data" if msg_type == "update_display_data" else msg_type
        out = _output_from(kind, content)
        for cell_index, indices in self.display_ids[display_id].items():
            cell_outputs = (
                self.outputs if cell_index == self.cell_index else self.nb.cells[cell_index].outputs
            )
            for i in indices:
                cell_outputs[i]["data"] = out["data"]
                cell_outputs[i]["metadata"] = out["metadata"]


def _output_from(msg_type: str, content: dict[str, Any]) -> Any:
    return nbformat.v4.output_from_msg({"header": {"msg_type": msg_type}, "content": content})


def _log_output(out: Any) -> None:
    """What papermill's ``log_output`` writes to its logger (the report's log)."""
    if out.output_type == "stream":
        (logger.info if out.name == "stdout" else logger.warning)("".join(out.text))
    elif "data" in out and "text/plain" in out.data:
        logger.info("".join(out.data["text/plain"]))


def _kernel_language_info() -> dict[str, Any]:
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def _insert_cwd_in_path() -> None:
    """Like IPython's ``init_path``: ``''`` before the first site-packages folder."""
    if "" in sys.path:
        return
    for i, entry in enumerate(sys.path):
        if entry.endswith(("site-packages", "dist-packages")):
            sys.path.insert(i, "")
            return
    sys.path.append("")


class CellRunner:
    """One ``ZMQInteractiveShell`` for one notebook, its messages collected as outputs."""

    def __init__(self, nb: nbformat.NotebookNode) -> None:
        from ipykernel.compiler import XCachingCompiler
        from ipykernel.zmqshell import ZMQInteractiveShell
        from traitlets.config import Config

        self.collector = OutputCollector(nb)
        session = _capture_session_class()(self.collector)
        config = Config()
        config.HistoryManager.enabled = False  # no sqlite file, no saving thread
        config.HistoryManager.hist_file = ":memory:"
        self.stdout = CaptureStream("stdout", self.collector, 1)
        self.stderr = CaptureStream("stderr", self.collector, 2)
        sys.stdout, sys.stderr = self.stdout, self.stderr
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        _insert_cwd_in_path()
        self.shell = ZMQInteractiveShell.instance(config=config, compiler_class=XCachingCompiler)
        for publisher in (self.shell.displayhook, self.shell.display_pub):
            publisher.session = session
            publisher.pub_socket = None

    def run(self, cell: Any, index: int, timeout_s: float | None) -> bool:
        """Execute one code cell into ``cell.outputs``; return whether it raised."""
        cell.outputs = []
        self.collector.start(index, cell.outputs)
        timing = cell.metadata.setdefault("execution", {})
        timing["iopub.status.busy"] = _timestamp()
        count = self.shell.execution_count
        cell.execution_count = count
        timing["iopub.execute_input"] = _timestamp()
        with _cell_timeout(timeout_s):
            result = self.shell.run_cell(cell.source, store_history=True, silent=False)
        self.stdout.flush()
        self.stderr.flush()
        timing["shell.execute_reply"] = timing["iopub.status.idle"] = _timestamp()
        raised = self.collector.failed or not result.success
        return raised and "raises-exception" not in cell.metadata.get("tags", [])


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class CellTimeoutError(TimeoutError):
    """A cell ran longer than the batch's ``cell_timeout_s``."""


@contextlib.contextmanager
def _cell_timeout(seconds: float | None):
    if not seconds:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CellTimeoutError(f"cell still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------------
# The papermill engine
# --------------------------------------------------------------------------------------------


def _manager_class() -> type:
    from papermill.engines import NotebookExecutionManager

    class ThrottledManager(NotebookExecutionManager):
        """papermill writes the whole notebook at every cell start and end; here at most
        every :data:`AUTOSAVE_S` (papermill writes the final notebook itself)."""

        def save(self, **kwargs: Any) -> None:
            if (self.now() - self.last_save_time).total_seconds() >= AUTOSAVE_S:
                super().save(**kwargs)

    return ThrottledManager


def _engine_base() -> type:
    from papermill.engines import Engine

    return Engine


class WarmEngine(_engine_base()):  # type: ignore[misc]
    """papermill engine running the cells on an in-process shell (see the module doc)."""

    @classmethod
    def execute_notebook(
        cls,
        nb: nbformat.NotebookNode,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = False,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> nbformat.NotebookNode:
        label = kwargs.pop("input_label", None)
        if label:
            nb.metadata.papermill["input_path"] = label
        nb_man = _manager_class()(nb, output_path=output_path, progress_bar=False)
        nb_man.log_output = log_output
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        nb = nb_man.nb
        nb.metadata["language_info"] = _kernel_language_info()
        runner = CellRunner(nb)
        for index, cell in enumerate(nb.cells):
            try:
                nb_man.cell_start(cell, index)
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if "skip-execution" in cell.metadata.get("tags", []):
                    continue
                if runner.run(cell, index, execution_timeout):
                    nb_man.cell_exception(cell, cell_index=index)
                    break
            finally:
                nb_man.cell_complete(cell, cell_index=index)


def warm_execute(
    source: nbformat.NotebookNode, output: Path, task: Mapping[str, Any]
) -> nbformat.NotebookNode:
    """Execute ``source`` in this (forked) process with the warm engine, like papermill."""
    import papermill

    kwargs: dict[str, Any] = {}
    if task.get("cell_timeout_s"):
        kwargs["execution_timeout"] = task["cell_timeout_s"]
    return papermill.execute_notebook(
        source,
        str(output),
        parameters=dict(task["parameters"]),
        engine_name=WARM_ENGINE_NAME,
        kernel_name="python3",
        language="python",
        progress_bar=False,
        log_output=True,
        cwd=task["cwd"],
        request_save_on_cell_execute=True,
        input_label=str(task["notebook"]),
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# Fork per report
# --------------------------------------------------------------------------------------------

#: pid of the report process running now (the watchdog kills it if the batch dies).
current_child: dict[str, int | None] = {"pid": None}


def _child_main(write_fd: int, parent_pid: int, run: Callable[[], Any]) -> None:
    """The forked report process: run, send the outcome, exit without the parent's clean-up."""
    code = 0
    try:
        from analyse.report.lifeline import die_with_parent

        die_with_parent(signal.SIGKILL, expected_parent=parent_pid)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with contextlib.suppress(Exception):
            import numpy as np

            np.random.seed()  # the parent's legacy global state would repeat in every child
        outcome = run()
        payload = pickle.dumps(outcome)
    except BaseException as exc:
        code = 1
        payload = pickle.dumps(exc if _picklable(exc) else RuntimeError(traceback.format_exc()))
    try:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def describe_status(status: int) -> str:
    """``waitpid`` status in words."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            return f"killed by signal {sig} ({signal.Signals(sig).name})"
        return f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


class ReportProcessDiedError(RuntimeError):
    """The forked report process ended without sending its outcome."""


def run_forked(run: Callable[[], Any]) -> Any:
    """Run ``run()`` in a forked child of this warm process and return what it returns.

    Raises what the child raised, or :class:`ReportProcessDiedError` if it died without a word
    (killed, crashed in native code). An interruption here (SIGTERM of the worker) kills the
    child before going on.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns (its coverage is not collected)
        os.close(read_fd)
        _child_main(write_fd, parent_pid, run)
    os.close(write_fd)
    current_child["pid"] = pid
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise
    finally:
        current_child["pid"] = None
    if not payload:
        raise ReportProcessDiedError(f"report process {pid} died: {describe_status(status)}")
    outcome = pickle.loads(payload)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def kill_current_child() -> None:
    """Kill the report process running now, if any (watchdog clean-up)."""
    pid = current_child["pid"]
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def elapsed_since(start: float) -> float:
    """Seconds since ``time.monotonic()`` was ``start``, rounded to the millisecond."""
    return round(time.monotonic() - start, 3)
