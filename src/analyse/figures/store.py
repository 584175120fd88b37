"""The figures bundle on disk: one folder per (snapshot, code version, options), written whole.

``data/figures/<key>/`` holds one parquet file per frame and ``manifest.json`` (written last):
the key, the snapshot id, the code hash, the options and the timings. The folder is built under a
temporary name and renamed into place, so a bundle is complete or absent; two runs computing the
same key at once both succeed and one bundle stays.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analyse.files import write_text_atomic
from analyse.paths import find_project_root

MANIFEST = "manifest.json"


def get_figures_root() -> Path:
    """``data/figures`` of the project (``ANALYSE_FIGURES_DIR`` overrides)."""
    value = os.environ.get("ANALYSE_FIGURES_DIR")
    return Path(value).resolve() if value else find_project_root() / "data" / "figures"


def figures_key(snapshot_id: str, code_hash: str, options: dict[str, Any]) -> str:
    """The cache key of a bundle."""
    text = json.dumps(
        {"snapshot": snapshot_id, "code": code_hash, "options": options}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class FiguresBundle:
    """A figures folder: frames read on first use, and its manifest."""

    path: Path
    manifest: dict[str, Any]
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self.frames:
            file = self.path / f"{name}.parquet"
            if not file.is_file():
                raise KeyError(f"figures bundle {self.path} has no frame {name!r}")
            self.frames[name] = pl.read_parquet(file)
        return self.frames[name]

    def __contains__(self, name: str) -> bool:
        return name in self.frames or (self.path / f"{name}.parquet").is_file()

    @property
    def key(self) -> str:
        return str(self.manifest.get("key", ""))


def read_bundle(path: Path | str) -> FiguresBundle:
    """Open a complete bundle (its manifest is written last)."""
    folder = Path(path)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{folder} is not a figures bundle (no {MANIFEST}): run `analyse figures`"
        )
    return FiguresBundle(folder, json.loads(manifest_path.read_text(encoding="utf-8")))


def write_bundle(
    root: Path, key: str, frames: dict[str, pl.DataFrame], manifest: dict[str, Any]
) -> Path:
    """Write the frames and the manifest under a temporary name, then rename into place."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        for name, frame in frames.items():
            frame.write_parquet(tmp / f"{name}.parquet")
        body = json.dumps({**manifest, "key": key, "frames": sorted(frames)}, indent=2,
                          ensure_ascii=False, default=str)  # fmt: skip
        write_text_atomic(tmp / MANIFEST, body + "\n")
        try:
            os.rename(tmp, final)
        except OSError:  # the same bundle was written meanwhile by another run: keep that one
            if not (final / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
