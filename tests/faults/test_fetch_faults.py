"""Fault injection for ``analyse fetch``: a misbehaving loopback server, kill -9, SIGTERM, Ctrl-C.

Every test starts from a good raw folder (the reference snapshot materialised) and asserts what
is on disk afterwards: the good file untouched, ``manifest.json`` unchanged, no ``.part`` file
left (after the next run, for kill -9). The server listens on 127.0.0.1 only and every slow
behaviour is bounded in time and stops when the test ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from analyse.errors import InputFileError
from analyse.fetch import MANIFEST_NAME, fetch_sources, materialise_reference, verify_manifest
from analyse.refdata import decompress, load_reference

PINS = load_reference()
CSV_ID = "relance_regional"  # 870 kB of CSV
CSV = PINS[CSV_ID]
TYPO = PINS["typo_densite"]
MAX_SLOW_S = 30.0  # no slow behaviour of the server outlives this


class FaultyHandler(BaseHTTPRequestHandler):
    """Serves ``files`` (URL path -> bytes) with the misbehaviour named by ``mode``."""

    files: dict[str, bytes] = {}
    mode = "good"
    cut = 0.5  # share of the body sent before cutting or dripping
    interval_s = 0.2
    stop: threading.Event

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, "_" + self.mode.replace("-", "_"))(body)

    def _head(self, length: int | None, *, chunked: bool = False) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            self.send_header("Content-Length", str(length))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _good(self, body: bytes) -> None:
        self._head(len(body))
        self.wfile.write(body)

    def _cut_length(self, body: bytes) -> None:  # announces the whole body, sends part of it
        self._head(len(body))
        self.wfile.write(body[: int(len(body) * self.cut)])
        self.close_connection = True

    def _cut_no_length(self, body: bytes) -> None:  # no Content-Length: the close ends the body
        self._head(None)
        self.wfile.write(body[: int(len(body) * self.cut)])
        self.close_connection = True

    def _chunked_cut(self, body: bytes) -> None:  # chunked body without its last chunk
        self.protocol_version = "HTTP/1.1"
        self._head(None, chunked=True)
        part = body[: int(len(body) * self.cut)]
        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.close_connection = True

    def _chunked(self, body: bytes) -> None:  # a complete chunked body, in two chunks
        self.protocol_version = "HTTP/1.1"
        self._head(None, chunked=True)
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _changed(self, body: bytes) -> None:
        self._good(body.replace(b"2022-12-31", b"2023-12-31"))

    def _drip(self, body: bytes, *, length: int | None = None) -> None:
        self._head(length)
        sent = int(len(body) * self.cut)
        self.wfile.write(body[:sent])
        self._slowly(body[sent:])

    def _drip_length(self, body: bytes) -> None:
        self._drip(body, length=len(body))

    def _drip_headers(self, body: bytes) -> None:
        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
        self._slowly(b"X-Slow: " + b"x" * 10_000)

    def _hang(self, body: bytes) -> None:
        self.stop.wait(MAX_SLOW_S)

    def _slowly(self, data: bytes) -> None:
        """One byte every ``interval_s`` until the test ends (bounded)."""
        started = time.monotonic()
        for byte in data:
            if self.stop.wait(self.interval_s) or time.monotonic() - started > MAX_SLOW_S:
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def _error_500(self, body: bytes) -> None:
        self.send_error(500, "Internal Server Error")

    def _redirect_loop(self, body: bytes) -> None:
        self.send_response(302)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextlib.contextmanager
def faulty_server(files: dict[str, bytes], mode: str, **options: object) -> Iterator[str]:
    """A loopback server misbehaving as ``mode``; yields its base URL."""
    stop = threading.Event()
    handler = type("Handler", (FaultyHandler,), {"files": files, "mode": mode, "stop": stop})
    for name, value in options.items():
        setattr(handler, name, value)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def good_raw(tmp_path: Path) -> Path:
    """A raw folder holding the pinned CSVs, with its manifest."""
    raw = tmp_path / "raw"
    materialise_reference(raw, [CSV_ID, "typo_densite"])
    return raw


def original(pin_id: str) -> bytes:
    """The pinned bytes of a source (decompressed from the reference snapshot, checked)."""
    out = io.BytesIO()
    decompress(PINS[pin_id], out)
    return out.getvalue()


def parts(raw: Path) -> list[Path]:
    return sorted(raw.rglob("*.part"))


def assert_untouched(raw: Path, manifest: bytes) -> None:
    """The good files are as pinned, the manifest as before, no temporary file anywhere."""
    for pin_id in (CSV_ID, "typo_densite"):
        data = (raw / PINS[pin_id].path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == PINS[pin_id].sha256
    assert (raw / MANIFEST_NAME).read_bytes() == manifest
    assert verify_manifest(raw) == []
    assert [p for p in raw.rglob(".*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("mode", "accept", "expected"),
    [
        ("cut-length", False, "truncated download"),
        ("chunked-cut", False, "before the connection failed"),
        ("cut-no-length", False, "line break"),
        ("cut-no-length", True, "line break"),  # refused by the format check, not only the pin
        ("changed", False, "pinned vintage"),
    ],
)
def test_bad_body_is_refused_and_the_good_file_kept(
    good_raw: Path, mode: str, accept: bool, expected: str
) -> None:
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    files = {CSV.path: original(CSV_ID)}
    with faulty_server(files, mode) as base, pytest.raises(InputFileError, match=expected):
        fetch_sources(good_raw, base_url=base, source_ids=[CSV_ID], accept_new_vintage=accept)
    assert_untouched(good_raw, manifest)


def test_complete_chunked_body_is_accepted(good_raw: Path) -> None:
    """Chunked encoding marks the end of the body: a CSV without final line break passes."""
    data = original(CSV_ID).rstrip(b"\n")
    with faulty_server({CSV.path: data}, "chunked") as base:
        manifest = fetch_sources(
            good_raw, base_url=base, source_ids=[CSV_ID], accept_new_vintage=True
        )
    entry = {e["source_id"]: e for e in manifest["files"]}[CSV_ID]
    assert (entry["size_bytes"], entry["pin"]) == (len(data), "accepted")
    assert (good_raw / CSV.path).read_bytes() == data
    assert parts(good_raw) == []


def test_csv_cut_inside_its_last_value_never_reaches_clean(good_raw: Path) -> None:
    """The defect seen in the field: no Content-Length, cut after "Rura" (a whole last field)."""
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    data = original("typo_densite")
    cut = data.index(b",Rural", len(data) // 2) + len(b",Rura")
    assert data[:cut].rsplit(b"\n", 1)[1].count(b",") == 2  # the header's field count
    files = {TYPO.path: data}
    with (
        faulty_server(files, "cut-no-length", cut=cut / len(data)) as base,
        pytest.raises(InputFileError, match="cut short: .*Rura'"),
    ):
        fetch_sources(good_raw, base_url=base, source_ids=["typo_densite"], accept_new_vintage=True)
    assert_untouched(good_raw, manifest)


@pytest.mark.parametrize("mode", ["drip", "drip-length", "drip-headers"])
def test_dripping_server_is_cut_off_at_the_deadline(good_raw: Path, mode: str) -> None:
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    files = {CSV.path: original(CSV_ID)}
    started = time.monotonic()
    with (
        faulty_server(files, mode) as base,
        pytest.raises(InputFileError, match="deadline of 1.5 s"),
    ):
        fetch_sources(good_raw, base_url=base, source_ids=[CSV_ID], timeout_s=10, deadline_s=1.5)
    assert time.monotonic() - started < 1.5 + 2.0  # not the 10 s socket timeout, nor forever
    assert_untouched(good_raw, manifest)


def test_hung_server_times_out(good_raw: Path) -> None:
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    started = time.monotonic()
    with (
        faulty_server({CSV.path: b""}, "hang") as base,
        pytest.raises(InputFileError, match="unreachable .*timed out"),
    ):
        fetch_sources(good_raw, base_url=base, source_ids=[CSV_ID], timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert_untouched(good_raw, manifest)


@pytest.mark.parametrize(
    ("mode", "expected"), [("error-500", "HTTP 500"), ("redirect-loop", "302")]
)
def test_server_errors_fail_and_are_not_papered_over(good_raw: Path, mode: str, expected: str):
    """An HTTP error is not an absence: no fallback to the snapshot, a non-zero exit."""
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    with (
        faulty_server({CSV.path: original(CSV_ID)}, mode) as base,
        pytest.raises(InputFileError, match=expected),
    ):
        fetch_sources(good_raw, base_url=base, source_ids=[CSV_ID], timeout_s=5)
    assert_untouched(good_raw, manifest)


def _fetch_process(
    raw: Path, base: str, tmp_path: Path, deadline_s: float = 60
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "analyse", "--raw-dir", str(raw)]
    argv += ["--processed-dir", str(tmp_path / "processed"), "fetch", "--base-url", base]
    argv += ["--source", CSV_ID, "--deadline-s", str(deadline_s)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_part(raw: Path, process: subprocess.Popen[bytes]) -> Path:
    """The ``.part`` file of the running download, once it holds bytes."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [p for p in parts(raw) if p.stat().st_size > 0]
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(f"fetch ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("no .part file appeared")


def test_kill_9_mid_download_leaves_at_most_a_part_file_that_the_next_fetch_removes(
    good_raw: Path, tmp_path: Path
) -> None:
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    files = {CSV.path: original(CSV_ID)}
    with faulty_server(files, "drip-length") as base:
        process = _fetch_process(good_raw, base, tmp_path)
        part = _wait_for_part(good_raw, process)
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert parts(good_raw) == [part]  # at most the .part
    part.rename(part.with_name("kept-for-a-moment"))
    assert_untouched(good_raw, manifest)  # the good file and the manifest as before
    part.with_name("kept-for-a-moment").rename(part)

    with faulty_server(files, "good") as base:
        fetch_sources(good_raw, base_url=base, source_ids=[CSV_ID])
    assert parts(good_raw) == []
    assert hashlib.sha256((good_raw / CSV.path).read_bytes()).hexdigest() == CSV.sha256
    assert verify_manifest(good_raw) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_terminated_fetch_removes_its_part_file(
    good_raw: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    with faulty_server({CSV.path: original(CSV_ID)}, "drip") as base:
        process = _fetch_process(good_raw, base, tmp_path)
        _wait_for_part(good_raw, process)
        os.kill(process.pid, signum)
        _, err = process.communicate(timeout=20)
    assert process.returncode != 0
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert_untouched(good_raw, manifest)


def test_a_second_fetch_waits_for_the_first_and_leaves_its_files_alone(
    good_raw: Path, tmp_path: Path
) -> None:
    """The folder lock: a concurrent materialisation never removes a running fetch's .part."""
    manifest = (good_raw / MANIFEST_NAME).read_bytes()
    with faulty_server({CSV.path: original(CSV_ID)}, "drip") as base:
        process = _fetch_process(good_raw, base, tmp_path, deadline_s=2)
        part = _wait_for_part(good_raw, process)
        started = time.monotonic()
        results = materialise_reference(good_raw, [CSV_ID])  # waits for the lock
        waited = time.monotonic() - started
        _, err = process.communicate(timeout=20)
    assert process.returncode == 2 and b"deadline of 2 s" in err
    assert waited > 0.5 and not part.exists()
    assert [r["status"] for r in results] == ["present"]
    assert_untouched(good_raw, manifest)
