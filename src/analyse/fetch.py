"""Get the raw sources into ``data/raw``, verified against their pins, and record a manifest.

Four origins for each source of :data:`analyse.sources.SOURCES`:

- reference (:func:`materialise_reference`, ``analyse fetch --reference``): the offline default,
  decompressed from the snapshot shipped in ``data/reference`` (:mod:`analyse.refdata`);
- official: downloaded from ``source.url`` (zip archives are unpacked: ``archive_member`` is
  stored at ``source.path``);
- ``base_url``: downloaded from ``<base_url>/<source.path>``, an HTTP mirror laid out like
  ``data/raw``;
- ``mirror``: copied from ``<mirror>/<source.path>``, a folder laid out like ``data/raw``.

Guarantees:

- A file is written under a temporary ``.part`` name beside its target, checked, and only then
  renamed into place: a failed, refused, interrupted (Ctrl-C, SIGTERM) or timed-out fetch leaves
  the previous file untouched and no temporary file. A fetch killed with -9 may leave a
  ``.part``; the next fetch or materialisation into the folder removes it (under a lock held on
  the folder, so two fetches never touch the same files at once).
- Checks: size as announced (``Content-Length``, or the mirror file's size); the whole file
  parsed in its format (CSV: every line has the header's field count, and a body of unknown
  length must end with a line break; JSON and GeoJSON: full parse; xlsx: opens, declared sheets
  and header columns); then the pin: size and SHA-256 of the vintage the project supports (the
  reference snapshot). A file that differs from its pin is refused (nothing replaced, non-zero
  exit) unless ``accept_new_vintage`` is given, which records the new checksum (``pin``:
  ``accepted``, ``pinned_sha256``, ``changed_from``).
- Each download has an overall deadline (``deadline_s``) on top of the socket timeout: a server
  that drips bytes or hangs is cut off when it expires.
- A source that its origin does not have (no address, absent from the mirror, HTTP 404/410) is
  taken from the reference snapshot when pinned there, unless a new vintage is asked for.

``dest/manifest.json`` records, per file: source_id, path, sha256, size_bytes, origin,
retrieved_at, vintage, synthetic (files invented by ``analyse demo``), pin. Its top-level
``synthetic`` is true only when every listed file is synthetic. :func:`verify_manifest`
re-hashes the files.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import http.client
import io
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyse import __version__
from analyse.errors import InputFileError, ParameterError
from analyse.files import FILE_MODE, sha256_file, write_text_atomic
from analyse.refdata import ORIGIN as REFERENCE_ORIGIN
from analyse.refdata import ReferenceFile, decompress, load_reference
from analyse.sources import SOURCES, Source, get_header_row, get_sheet_columns, get_source

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
#: Default overall time limit of one download, in seconds.
DEADLINE_S = 300.0
_CHUNK = 1 << 16
_CSV_DELIMITERS = (",", ";", "\t", "|")
_USER_AGENT = f"analyse/{__version__} (analyse fetch; Python urllib)"
_PART = ".part"


class _SourceAbsentError(Exception):
    """The source is not available from the chosen origin (absent from the mirror, HTTP error).

    ``args``: (where, reason, expected) - ``expected`` is True when absence is normal (no
    address, a mirror without the file, HTTP 404/410): only then may the reference snapshot
    stand in for it.
    """


def fetch_sources(
    dest: Path,
    *,
    mirror: Path | None = None,
    base_url: str | None = None,
    source_ids: Sequence[str] | None = None,
    timeout_s: float = 60,
    deadline_s: float = DEADLINE_S,
    accept_new_vintage: bool = False,
    reference_dir: Path | None = None,
) -> dict[str, Any]:
    """Fetch sources into ``dest`` (``data/raw``), verify them and write ``dest/manifest.json``.

    ``mirror`` (a folder) or ``base_url`` (an HTTP mirror) replace the publishers' addresses;
    ``source_ids`` restricts the run (default: every source). A source its origin does not have
    is taken from the reference snapshot when pinned there (unless ``accept_new_vintage``);
    otherwise optional sources are skipped with a log line, and a required (or explicitly
    requested) source missing, or any file failing verification, raises
    :class:`InputFileError` after the other sources were processed. ``timeout_s`` bounds each
    socket operation, ``deadline_s`` each file. Entries of a previous manifest for sources not
    fetched now are kept. ``reference_dir`` replaces ``data/reference`` (tests).

    Returns the manifest as written, with three extra keys: ``fetched`` (ids fetched from the
    origin in this run), ``from_reference`` (ids taken from the snapshot instead) and
    ``skipped`` (``[{"source_id", "reason"}]``).
    """
    if mirror is not None and base_url is not None:
        raise ParameterError("give either a mirror folder or a base URL, not both")
    if mirror is not None and not Path(mirror).is_dir():
        raise InputFileError(mirror, "a mirror folder laid out like data/raw")
    if deadline_s <= 0 or timeout_s <= 0:
        raise ParameterError("the deadline and the timeout must be positive numbers of seconds")
    explicit = source_ids is not None
    sources = (
        [get_source(i) for i in dict.fromkeys(source_ids)] if explicit else list(SOURCES.values())
    )
    pins = load_reference(reference_dir)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    options = {
        "mirror": mirror,
        "base_url": base_url,
        "timeout_s": timeout_s,
        "deadline_s": deadline_s,
        "accept_new_vintage": accept_new_vintage,
    }

    entries: dict[str, dict[str, Any]] = {}
    from_reference: list[str] = []
    skipped: list[dict[str, str]] = []
    errors: list[InputFileError] = []
    with _exclusive(dest), _terminate_as_exit():
        previous = _previous_entries(dest)
        try:
            for source in sources:
                old = previous.get(source.id)
                try:
                    outcome, payload = _get_one(
                        source, dest, old, pins.get(source.id), explicit, reference_dir, options
                    )
                except InputFileError as exc:
                    logger.error("source %s failed: %s", source.id, exc)
                    errors.append(exc)
                    continue
                if outcome == "skipped":
                    skipped.append({"source_id": source.id, "reason": payload})
                    continue
                if outcome == "reference":
                    from_reference.append(source.id)
                if payload is not None:
                    entries[source.id] = payload
        finally:  # files already in place are recorded, whatever happened after them
            manifest = _update_manifest(dest, previous, entries)

    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InputFileError(
            dest,
            "every requested source fetched and verified",
            found=f"{len(errors)} failures:\n  - " + "\n  - ".join(str(e) for e in errors),
        )
    problems = verify_manifest(dest)
    if problems:
        raise InputFileError(
            dest / MANIFEST_NAME,
            "every listed file present and unchanged",
            found="; ".join(problems),
        )
    fetched = [i for i in entries if i not in from_reference]
    return {**manifest, "fetched": fetched, "from_reference": from_reference, "skipped": skipped}


def materialise_reference(
    raw_dir: Path,
    source_ids: Sequence[str] | None = None,
    *,
    reference_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Decompress the reference snapshot into ``raw_dir`` and record it in ``manifest.json``.

    Idempotent and cheap when nothing is missing: a file already present with its pinned
    SHA-256 is left as is (``status`` ``present``); a different file is never overwritten
    (``kept``: a fetched newer vintage stays, with a warning) unless the manifest flags it
    synthetic (``replaced``); a missing one is decompressed to a temporary file, checked against
    the pin, then renamed into place (``written``). ``source_ids`` (default: every source in the
    snapshot) may name registry sources the snapshot lacks (``absent``).

    Returns one dict per source: ``source_id``, ``path``, ``status``, ``sha256`` and
    ``size_bytes`` (of the file now on disk, None if absent), ``detail``.
    """
    pins = load_reference(reference_dir)
    ids = list(pins) if source_ids is None else [get_source(i).id for i in source_ids]
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    entries: dict[str, dict[str, Any]] = {}
    with _exclusive(raw_dir), _terminate_as_exit():
        previous = _previous_entries(raw_dir)
        try:
            for source_id in dict.fromkeys(ids):
                pin = pins.get(source_id)
                if pin is None:
                    results.append(_absent_result(source_id))
                    continue
                old = previous.get(source_id)
                result, entry = _materialise_one(pin, raw_dir, reference_dir, old)
                results.append(result)
                if entry is not None:
                    entries[source_id] = entry
        finally:  # files already in place are recorded, whatever happened after them
            _update_manifest(raw_dir, previous, entries)
    return results


