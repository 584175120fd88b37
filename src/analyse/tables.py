"""Read and write the processed layer: core tables, quarantine tables and ``metadata.json``.

Readers take the processed folder (``data/processed`` by default) and read from its current
snapshot (:func:`analyse.snapshots.resolve_snapshot`), or from a snapshot folder given directly;
writers write into the folder they are given (``analyse clean`` gives a staging folder). Layout
of one snapshot::

    core_<name>.parquet        one per entry of :data:`analyse.schemas.CORE_TABLES`
    quarantine_<name>.parquet  rows of that table's sources that could not be cleaned
    quality.json               rows in / out / quarantined per source and reason
    metadata.json              synthetic flag, sources (file, sha256, vintage), package version
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from analyse.files import write_text_atomic
from analyse.paths import get_processed_dir
from analyse.schemas import CORE_TABLES, QUARANTINE, validate
from analyse.snapshots import resolve_snapshot

METADATA_FILE = "metadata.json"
QUALITY_FILE = "quality.json"


def _folder(processed_dir: Path | str | None) -> Path:
    return Path(processed_dir) if processed_dir is not None else get_processed_dir()


def _snapshot(processed_dir: Path | str | None) -> Path:
    return resolve_snapshot(_folder(processed_dir))


def write_core_table(df: pl.DataFrame, name: str, processed_dir: Path | str | None = None) -> Path:
    """Validate ``df`` against its declared schema and write ``core_<name>.parquet`` atomically."""
    validate(df, CORE_TABLES[name], name=name)
    return _write_parquet(df, _folder(processed_dir) / f"core_{name}.parquet")


def write_quarantine_table(
    df: pl.DataFrame, name: str, processed_dir: Path | str | None = None
) -> Path:
    """Validate and write ``quarantine_<name>.parquet`` atomically."""
    validate(df, QUARANTINE, name=f"quarantine_{name}")
    return _write_parquet(df, _folder(processed_dir) / f"quarantine_{name}.parquet")


def scan_core_table(name: str, processed_dir: Path | str | None = None) -> pl.LazyFrame:
    """Lazily scan ``core_<name>.parquet``; a clear error if ``analyse clean`` has not run."""
    if name not in CORE_TABLES:
        raise KeyError(f"unknown core table {name!r}; known: {sorted(CORE_TABLES)}")
    path = _snapshot(processed_dir) / f"core_{name}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `analyse clean` (or `analyse demo`) first")
    return pl.scan_parquet(path)


def read_core_table(name: str, processed_dir: Path | str | None = None) -> pl.DataFrame:
    """Read ``core_<name>.parquet`` eagerly."""
    return scan_core_table(name, processed_dir).collect()


def read_quarantine_table(name: str, processed_dir: Path | str | None = None) -> pl.DataFrame:
    """Read ``quarantine_<name>.parquet`` (empty frame if absent)."""
    path = _snapshot(processed_dir) / f"quarantine_{name}.parquet"
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame(schema=dict(QUARANTINE))


def write_json(data: Any, path: Path) -> Path:
    """Write JSON atomically (temporary file then rename)."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    write_text_atomic(path, text)
    return path


def read_metadata(processed_dir: Path | str | None = None) -> dict[str, Any]:
    """Read ``metadata.json`` (``synthetic``, ``sources``, ``package_version``, ``cleaned_at``)."""
    path = _snapshot(processed_dir) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `analyse clean` (or `analyse demo`) first")
    return json.loads(path.read_text(encoding="utf-8"))


def read_quality(processed_dir: Path | str | None = None) -> dict[str, Any]:
    """Read ``quality.json``."""
    return json.loads((_snapshot(processed_dir) / QUALITY_FILE).read_text(encoding="utf-8"))


def _write_parquet(df: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df.write_parquet(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
