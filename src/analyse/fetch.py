"""Download the raw sources (or copy them from a mirror folder), verify them, record a manifest.

Three ways to get each source of :data:`analyse.sources.SOURCES`:

- official: from ``source.url`` (zip archives are unpacked: ``source.archive_member`` is stored
  at ``source.path``);
- ``base_url``: from ``<base_url>/<source.path>``, a local HTTP mirror laid out like ``data/raw``
  (the file there is the already-extracted one);
- ``mirror``: copied from ``<mirror>/<source.path>``, a folder laid out like ``data/raw``.

Every file is written under a temporary name, checked (non-empty, size as announced by
``Content-Length`` or as the mirror file, format sniffed) and only then renamed into place, so a
bad download never replaces a good file. ``dest/manifest.json`` records the SHA-256 of every file;
:func:`verify_manifest` re-hashes them. Standard library only.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import json
import logging
import os
import shutil
import tempfile
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyse import __version__
from analyse.errors import InputFileError, ParameterError
from analyse.files import sha256_file
from analyse.sources import SOURCES, Source, get_source
from analyse.tables import write_json

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 16
_CSV_DELIMITERS = (",", ";", "\t", "|")
_USER_AGENT = f"analyse/{__version__} (analyse fetch; Python urllib)"


class _SourceAbsentError(Exception):
    """The source is not available from the chosen origin (absent from the mirror, HTTP error).

    ``args``: (where, reason, expected) - ``expected`` is True when absence is normal (a mirror
    or HTTP mirror without the optional file) and only worth an info line.
    """


def fetch_sources(
    dest: Path,
    *,
    mirror: Path | None = None,
    base_url: str | None = None,
    source_ids: list[str] | None = None,
    timeout_s: float = 60,
) -> dict[str, Any]:
    """Fetch sources into ``dest`` (``data/raw``), verify them and write ``dest/manifest.json``.

    ``mirror`` (a folder) or ``base_url`` (an HTTP mirror) replace the publishers' addresses;
    ``source_ids`` restricts the run (default: every source). Sources without an address (the
    operator extract) are skipped unless the mirror holds them; optional sources missing from
    the origin are skipped with a log line; a required (or explicitly requested) source missing,
    or any file failing verification, raises :class:`InputFileError` after the other sources
    were processed. Entries of a previous manifest for sources not fetched now are kept.

    Returns the manifest as written, with two extra keys: ``fetched`` (ids fetched in this run)
    and ``skipped`` (``[{"source_id", "reason"}]``).
    """
    if mirror is not None and base_url is not None:
        raise ParameterError("give either a mirror folder or a base URL, not both")
    if mirror is not None and not Path(mirror).is_dir():
        raise InputFileError(mirror, "a mirror folder laid out like data/raw")
    explicit = source_ids is not None
    sources = (
        [get_source(i) for i in dict.fromkeys(source_ids)] if explicit else list(SOURCES.values())
    )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    previous = _read_previous_manifest(dest)
    previous_files = {
        e["source_id"]: e
        for e in (previous or {}).get("files", [])
        if isinstance(e, dict) and "source_id" in e
    }
    previous_synthetic = bool(previous.get("synthetic", False)) if previous else False

    entries: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    errors: list[InputFileError] = []
    for source in sources:
        must_have = source.required or explicit
        try:
            entry = _fetch_one(source, dest, mirror=mirror, base_url=base_url, timeout_s=timeout_s)
        except _SourceAbsentError as exc:
            where, reason, normal = exc.args
            if must_have:
                errors.append(
                    InputFileError(where, f"the file of source {source.id!r}", found=reason)
                )
            else:
                level = logging.INFO if normal else logging.WARNING
                logger.log(level, "skipped optional source %s: %s", source.id, reason)
                skipped.append({"source_id": source.id, "reason": reason})
            continue
        except InputFileError as exc:
            logger.error("source %s failed: %s", source.id, exc)
            errors.append(exc)
            continue
        old = previous_files.get(source.id)
        if old is not None and old.get("sha256") not in (None, entry["sha256"]):
            entry["changed_from"] = old["sha256"]
            log = logger.info if old.get("synthetic", previous_synthetic) else logger.warning
            log(
                "source %s changed since the previous fetch: %s sha256 %s -> %s",
                source.id,
                entry["path"],
                old["sha256"],
                entry["sha256"],
            )
        entries[source.id] = entry
        logger.info("fetched %s -> %s (%d bytes)", source.id, entry["path"], entry["size_bytes"])

    files: list[dict[str, Any]] = []
    for source_id, old in previous_files.items():  # keep what this run did not touch
        if source_id in entries:
            continue
        if not (dest / str(old.get("path", ""))).is_file():
            logger.warning(
                "%s (source %s) is no longer on disk: dropped", old.get("path"), source_id
            )
            continue
        files.append({**old, "synthetic": bool(old.get("synthetic", previous_synthetic))})
    files += [{**e, "synthetic": False} for e in entries.values()]
    leftovers = [e["path"] for e in files if e["synthetic"]]
    if leftovers:
        logger.warning(
            "%s still holds synthetic files from `analyse demo` (%s): delete them or fetch into "
            "an empty folder; the manifest stays marked synthetic",
            dest,
            ", ".join(leftovers),
        )
    manifest = write_manifest(dest, files, synthetic=bool(leftovers))

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
    return {**manifest, "fetched": list(entries), "skipped": skipped}


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


def write_manifest(dest: Path, files: list[dict[str, Any]], *, synthetic: bool) -> dict[str, Any]:
    """Write ``dest/manifest.json`` atomically (files in registry order) and return it."""
    order = {source_id: n for n, source_id in enumerate(SOURCES)}
    manifest: dict[str, Any] = {
        "created_at": _now(),
        "synthetic": synthetic,
        "files": sorted(files, key=lambda e: order.get(e["source_id"], len(order))),
    }
    write_json(manifest, Path(dest) / MANIFEST_NAME)
    return manifest


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
# one source


def _fetch_one(
    source: Source,
    dest: Path,
    *,
    mirror: Path | None,
    base_url: str | None,
    timeout_s: float,
) -> dict[str, Any]:
    target = dest / source.path
    target.parent.mkdir(parents=True, exist_ok=True)
    entry: dict[str, Any] = {"source_id": source.id, "path": source.path}
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
                    origin_path,
                    f"a copy of {expected} bytes",
                    found=f"{received} bytes copied",
                )
            entry |= _finish(source, tmp, target, shown=origin_path)
        entry["origin"] = str(origin_path)
    elif base_url is not None:
        url = base_url.rstrip("/") + "/" + urllib.parse.quote(source.path)
        with _temporary_beside(target) as tmp:
            _download(url, tmp, timeout_s=timeout_s, shown=source.path)
            entry |= _finish(source, tmp, target, shown=url)
        entry["origin"] = url
    else:
        if source.url is None:
            raise _SourceAbsentError(
                target, "no public address (operator extract): place it there or use --mirror", True
            )
        if source.archive_member:
            with (
                _temporary_beside(target, suffix=".zip") as archive,
                _temporary_beside(target) as tmp,
            ):
                _download(source.url, archive, timeout_s=timeout_s, shown=source.path)
                entry["archive_sha256"] = sha256_file(archive)
                _extract_member(archive, source.archive_member, tmp, shown=source.url)
                entry["archive_member"] = source.archive_member
                entry |= _finish(source, tmp, target, shown=source.url)
        else:
            with _temporary_beside(target) as tmp:
                _download(source.url, tmp, timeout_s=timeout_s, shown=source.path)
                entry |= _finish(source, tmp, target, shown=source.url)
        entry["origin"] = source.url
    entry["vintage"] = source.vintage
    return entry


def _finish(source: Source, tmp: Path, target: Path, *, shown: str | Path) -> dict[str, Any]:
    """Verify the temporary file, hash it, then move it into place (atomic rename)."""
    _check_format(source, tmp, shown=shown)
    sha = sha256_file(tmp)
    size = tmp.stat().st_size
    tmp.chmod(0o644)  # mkstemp creates 0600 files
    os.replace(tmp, target)
    return {"sha256": sha, "size_bytes": size, "retrieved_at": _now()}


@contextlib.contextmanager
def _temporary_beside(target: Path, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path in ``target``'s folder, removed on exit unless renamed away."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _download(url: str, tmp: Path, *, timeout_s: float, shown: str) -> None:
    """Stream ``url`` into ``tmp``; a short body (vs ``Content-Length``) is an error."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        found = f"HTTP {exc.code} {exc.reason} at {url}"
        raise _SourceAbsentError(url, found, exc.code in (404, 410)) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _SourceAbsentError(url, f"{url} unreachable ({reason})", False) from exc
    with response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        received = 0
        try:
            with tmp.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
        except http.client.IncompleteRead as exc:
            received += len(exc.partial)
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise InputFileError(
                f"{shown} from {url}",
                f"{expected if expected is not None else 'all'} bytes",
                found=f"{received} bytes before the connection failed ({exc})",
            ) from exc
    if expected is not None and received != expected:
        raise InputFileError(
            f"{shown} from {url}",
            f"{expected} bytes (Content-Length)",
            found=f"{received} bytes received (truncated download)",
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
        with zf.open(matches[0]) as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)