def describe_file(
    dest: Path, source_id: str, *, origin: str, synthetic: bool = False
) -> dict[str, Any]:
    """Manifest entry of the file of ``source_id`` already written under ``dest``.

    For writers other than :func:`fetch_sources` (``analyse demo``), so every manifest has the
    same entries: source_id, path, sha256, size_bytes, origin, retrieved_at, vintage, synthetic.
    """
    source = get_source(source_id)
    path = Path(dest) / source.path
    if not path.is_file():
        raise InputFileError(path, f"the file of source {source_id!r}", found="no file")
    return {
        "source_id": source_id,
        "path": source.path,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "origin": origin,
        "retrieved_at": _now(),
        "vintage": source.vintage,
        "synthetic": synthetic,
    }


#: Keys of a manifest written by ``analyse demo`` about its synthetic files (kept as long as a
#: synthetic file is listed: the planted truths follow the data into every snapshot).
_DEMO_KEYS = ("generator", "seed", "planted_effects", "summary")


def write_manifest(dest: Path, files: list[dict[str, Any]], *, synthetic: bool) -> dict[str, Any]:
    """Write ``dest/manifest.json`` atomically (files in registry order) and return it."""
    order = {source_id: n for n, source_id in enumerate(SOURCES)}
    manifest: dict[str, Any] = {
        "created_at": _now(),
        "synthetic": synthetic,
        "files": sorted(files, key=lambda e: order.get(e["source_id"], len(order))),
    }
    if any(f.get("synthetic") for f in files):
        previous = _read_manifest_keys(Path(dest))
        manifest.update({k: previous[k] for k in _DEMO_KEYS if k in previous})
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    write_text_atomic(Path(dest) / MANIFEST_NAME, text)
    return manifest


