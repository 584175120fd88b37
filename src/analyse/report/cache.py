"""Pages reused from earlier runs: cache keys, and where to find finished pages.

A report's cache key hashes its notebook source, its parameters, the pinned snapshot id, the
figures key, the ``analyse`` package (version and source) and the page options. A page of an
earlier run in the same output folder with the same key is copied instead of re-run. Earlier
runs are read from their ``logs/run.json`` (finished runs) and their ``logs/journal.jsonl``
(also killed runs, which never wrote run.json); a journaled page is reused only if its file
still has the SHA-256 the journal recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analyse.files import hash_package as hash_package
from analyse.files import sha256_file
from analyse.report.jobs import JOURNAL_FILE, RUN_FILE, Job
from analyse.report.journal import read_journal

#: Statuses whose page can be reused.
REUSABLE = ("ok", "cached")

Previous = tuple[Path, dict[str, Any]]


def compute_cache_key(
    job: Job,
    snapshot_id: str,
    package_hash: str,
    options: Mapping[str, Any],
    figures_key: str | None = None,
) -> str:
    """Hash of notebook source + parameters + snapshot + figures + package + page options."""
    digest = hashlib.sha256()
    digest.update(job.notebook.read_bytes())
    digest.update(json.dumps(dict(job.parameters), sort_keys=True, default=str).encode())
    digest.update(f"snapshot\0{snapshot_id}\0figures\0{figures_key or ''}\0".encode())
    digest.update(package_hash.encode())
    digest.update(json.dumps(dict(options), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _run_entries(run_dir: Path) -> list[dict[str, Any]]:
    """Reusable entries of one earlier run: its journal first (has checksums), then run.json."""
    entries = [e for e in read_journal(run_dir / JOURNAL_FILE) if e.get("status") in REUSABLE]
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        entries += [e for e in data.get("reports", []) if e.get("status") in REUSABLE]
    return entries


def previous_reports(out_dir: Path, exclude: str) -> dict[str, list[Previous]]:
    """cache key -> every (run folder, entry) holding that page, newest run first."""
    found: dict[str, list[Previous]] = {}
    if not out_dir.is_dir():
        return found
    runs = [
        p
        for p in out_dir.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and p.name != exclude
        and ((p / RUN_FILE).is_file() or (p / JOURNAL_FILE).is_file())
    ]
    for run_dir in sorted(runs, key=lambda p: p.name, reverse=True):
        for entry in _run_entries(run_dir):
            key = entry.get("cache_key")
            html = entry.get("html")
            if not (key and html and (run_dir / html).is_file()):
                continue
            candidates = found.setdefault(key, [])
            if not candidates or candidates[-1][0] != run_dir:  # journal and run.json agree
                candidates.append((run_dir, entry))
    return found


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)


def reuse_first(run_dir: Path, candidates: list[Previous]) -> dict[str, Any] | None:
    """:func:`reuse` the newest candidate that can be reused."""
    for previous in candidates:
        fields = reuse(run_dir, previous)
        if fields is not None:
            return fields
    return None


def reuse(run_dir: Path, previous: Previous) -> dict[str, Any] | None:
    """Copy a previous page (and its notebook and log) into ``run_dir``; its result fields,
    or ``None`` when it cannot be reused (file gone or changed since it was journaled)."""
    old_dir, entry = previous
    expected = entry.get("html_sha256")
    if expected and sha256_file(old_dir / entry["html"]) != expected:
        return None
    fields: dict[str, Any] = {}
    try:
        for key in ("html", "notebook", "log"):
            rel = entry.get(key)
            if rel and (old_dir / rel).is_file():
                _copy_atomic(old_dir / rel, run_dir / rel)
                fields[key] = rel
            else:
                fields[key] = None
    except OSError:
        return None
    if fields.get("log"):
        with (run_dir / fields["log"]).open("a", encoding="utf-8") as fh:
            fh.write(f"\n[analyse report] reused from run {old_dir.name} (same cache key)\n")
    fields["html_bytes"] = entry.get("html_bytes")
    fields["reused_from"] = entry.get("reused_from") or old_dir.name
    return fields
