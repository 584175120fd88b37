"""Notebook hygiene, and the notebooks run under papermill with non-default parameters.

nbval (``--nbval-lax``, configured in pyproject.toml) runs every notebook with its default
parameters on the demo data; here each report notebook also runs with other parameter sets: a
small région, an overseas région, a territory of each phase.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import papermill as pm
import polars as pl
import pytest

from analyse.tables import read_core_table

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
REPORTS = ("national_review", "regional_report", "territory_sheet")


def test_every_report_notebook_exists() -> None:
    stems = {p.stem for p in NOTEBOOKS}
    assert set(REPORTS) | {"explore"} <= stems


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_and_in_sync(script: Path) -> None:
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run `jupytext --sync {script.name}`"
    from_py = jupytext.read(script)
    from_nb = nbformat.read(ipynb, as_version=4)
    assert [(c.cell_type, c.source) for c in from_py.cells] == [
        (c.cell_type, c.source) for c in from_nb.cells
    ], f"{script.name} and {ipynb.name} differ: run `jupytext --sync notebooks/*.py`"
    formats = from_nb.metadata.get("jupytext", {}).get("formats", "")
    assert "py:percent" in formats


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_no_outputs_and_a_tagged_parameters_cell(script: Path) -> None:
    nb = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


def _first_territory(processed: Path, phase: int) -> str:
    territories = read_core_table("territories", processed).filter(pl.col("ti_phase") == phase)
    return territories.sort("ti_id")["ti_id"][0]


def _cases(processed: Path) -> list[tuple[str, dict[str, object]]]:
    return [
        ("regional_report", {"region_code": "94"}),  # Corse: a small région
        ("regional_report", {"region_code": "03"}),  # Guyane: overseas, no unemployment data
        ("territory_sheet", {"ti_id": _first_territory(processed, 1), "ti_phase": 1}),
        ("territory_sheet", {"ti_id": _first_territory(processed, 2), "ti_phase": 2}),
    ]


@pytest.mark.slow
@pytest.mark.parametrize("case", range(4), ids=["region-94", "region-03", "ti-phase1", "ti-phase2"])
def test_report_notebooks_run_with_other_parameters(
    case: int, demo_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    _, processed = demo_dirs
    name, params = _cases(processed)[case]
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(out),
        parameters={**params, "processed_dir": str(processed), "n_boot": 199},
        kernel_name="python3",
        cwd=str(ROOT),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = " ".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "DONNÉES EN PARTIE SYNTHÉTIQUES" in texts  # the demo says so on every page
    assert any("image/svg+xml" in o.get("data", {}) for o in outputs), "no chart rendered"


def test_unknown_region_fails_at_once_with_valid_codes(
    demo_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    _, processed = demo_dirs
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(ROOT / "notebooks" / "regional_report.ipynb"),
            str(tmp_path / "bad.ipynb"),
            parameters={"region_code": "99", "processed_dir": str(processed)},
            kernel_name="python3",
            cwd=str(ROOT),
            progress_bar=False,
        )
    assert "unknown région code '99'" in str(info.value)
    assert "84 (Auvergne-Rhône-Alpes)" in str(info.value)