def _read_manifest_keys(dest: Path) -> dict[str, Any]:
    """The manifest of ``dest`` as a dict (empty when absent or unreadable)."""
    try:
        data = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def verify_manifest(dest: Path) -> list[str]:
    """Re-hash the files listed in ``dest/manifest.json``; return the problems (empty if none).

    Each problem names the file: ``missing``, ``truncated`` (smaller than recorded) or
    ``changed`` (other size or other SHA-256).
    """
    dest = Path(dest)
    manifest_path = dest / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"missing: {manifest_path}"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return [f"unreadable: {manifest_path} ({exc})"]
    problems: list[str] = []
    for entry in files:
        path = dest / entry["path"]
        if not path.is_file():
            problems.append(f"missing: {entry['path']} (source {entry['source_id']})")
            continue
        size = path.stat().st_size
        expected_size = entry.get("size_bytes")
        if expected_size is not None and size < expected_size:
            problems.append(
                f"truncated: {entry['path']} ({size} bytes on disk, {expected_size} recorded)"
            )
            continue
        if expected_size is not None and size != expected_size:
            problems.append(
                f"changed: {entry['path']} ({size} bytes on disk, {expected_size} recorded)"
            )
            continue
        sha = sha256_file(path)
        if sha != entry.get("sha256"):
            problems.append(
                f"changed: {entry['path']} (sha256 {sha} on disk, {entry.get('sha256')} recorded)"
            )
    return problems


# ---------------------------------------------------------------------------------------------
# manifest, lock, signals


def _previous_entries(dest: Path) -> dict[str, dict[str, Any]]:
    """Entries of ``dest/manifest.json`` by source id (``{}`` when absent or unreadable).

    Old manifests have no per-file ``synthetic`` flag: the top-level one is copied to them.
    """
    path = dest / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("ignoring unreadable previous manifest %s", path)
        return {}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        logger.warning("ignoring previous manifest %s without a files list", path)
        return {}
    synthetic = bool(manifest.get("synthetic", False))
    return {
        e["source_id"]: {**e, "synthetic": bool(e.get("synthetic", synthetic))}
        for e in manifest["files"]
        if isinstance(e, dict) and "source_id" in e and "path" in e
    }