# ---------------------------------------------------------------------------------------------
# format sniffing


def _check_format(source: Source, path: Path, *, shown: str | Path) -> None:
    """Raise :class:`InputFileError` unless ``path`` looks like ``source.format``."""
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(shown, "a non-empty file", found="0 bytes")
    if source.extra.get("format_check") == "non-empty":
        return
    if source.format == "xlsx":
        _check_xlsx(source, path, shown=shown)
    elif source.format == "geojson":
        _check_geojson(source, path, shown=shown)
    elif source.format == "csv":
        _check_csv(source, path, shown=shown)
    elif source.format in ("yaml", "yml"):
        _read_utf8(path, shown=shown)
    else:
        raise InputFileError(shown, f"a known format, not {source.format!r}")


def _check_xlsx(source: Source, path: Path, *, shown: str | Path) -> None:
    if not zipfile.is_zipfile(path):
        raise InputFileError(shown, "an xlsx workbook (zip)", found=_describe_start(path))
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            workbook = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise InputFileError(
            shown, "an xlsx workbook with xl/workbook.xml", found=str(exc)
        ) from exc
    if "[Content_Types].xml" not in names:
        raise InputFileError(shown, "an xlsx workbook with [Content_Types].xml", found="a zip")
    if source.sheet is not None:
        escaped = source.sheet.replace("&", "&amp;").replace("'", "&apos;")
        if f'name="{escaped}"' not in workbook and f'name="{source.sheet}"' not in workbook:
            raise InputFileError(shown, f"a sheet named {source.sheet!r}", sheet=source.sheet)


