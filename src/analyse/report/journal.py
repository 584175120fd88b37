"""``logs/journal.jsonl``: one line per page completed, written as it completes.

Each line is appended with ``O_APPEND`` and ``fsync``'d before the batch goes on, so a run
killed at any point (kill -9, power loss) keeps a record of every page it finished: name,
cache key, files and the page's SHA-256. The next run reuses those pages (see
:mod:`analyse.report.cache`) although the killed run never wrote its ``run.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from analyse.files import FILE_MODE


class Journal:
    """Append-only, fsynced JSON lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)

    def append(self, entry: dict[str, Any]) -> None:
        """Write one line and wait until it is on disk."""
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n"
        data = line.encode("utf-8")
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The entries of a journal; a line cut short by a crash is skipped."""
    entries: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
