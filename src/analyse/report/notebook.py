"""Report notebooks as documents: read once per process, checked after execution, and the
papermill metadata of an executed notebook made readable."""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import re
from pathlib import Path

import nbformat

from analyse.report.jobs import KERNEL_NAME


@functools.lru_cache(maxsize=16)
def _read_source(path: str, _mtime_ns: int, _size: int) -> nbformat.NotebookNode:
    nb_path = Path(path)
    if nb_path.suffix == ".ipynb":
        nb = nbformat.read(nb_path, as_version=4)
    else:
        import jupytext

        nb = jupytext.read(nb_path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata.setdefault("language_info", {"name": "python"})
    for index, cell in enumerate(nb.cells):
        # jupytext gives random ids: derive them from the cell, so that pages are reproducible
        seed = f"{index}\0{cell.cell_type}\0{cell.source}".encode()
        cell.id = hashlib.sha1(seed).hexdigest()[:8]
        cell.metadata.pop("lines_to_next_cell", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def load_source_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook (jupytext text or ipynb) ready to execute: no outputs, python3 kernel.

    Parsed once per process and file version (a worker runs the same three notebooks again
    and again); each call returns a fresh copy. Cell ids are derived from the cells (jupytext
    draws them at random), so that two runs of a report give the same page.
    """
    stat = Path(path).stat()
    return copy.deepcopy(_read_source(str(path), stat.st_mtime_ns, stat.st_size))


def check_executed(nb: nbformat.NotebookNode) -> str | None:
    """Why an executed notebook is not a real result (``None`` when it is)."""
    code = [c for c in nb.cells if c.cell_type == "code" and "".join(c.source).strip()]
    if not code:
        return None
    not_run = [c for c in code if c.get("execution_count") is None]
    if not_run:
        return f"{len(not_run)} of {len(code)} code cells were not executed"
    if not any(c.get("outputs") for c in code):
        return "no cell produced any output"
    return None


def fix_output_metadata(path: Path, source: str) -> nbformat.NotebookNode | None:
    """papermill stores an in-memory input notebook as its own metadata: keep the path only."""
    if not path.is_file():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # a notebook cut short by a crash: keep it as it is
        return None
    nb.metadata.setdefault("papermill", {})["input_path"] = source
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return nb


def cells_seconds(nb: nbformat.NotebookNode) -> float:
    """Time spent in the cells themselves, as papermill recorded it per cell."""
    total = 0.0
    for cell in nb.cells:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if isinstance(duration, int | float):
            total += duration
    return round(total, 3)


def notebook_imports(source: str) -> list[str]:
    """Top-level modules imported by a notebook's code (``import x.y`` / ``from x.y import``)."""
    found = []
    for match in re.finditer(r"^(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", source, re.M):
        name = match.group(1) or match.group(2)
        if name and not name.startswith("."):
            found.append(name)
    return list(dict.fromkeys(found))


def declared_parameters(nb: nbformat.NotebookNode) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` (what papermill can inject)."""
    names: list[str] = []
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            names += re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=", cell.source, re.M)
    return names