def _check_geojson(source: Source, path: Path, *, shown: str | Path) -> None:
    try:
        data = json.loads(_read_utf8(path, shown=shown))
    except json.JSONDecodeError as exc:
        raise InputFileError(
            shown, "GeoJSON (valid JSON)", row=exc.lineno, found=f"invalid JSON: {exc.msg}"
        ) from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise InputFileError(shown, "a GeoJSON FeatureCollection with features", found="none")
    properties = features[0].get("properties") if isinstance(features[0], dict) else None
    found = set(properties or {})
    missing = [c for c in source.columns if c not in found]
    if missing:
        raise InputFileError(
            shown,
            f"feature properties {list(source.columns)}",
            column=missing[0],
            found=f"properties {sorted(found)} (missing {missing})",
        )


def _check_csv(source: Source, path: Path, *, shown: str | Path) -> None:
    text = _read_utf8(path, shown=shown)
    header = text.split("\n", 1)[0].rstrip("\r")
    if not header.strip():
        raise InputFileError(shown, "a header line", row=1, found="an empty first line")
    delimiter = max(_CSV_DELIMITERS, key=header.count)
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
    head = path.read_bytes()[:40]
    return f"a file starting with {head!r}"


# ---------------------------------------------------------------------------------------------
# helpers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _read_previous_manifest(dest: Path) -> dict[str, Any] | None:
    path = dest / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        logger.warning("ignoring unreadable previous manifest %s", path)
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        logger.warning("ignoring previous manifest %s without a files list", path)
        return None
    return manifest
