"""File helpers shared by every layer: checksums (of files and of the package's own source) and
atomic writes.

An atomic write goes to a temporary file beside the target, is flushed to disk, gets the
permissions ``open()`` would give it (``mkstemp`` alone gives 0600), then is renamed over the
target: an interrupted write leaves the target absent or at its previous version, never half
written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import analyse


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


#: Permissions of written files, as ``open()`` would give them under the current umask.
FILE_MODE = _file_mode()


def write_bytes_atomic(path: Path, data: bytes) -> int:
    """Write ``data`` to ``path`` atomically; return the number of bytes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def write_text_atomic(path: Path, text: str) -> int:
    """Write UTF-8 ``text`` to ``path`` atomically; return the number of bytes written."""
    return write_bytes_atomic(path, text.encode("utf-8"))


#: Package files whose content changes what the reports say (code and package data).
_SOURCE_SUFFIXES = (".py", ".csv", ".json")


def hash_package() -> str:
    """SHA-256 of the ``analyse`` version and of every source and data file of the package: the
    code part of the figures' and the pages' cache keys (a code change recomputes them)."""
    digest = hashlib.sha256(analyse.__version__.encode())
    root = Path(analyse.__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
