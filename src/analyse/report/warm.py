"""Warm kernels: every report of a worker starts from a process that already imported its
libraries, and no report can leave anything behind for the next one.

Design (one worker = one warm parent):

1. :func:`warm_up` runs once per worker process: it imports what the notebooks import
   (Polars, Altair, statsmodels, ``analyse``, IPython, papermill) and builds the HTML exporter.
   The worker never runs notebook code, so it holds no report state; it also checks that no
   thread pool a child would inherit half-alive (Polars', Tokio's) has been started.
2. For each report, papermill runs in the worker with :class:`WarmEngine`. Where nbclient would
   start a kernel, the engine forks the worker: the child (:class:`ForkedShell`, a
   copy-on-write image of the warm worker, ~10 ms instead of a kernel start and 2-3 s of
   imports) is the kernel. It runs each cell it is sent on ipykernel's own
   ``ZMQInteractiveShell``, whose display publisher and display hook send their messages to a
   capturing session instead of a ZeroMQ socket, and sends the messages back through a pipe
   (after the same JSON packer as on the wire). The worker turns them into nbformat outputs the
   way nbclient does (``output_from_msg``, display-id updates, ``clear_output``); papermill
   injects parameters, records cell metadata, writes the notebook and raises
   :class:`PapermillExecutionError`, and the page is exported, all in the worker, out of reach
   of the notebook's code. The child exits at the end of the notebook.
3. Isolation is the process boundary, as with a kernel: variables, monkey-patches (of the
   standard library too), Altair themes and renderers, ``pl.Config`` (environment variables),
   ``sys.modules`` additions, working folder, signal handlers die with the child.

Differences with a kernel, none of which reaches a page: stdout / stderr are flushed at the end
of a cell or before a display (ipykernel also flushes every 0.2 s, which only splits long
outputs differently), output written by C code to file descriptors 1 and 2 goes to the
report's log (a kernel forwards it into the cell), and IPython startup files and extensions of
the user's profile are not loaded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from multiprocessing.connection import Connection
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
    """Whether this process may fork kernels: warmed up, POSIX, and no thread pool started
    (checked again before every report: ``/proc`` lists this process's threads)."""
    if not (hasattr(os, "fork") and _warm["ready"]) or _warm["unsafe"]:
        return False
    _warm["unsafe"] = fork_unsafe_threads()
    return not _warm["unsafe"]


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

    def start(self, cell_index: int, outputs: list[Any]) -> None:
        self.cell_index, self.outputs, self.clear_pending = cell_index, outputs, False

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


class ShellSide:
    """In the child: one ``ZMQInteractiveShell`` whose messages are kept, not sent."""

    def __init__(self) -> None:
        from ipykernel.compiler import XCachingCompiler
        from ipykernel.zmqshell import ZMQInteractiveShell
        from traitlets.config import Config

        self.messages: list[tuple[str, dict[str, Any]]] = []
        session = _capture_session_class()(self._keep)
        config = Config()
        config.HistoryManager.enabled = False  # no sqlite file, no saving thread
        config.HistoryManager.hist_file = ":memory:"
        self.stdout = CaptureStream("stdout", self._keep, 1)
        self.stderr = CaptureStream("stderr", self._keep, 2)
        sys.stdout, sys.stderr = self.stdout, self.stderr
        os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        _insert_cwd_in_path()
        self.shell = ZMQInteractiveShell.instance(config=config, compiler_class=XCachingCompiler)
        for publisher in (self.shell.displayhook, self.shell.display_pub):
            publisher.session = session
            publisher.pub_socket = None

    def _keep(self, msg_type: str, content: dict[str, Any]) -> None:
        self.messages.append((msg_type, content))

    def run(self, source: str) -> tuple[int, list[tuple[str, dict[str, Any]]], bool]:
        """Execute one cell: (execution count, messages, whether it raised)."""
        self.messages = []
        count = self.shell.execution_count
        result = self.shell.run_cell(source, store_history=True, silent=False)
        self.stdout.flush()
        self.stderr.flush()
        raised = not result.success or any(kind == "error" for kind, _ in self.messages)
        return count, self.messages, raised


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class CellTimeoutError(TimeoutError):
    """A cell ran longer than the batch's ``cell_timeout_s`` (its process is killed)."""


class ReportProcessDiedError(RuntimeError):
    """The forked kernel process ended while running a cell."""


def describe_status(status: int) -> str:
    """``waitpid`` status in words."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            return f"killed by signal {sig} ({signal.Signals(sig).name})"
        return f"killed by signal {sig}"
    return f"exit code {os.WEXITSTATUS(status)}"


#: pid of the forked kernel running now (the watchdog kills it if the batch dies).
current_child: dict[str, int | None] = {"pid": None}


def _child_loop(requests: Connection, replies: Connection, parent_pid: int) -> None:
    """The forked kernel: run cells until told to stop, then exit without any clean-up."""
    from analyse.report.lifeline import die_with_parent

    die_with_parent(signal.SIGKILL, expected_parent=parent_pid)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(Exception):
        import numpy as np

        np.random.seed()  # the parent's legacy global state would repeat in every child
    side = ShellSide()
    while True:
        try:
            source = requests.recv()
        except (EOFError, OSError):
            break
        if source is None:
            break
        replies.send(side.run(source))
    os._exit(0)


class ForkedShell:
    """The worker's side of a forked kernel (one per notebook)."""

    def __init__(self) -> None:
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            os.close(request_w)
            os.close(reply_r)
            try:
                _child_loop(
                    Connection(request_r, writable=False),
                    Connection(reply_w, readable=False),
                    parent,
                )
            finally:
                os._exit(1)
        os.close(request_r)
        os.close(reply_w)
        self.pid = pid
        current_child["pid"] = pid
        self.requests = Connection(request_w, readable=False)
        self.replies = Connection(reply_r, writable=False)

    def run(
        self, source: str, timeout_s: float | None
    ) -> tuple[int, list[tuple[str, dict[str, Any]]], bool]:
        """Run one cell in the child; :class:`CellTimeoutError` or
        :class:`ReportProcessDiedError` when it takes too long or dies."""
        try:
            self.requests.send(source)
            ready = self.replies.poll(timeout_s)
            reply = self.replies.recv() if ready else None
        except (EOFError, OSError) as exc:
            raise ReportProcessDiedError(f"report process died: {self._reap()}") from exc
        if not ready:
            self.kill()
            raise CellTimeoutError(f"cell still running after {timeout_s:g} s")
        return reply

    def _reap(self) -> str:
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(self.pid, 0)
            return describe_status(status)
        return "status unknown"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Ask the child to exit (kill it if it does not), reap it, close the pipes."""
        with contextlib.suppress(OSError):
            self.requests.send(None)
        self.requests.close()
        if not self.replies.poll(5):  # EOF (readable) once the child has exited
            self.kill()
        self.replies.close()
        self._reap()
        current_child["pid"] = None

    def __enter__(self) -> ForkedShell:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.kill()
        self.close()


def kill_current_child() -> None:
    """Kill the forked kernel running now, if any (watchdog clean-up)."""
    pid = current_child["pid"]
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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
        collector = OutputCollector(nb)
        with ForkedShell() as kernel:
            for index, cell in enumerate(nb.cells):
                try:
                    nb_man.cell_start(cell, index)
                    if _runs(cell) and _run_cell(kernel, collector, cell, index, execution_timeout):
                        nb_man.cell_exception(cell, cell_index=index)
                        break
                finally:
                    nb_man.cell_complete(cell, cell_index=index)


def _runs(cell: Any) -> bool:
    """What nbclient executes: non-empty code cells not tagged ``skip-execution``."""
    return (
        cell.cell_type == "code"
        and bool(cell.source.strip())
        and "skip-execution" not in cell.metadata.get("tags", [])
    )


def _run_cell(
    kernel: ForkedShell, collector: OutputCollector, cell: Any, index: int, timeout_s: float | None
) -> bool:
    """Execute one cell into ``cell.outputs``; whether it stops the notebook."""
    cell.outputs = []
    collector.start(index, cell.outputs)
    timing = cell.metadata.setdefault("execution", {})
    timing["iopub.status.busy"] = timing["iopub.execute_input"] = _timestamp()
    count, messages, raised = kernel.run(cell.source, timeout_s)
    cell.execution_count = count
    for msg_type, content in messages:
        collector(msg_type, content)
    timing["shell.execute_reply"] = timing["iopub.status.idle"] = _timestamp()
    return raised and "raises-exception" not in cell.metadata.get("tags", [])


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