def _update_manifest(
    dest: Path, previous: dict[str, dict[str, Any]], entries: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Write the previous entries updated with ``entries`` (files gone from disk dropped).

    An existing manifest that nothing changes is left as it is (and returned).
    """
    files: list[dict[str, Any]] = []
    for source_id, old in previous.items():
        if source_id in entries:
            continue
        if not (dest / str(old["path"])).is_file():
            logger.warning("%s (source %s) is no longer on disk: dropped", old["path"], source_id)
            continue
        files.append(old)
    if previous and not entries and len(files) == len(previous):
        return json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    files += [{**e, "synthetic": bool(e.get("synthetic", False))} for e in entries.values()]
    synthetic = [e["path"] for e in files if e["synthetic"]]
    if synthetic:
        logger.info("synthetic files in %s (from `analyse demo`): %s", dest, ", ".join(synthetic))
    return write_manifest(dest, files, synthetic=bool(files) and len(synthetic) == len(files))


def _note_change(
    entry: dict[str, Any], old: dict[str, Any] | None, pin: ReferenceFile | None
) -> dict[str, Any]:
    """Add ``changed_from`` when the file differs from the previous one (or from its pin)."""
    before = old["sha256"] if old else None
    if before is None and entry.get("pin") == "accepted" and pin is not None:
        before = pin.sha256
    if before is None or before == entry["sha256"]:
        return entry
    entry["changed_from"] = before
    synthetic = bool(old and old.get("synthetic"))
    (logger.info if synthetic else logger.warning)(
        "source %s changed: %s sha256 %s -> %s",
        entry["source_id"],
        entry["path"],
        before,
        entry["sha256"],
    )
    return entry


@contextlib.contextmanager
def _exclusive(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``dest``; then remove stale temporary files.

    Temporary files are only ever written under this lock, so any found once it is held were
    left by a killed process.
    """
    fd = os.open(dest, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another fetch into %s to finish", dest)
            fcntl.flock(fd, fcntl.LOCK_EX)
        stale = [*dest.rglob(f".*{_PART}"), *dest.glob(f".{MANIFEST_NAME}.*.tmp")]
        for path in stale:
            logger.info("removing %s, left by an interrupted fetch", path)
            path.unlink(missing_ok=True)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` so temporary files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:  # someone else handles (or ignores) it
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------------------------
# reference snapshot


def _absent_result(source_id: str) -> dict[str, Any]:
    logger.warning("source %s is not in the reference snapshot", source_id)
    return {
        "source_id": source_id,
        "path": SOURCES[source_id].path,
        "status": "absent",
        "sha256": None,
        "size_bytes": None,
        "detail": "not in the reference snapshot (data/reference/reference.json)",
    }


def _get_one(
    source: Source,
    dest: Path,
    old: dict[str, Any] | None,
    pin: ReferenceFile | None,
    explicit: bool,
    reference_dir: Path | None,
    options: dict[str, Any],
) -> tuple[str, Any]:
    """Fetch one source, or take it from the snapshot when its origin lacks it.

    Returns ``("fetched", entry)``, ``("reference", entry or None)`` (None: the manifest
    already lists the file) or ``("skipped", reason)``; raises :class:`InputFileError` when the
    file fails verification or a required (or requested) source is absent.
    """
    try:
        entry = _fetch_one(source, dest, old=old, pin=pin, **options)
    except _SourceAbsentError as exc:
        where, reason, normal = exc.args
    else:
        logger.info("fetched %s -> %s (%d bytes)", source.id, entry["path"], entry["size_bytes"])
        return "fetched", _note_change(entry, old, pin)
    if pin is not None and normal and not options["accept_new_vintage"]:
        result, entry = _materialise_one(pin, dest, reference_dir, old)
        logger.info("%s: %s; reference snapshot copy %s", source.id, reason, result["status"])
        if result["status"] == "kept":
            return "skipped", result["detail"]
        return "reference", entry
    if source.required or explicit:
        raise InputFileError(where, f"the file of source {source.id!r}", found=reason)
    level = logging.INFO if normal else logging.WARNING
    logger.log(level, "skipped optional source %s: %s", source.id, reason)
    return "skipped", reason


def _materialise_one(
    pin: ReferenceFile, dest: Path, reference_dir: Path | None, old: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Put the snapshot's file of ``pin`` at its path: (result, manifest entry or None)."""
    target = dest / pin.path
    result = {"source_id": pin.id, "path": pin.path, "sha256": pin.sha256, "detail": ""}
    result["size_bytes"] = pin.size_bytes
    entry = {
        "source_id": pin.id,
        "path": pin.path,
        "sha256": pin.sha256,
        "size_bytes": pin.size_bytes,
        "origin": REFERENCE_ORIGIN,
        "retrieved_at": _now(),
        "vintage": pin.vintage,
        "synthetic": False,
        "pin": "match",
    }
    synthetic = bool(old and old.get("synthetic"))
    if target.is_file():
        size = target.stat().st_size
        sha = sha256_file(target) if size == pin.size_bytes else None
        if sha == pin.sha256:
            same = old is not None and old.get("sha256") == sha and not synthetic
            return {**result, "status": "present"}, None if same else entry
        if not synthetic:
            sha = sha or sha256_file(target)
            origin = old.get("origin") if old else "not listed in manifest.json"
            detail = (
                f"differs from the reference snapshot ({size} bytes, sha256 {sha}; "
                f"origin: {origin}): kept, not replaced"
            )
            logger.warning("%s: %s", pin.path, detail)
            status = {"status": "kept", "sha256": sha, "size_bytes": size, "detail": detail}
            return {**result, **status}, None
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as tmp:
        with tmp.open("wb") as out:
            decompress(pin, out, reference_dir)
            out.flush()
            os.fsync(out.fileno())
        tmp.chmod(FILE_MODE)
        os.replace(tmp, target)
    if synthetic:
        logger.info("%s: synthetic file replaced by the reference snapshot's", pin.path)
        return {**result, "status": "replaced", "detail": "synthetic file replaced"}, entry
    return {**result, "status": "written"}, entry


# ---------------------------------------------------------------------------------------------
# one source


def _fetch_one(
    source: Source,
    dest: Path,
    *,
    mirror: Path | None,
    base_url: str | None,
    timeout_s: float,
    deadline_s: float,
    pin: ReferenceFile | None,
    old: dict[str, Any] | None,
    accept_new_vintage: bool,
) -> dict[str, Any]:
    target = dest / source.path
    target.parent.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"source_id": source.id, "path": source.path}

    def finish(tmp: Path, *, shown: str | Path, length_known: bool) -> dict[str, Any]:
        return _finish(
            source,
            tmp,
            target,
            shown=shown,
            length_known=length_known,
            pin=pin,
            old=old,
            accept_new_vintage=accept_new_vintage,
        )

    def download(url: str, tmp: Path) -> bool:
        return _download(url, tmp, timeout_s=timeout_s, deadline_s=deadline_s, shown=source.path)

    if mirror is not None:
        origin_path = Path(mirror) / source.path
        if not origin_path.is_file():
            raise _SourceAbsentError(origin_path, f"not in the mirror folder {mirror}", True)
        with _temporary_beside(target) as tmp:
            expected = origin_path.stat().st_size
            shutil.copyfile(origin_path, tmp)
            received = tmp.stat().st_size
            if received != expected:
                raise InputFileError(
                    origin_path, f"a copy of {expected} bytes", found=f"{received} bytes copied"
                )
            entry |= finish(tmp, shown=origin_path, length_known=True)
        entry["origin"] = str(origin_path)
    elif base_url is not None:
        url = base_url.rstrip("/") + "/" + urllib.parse.quote(source.path)
        with _temporary_beside(target) as tmp:
            entry |= finish(tmp, shown=url, length_known=download(url, tmp))
        entry["origin"] = url
    elif source.url is None:
        raise _SourceAbsentError(
            target, "no public address: place the file there or use --mirror", True
        )
    elif source.archive_member:
        with (
            _temporary_beside(target, suffix=".zip") as archive,
            _temporary_beside(target) as tmp,
        ):
            download(source.url, archive)
            entry["archive_sha256"] = sha256_file(archive)
            _extract_member(archive, source.archive_member, tmp, shown=source.url)
            entry["archive_member"] = source.archive_member
            entry |= finish(tmp, shown=source.url, length_known=True)
        entry["origin"] = source.url
    else:
        with _temporary_beside(target) as tmp:
            entry |= finish(tmp, shown=source.url, length_known=download(source.url, tmp))
        entry["origin"] = source.url
    return entry


def _finish(
    source: Source,
    tmp: Path,
    target: Path,
    *,
    shown: str | Path,
    length_known: bool,
    pin: ReferenceFile | None,
    old: dict[str, Any] | None,
    accept_new_vintage: bool,
) -> dict[str, Any]:
    """Check the temporary file (format, then pin), then move it into place (atomic rename)."""
    check_format(source, tmp, shown=shown, length_known=length_known)
    sha, size = sha256_file(tmp), tmp.stat().st_size
    entry: dict[str, Any] = {"sha256": sha, "size_bytes": size, "retrieved_at": _now()}
    entry |= _pin_status(source, pin, old, size, sha, accept_new_vintage, shown=shown)
    tmp.chmod(FILE_MODE)  # mkstemp creates 0600 files
    os.replace(tmp, target)
    return entry


def _pin_status(
    source: Source,
    pin: ReferenceFile | None,
    old: dict[str, Any] | None,
    size: int,
    sha: str,
    accept_new_vintage: bool,
    *,
    shown: str | Path,
) -> dict[str, Any]:
    """Manifest fields saying how the file compares with its pin; refuse an unasked change."""
    if pin is None:
        return {"vintage": source.vintage, "pin": "none"}
    if (size, sha) == (pin.size_bytes, pin.sha256):
        return {"vintage": pin.vintage, "pin": "match"}
    accepted = {"pin": "accepted", "pinned_sha256": pin.sha256}
    if old is not None and old.get("pin") == "accepted" and old.get("sha256") == sha:
        return {**accepted, "vintage": old.get("vintage", "")}  # accepted before, same bytes
    if accept_new_vintage:
        logger.warning(
            "%s: new vintage accepted (%d bytes, sha256 %s; pinned %s)",
            source.id,
            size,
            sha,
            pin.sha256,
        )
        return {**accepted, "vintage": f"newer than the pinned vintage ({pin.vintage})"}
    raise InputFileError(
        shown,
        f"the pinned vintage of {source.id!r} ({pin.vintage}): {pin.size_bytes} bytes, "
        f"sha256 {pin.sha256}",
        found=(
            f"{size} bytes, sha256 {sha}: another vintage or a damaged file, refused and "
            "nothing replaced (pass --accept-new-vintage to take it)"
        ),
    )


@contextlib.contextmanager
def _temporary_beside(target: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary ``.part`` path in ``target``'s folder, removed on exit unless renamed away."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + _PART, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


class _Deadline:
    """Overall time limit of one download: shuts its sockets down when it expires.

    A blocked ``recv`` then returns, so a server that drips bytes or sends nothing is cut off
    within the deadline whatever the socket timeout.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def opener(self) -> urllib.request.OpenerDirector:
        """A urllib opener whose connections are tracked by this deadline."""
        deadline = self

        class _HTTPConnection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                deadline.track(self.sock)

        class _HTTPSConnection(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                deadline.track(self.sock)

        class _HTTPHandler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(_HTTPConnection, req)

        class _HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                kwargs: dict[str, Any] = {"context": self._context}
                if getattr(self, "_check_hostname", None) is not None:  # Python < 3.12
                    kwargs["check_hostname"] = self._check_hostname
                return self.do_open(_HTTPSConnection, req, **kwargs)

        return urllib.request.build_opener(_HTTPHandler(), _HTTPSHandler())


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _download(url: str, tmp: Path, *, timeout_s: float, deadline_s: float, shown: str) -> bool:
    """Stream ``url`` into ``tmp`` within ``deadline_s``; return whether its end was certain.

    A body shorter than ``Content-Length``, a broken chunked body, a connection error or the
    deadline are errors (:class:`InputFileError`); HTTP errors and unreachable hosts are
    :class:`_SourceAbsentError`.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with _Deadline(deadline_s) as deadline:
        started = time.monotonic()
        try:
            response = deadline.opener().open(request, timeout=min(timeout_s, deadline_s))
        except urllib.error.HTTPError as exc:
            exc.close()
            found = f"HTTP {exc.code} {exc.reason} at {url}"
            raise _SourceAbsentError(url, found, exc.code in (404, 410)) from exc
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                raise _deadline_error(url, shown, deadline_s, 0, None) from exc
            reason = getattr(exc, "reason", exc)
            raise _SourceAbsentError(url, f"{url} unreachable ({reason})", False) from exc
        with response:
            length_header = response.headers.get("Content-Length")
            expected = int(length_header) if length_header and length_header.isdigit() else None
            chunked = bool(response.chunked)
            received = 0
            try:
                with tmp.open("wb") as out:
                    while chunk := response.read1(_CHUNK):
                        out.write(chunk)
                        received += len(chunk)
                        if deadline.expired:
                            break
                    out.flush()
                    os.fsync(out.fileno())
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                if deadline.expired:
                    raise _deadline_error(url, shown, deadline_s, received, expected) from exc
                partial = getattr(exc, "partial", b"")
                raise InputFileError(
                    f"{shown} from {url}",
                    f"{expected if expected is not None else 'all'} bytes",
                    found=(
                        f"{received + len(partial)} bytes before the connection failed "
                        f"after {time.monotonic() - started:.1f} s ({exc!r})"
                    ),
                ) from exc
        if deadline.expired:
            raise _deadline_error(url, shown, deadline_s, received, expected)
    if expected is not None and received != expected:
        raise InputFileError(
            f"{shown} from {url}",
            f"{expected} bytes (Content-Length)",
            found=f"{received} bytes received (truncated download)",
        )
    return expected is not None or chunked  # a chunked body ends with its own end marker


def _deadline_error(
    url: str, shown: str, deadline_s: float, received: int, expected: int | None
) -> InputFileError:
    of = f" of {expected}" if expected is not None else ""
    return InputFileError(
        f"{shown} from {url}",
        f"the whole file within the deadline of {deadline_s:g} s (--deadline-s)",
        found=f"{received}{of} bytes when it expired: download cut off",
    )


def _extract_member(archive: Path, member: str, tmp: Path, *, shown: str) -> None:
    """Copy ``member`` (matched by full name, else by base name) out of the zip ``archive``."""
    if not zipfile.is_zipfile(archive):
        raise InputFileError(shown, "a zip archive", found=_describe_start(archive))
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        matches = [n for n in names if n == member] or [
            n for n in names if n.rsplit("/", 1)[-1].lower() == member.lower()
        ]
        if len(matches) != 1:
            raise InputFileError(
                shown, f"one archive member named {member!r}", found=f"members {names}"
            )
        try:
            with zf.open(matches[0]) as src, tmp.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise InputFileError(shown, "an intact zip archive", found=str(exc)) from exc


# ---------------------------------------------------------------------------------------------
# format checks


def check_format(
    source: Source, path: Path, *, shown: str | Path, length_known: bool = True
) -> None:
    """Raise :class:`InputFileError` unless the whole of ``path`` parses as ``source.format``.

    ``length_known`` is False for a body received without ``Content-Length``: a CSV must then
    end with a line break (a cut body rarely does).
    """
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(shown, "a non-empty file", found="0 bytes")
    if source.extra.get("format_check") == "non-empty":
        return
    if source.format == "xlsx":
        _check_xlsx(source, path, shown=shown)
    elif source.format == "geojson":
        _check_geojson(source, path, shown=shown)
    elif source.format == "json":
        _check_json(source, path, shown=shown)
    elif source.format == "csv":
        _check_csv(source, path, shown=shown, length_known=length_known)
    elif source.format in ("yaml", "yml"):
        _read_utf8(path, shown=shown)
    else:
        raise InputFileError(shown, f"a known format, not {source.format!r}")


def _check_xlsx(source: Source, path: Path, *, shown: str | Path) -> None:
    """A zip holding an Office workbook that opens, with each declared sheet and header."""
    import fastexcel

    if not zipfile.is_zipfile(path):
        raise InputFileError(shown, "an xlsx workbook (zip)", found=_describe_start(path))
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise InputFileError(
            shown, "an xlsx workbook with xl/workbook.xml", found=f"a zip of {sorted(names)[:5]}"
        )
    try:
        book = fastexcel.read_excel(str(path))
    except Exception as exc:  # fastexcel raises its own CalamineError / FastExcelError
        found = str(exc).split("\n")[0]
        raise InputFileError(shown, "an xlsx workbook that opens", found=found) from exc
    sheets = list(book.sheet_names)
    header_row = get_header_row(source)
    for sheet, columns in get_sheet_columns(source).items():
        if sheet not in sheets:
            raise InputFileError(
                shown, f"a sheet named {sheet!r}", sheet=sheet, found=f"sheets {sheets}"
            )
        try:
            rows = book.load_sheet(
                sheet, header_row=None, skip_rows=0, n_rows=header_row + 1, dtypes="string"
            ).to_polars()
        except Exception as exc:
            found = str(exc).split("\n")[0]
            raise InputFileError(shown, "a readable sheet", sheet=sheet, found=found) from exc
        header = (
            [str(v).strip() for v in rows.row(header_row) if v is not None]
            if rows.height > header_row
            else []
        )
        missing = [c for c in columns if c not in header]
        if missing:
            raise InputFileError(
                shown,
                f"columns {list(columns)}",
                sheet=sheet,
                row=header_row + 1,
                column=missing[0],
                found=f"{header} (missing {missing})",
            )


def _load_json(path: Path, *, shown: str | Path, what: str) -> Any:
    try:
        return json.loads(_read_utf8(path, shown=shown))
    except json.JSONDecodeError as exc:
        raise InputFileError(
            shown, f"{what} (valid JSON)", row=exc.lineno, found=f"invalid JSON: {exc.msg}"
        ) from exc


def _require_keys(
    source: Source, records: list[dict[str, Any]], *, shown: str | Path, what: str
) -> None:
    """Every declared column is a key of at least one record."""
    found: set[str] = set()
    for record in records:
        found.update(record)
    missing = [c for c in source.columns if c not in found]
    if missing:
        raise InputFileError(
            shown,
            f"{what} {list(source.columns)}",
            column=missing[0],
            found=f"{sorted(found)} (missing {missing})",
        )


def _check_geojson(source: Source, path: Path, *, shown: str | Path) -> None:
    data = _load_json(path, shown=shown, what="GeoJSON")
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise InputFileError(shown, "a GeoJSON FeatureCollection with features", found="none")
    if not all(isinstance(f, dict) for f in features):
        raise InputFileError(shown, "GeoJSON features as objects", found="another JSON value")
    properties = [f.get("properties") or {} for f in features]
    _require_keys(source, properties, shown=shown, what="feature properties")


def _check_json(source: Source, path: Path, *, shown: str | Path) -> None:
    data = _load_json(path, shown=shown, what="JSON")
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise InputFileError(
            shown, "a non-empty JSON array of objects", found=f"a JSON {type(data).__name__}"
        )
    _require_keys(source, data, shown=shown, what="keys")


def _check_csv(source: Source, path: Path, *, shown: str | Path, length_known: bool) -> None:
    """Header columns, the same field count on every line, complete when length is unknown."""
    text = _read_utf8(path, shown=shown)
    header = text.split("\n", 1)[0].rstrip("\r")
    if not header.strip():
        raise InputFileError(shown, "a header line", row=1, found="an empty first line")
    delimiter = source.extra.get("delimiter") or max(_CSV_DELIMITERS, key=header.count)
    found = [h.strip() for h in next(csv.reader([header], delimiter=delimiter))]
    found_keys = {_header_key(h) for h in found}
    missing = [c for c in source.columns if _header_key(c) not in found_keys]
    if missing:
        raise InputFileError(
            shown,
            f"header columns {list(source.columns)}",
            row=1,
            column=missing[0],
            found=f"{found} (missing {missing})",
        )
    if not length_known and not text.endswith("\n"):
        last = text.rsplit("\n", 1)[-1]
        raise InputFileError(
            shown,
            "a complete file ending with a line break (the body came without Content-Length)",
            row=text.count("\n") + 1,
            found=f"a last line cut short: {last[-40:]!r}",
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for record in reader:
            if record and len(record) != len(found):
                raise InputFileError(
                    shown,
                    f"{len(found)} fields on every line, as in the header",
                    row=reader.line_num,
                    found=f"{len(record)} fields",
                )
    except csv.Error as exc:
        raise InputFileError(shown, "well-formed CSV", row=reader.line_num, found=str(exc)) from exc


def _header_key(name: str) -> str:
    """Header comparison key: accents, case, spaces and punctuation ignored."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _read_utf8(path: Path, *, shown: str | Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise InputFileError(
            shown, "UTF-8 text", row=row, found=f"byte {data[exc.start]:#04x} at offset {exc.start}"
        ) from exc


def _describe_start(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(40)
    return f"a file starting with {head!r}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
