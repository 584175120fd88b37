"""The batch runner as a user meets it: a batch with a failing report, the cache (finished and
killed runs), the published pages opened offline in headless Chromium, an interrupted run, the
pinned snapshot, the figures step, warm kernels (isolation, same pages as papermill) and a Dask
cluster."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import polars as pl
import pytest

from analyse.errors import ParameterError
from analyse.report.browser import find_chromium, find_external_references, render_page
from analyse.report.params import NationalParams, RegionParams
from analyse.report.batch import run_batch
from analyse.report.jobs import Job, RunResult, job_from_params
from analyse.report.notebook import check_executed
from analyse.report.worker import execute_report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "tests" / "notebooks"
ARTIFACTS = ROOT / "tests" / "artifacts"


def write_processed(folder: Path, snapshot_id: str | None = None) -> Path:
    """A minimal processed snapshot: what report parameters read (région codes, territory ids
    and names, phase) and metadata.json; régions 01 and 84, territories ti-8401 (phases 1 and
    2) and ti-0101 (phase 2). Independent of the core tables' full schemas."""
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"region_code": ["01", "84"]}).write_parquet(folder / "core_communes.parquet")
    pl.DataFrame(
        {
            "ti_id": ["ti-8401", "ti-8401", "ti-0101"],
            "ti_phase": [1, 2, 2],
            "ti_name": ["Dombes", "Dombes-Côtière", "Cap Excellence"],
            "region_code": ["84", "84", "01"],
        },
        schema_overrides={"ti_phase": pl.Int8},
    ).write_parquet(folder / "core_territories.parquet")
    metadata = {
        "synthetic": True,
        "cleaned_at": "2024-11-22T04:00:00+00:00",
        "package_version": "0.1.0",
        "sources": {"cog": {"file": "cog/communes.csv", "sha256": "ab" * 32, "vintage": "2023"}},
    }
    if snapshot_id:
        metadata["snapshot_id"] = snapshot_id
    (folder / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def failing_job() -> Job:
    return Job(
        name="failing",
        notebook=NOTEBOOKS / "failing_report.py",
        parameters={"label": "essai"},
        title="Rapport qui échoue",
    )


@pytest.fixture(scope="module", autouse=True)
def stable_package_hash():
    """The cache key hashes the package source; other work on the tree must not change it
    between the runs of this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("analyse.report.batch.hash_package", lambda: "package-under-test")
        yield


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("report-run")
    return {"processed": write_processed(base / "processed"), "out": base / "reports"}


@pytest.fixture(scope="module")
def jobs(workspace: dict[str, Path]) -> list[Job]:
    processed = workspace["processed"]
    return [
        job_from_params(NationalParams(processed_dir=processed), NOTEBOOKS),
        job_from_params(RegionParams(region_code="01", processed_dir=processed), NOTEBOOKS),
        failing_job(),
    ]


@pytest.fixture(scope="module")
def first_run(jobs: list[Job], workspace: dict[str, Path]) -> RunResult:
    return run_batch(jobs, workspace["out"], workers=2, progress=False)


def test_failing_report_does_not_stop_the_others(first_run: RunResult) -> None:
    statuses = {r.name: r.status for r in first_run.reports}
    assert statuses == {"national": "ok", "regions/01": "ok", "failing": "failed"}
    assert first_run.exit_code == 1
    failed = first_run.result("failing")
    assert failed.html is None
    assert not (first_run.run_dir / "failing.html").exists()
    assert "ValueError" in failed.error and "échec volontaire du rapport essai" in failed.error
    assert "échec volontaire" in failed.traceback
    # the partial executed notebook is kept, with what ran before the error
    partial = nbformat.read(first_run.run_dir / failed.notebook, as_version=4)
    texts = [o.get("text", "") for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any("avant l'erreur: essai" in t for t in texts)
    assert any(o.output_type == "error" for c in partial.cells for o in c.get("outputs", []))
    log = (first_run.run_dir / failed.log).read_text(encoding="utf-8")
    assert "échec volontaire" in log


def test_successful_reports_are_real_and_ran_from_the_project_root(first_run: RunResult) -> None:
    run_dir = first_run.run_dir
    for name in ("national", "regions/01"):
        report = first_run.result(name)
        assert (run_dir / report.html).is_file()
        executed = nbformat.read(run_dir / report.notebook, as_version=4)
        nbformat.validate(executed)
        assert check_executed(executed) is None
        assert executed.metadata["papermill"]["input_path"] == report.notebook_source
        assert executed.metadata["kernelspec"]["name"] == "python3"
    region_page = (run_dir / "regions" / "01.html").read_text(encoding="utf-8")
    assert "region_code=&#x27;01&#x27;" in region_page or "region_code='01'" in region_page
    national_log = (run_dir / first_run.result("national").log).read_text(encoding="utf-8")
    assert f"renderer=analyse-offline cwd={ROOT}" in national_log


def test_index_and_run_json_list_every_report(first_run: RunResult, workspace) -> None:
    run_dir = first_run.run_dir
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    assert 'data-report="failing" data-status="failed"' in index
    assert 'data-report="national" data-status="ok"' in index
    assert "échec volontaire du rapport essai" in index
    assert "synthétiques" in index  # metadata.json says synthetic
    assert 'href="regions/01.html"' in index
    data = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    assert data["status"] == "failed"
    assert {r["name"]: r["status"] for r in data["reports"]}["failing"] == "failed"
    assert data["data"]["cleaned_at"] == "2024-11-22T04:00:00+00:00"
    run_log = (run_dir / "logs" / "run.log").read_text(encoding="utf-8")
    assert "report=failing status=failed" in run_log
    assert "report=national status=ok" in run_log
    out = workspace["out"]
    assert (out / "latest").resolve() == run_dir.resolve()
    assert (out / "LATEST").read_text(encoding="utf-8").strip() == first_run.run_id


def test_no_half_written_page(first_run: RunResult) -> None:
    run_dir = first_run.run_dir
    assert list(run_dir.rglob("*.tmp")) == []
    pages = sorted(run_dir.rglob("*.html"))
    assert {p.relative_to(run_dir).as_posix() for p in pages} == {
        "index.html",
        "national.html",
        "regions/01.html",
    }
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.rstrip().endswith("</html>")
        assert find_external_references(text) == [], page


@pytest.mark.browser
def test_pages_render_offline_in_chromium(first_run: RunResult) -> None:
    if find_chromium() is None:
        pytest.skip("chromium not installed (apt-get install chromium; tasks.py test does it)")
    ARTIFACTS.mkdir(exist_ok=True)
    national = render_page(
        first_run.run_dir / "national.html", screenshot=ARTIFACTS / "report_national.png"
    )
    assert national.ok, national.describe()
    assert len(national.charts) == 2 and national.unrendered == []
    assert national.screenshot is not None and national.screenshot.stat().st_size > 5_000
    index = render_page(first_run.run_dir / "index.html", screenshot=ARTIFACTS / "report_index.png")
    assert index.ok, index.describe()
    assert 'data-status="failed"' in index.dom


def test_same_inputs_are_reused_and_force_reruns(
    first_run: RunResult, jobs: list[Job], workspace: dict[str, Path]
) -> None:
    second = run_batch(jobs, workspace["out"], workers=2, progress=False)
    assert second.run_id != first_run.run_id
    cached = {r.name: r for r in second.reports}
    assert cached["national"].status == "cached"
    assert cached["national"].reused_from == first_run.run_id
    assert cached["regions/01"].status == "cached"
    assert cached["failing"].status == "failed"  # failures are never reused
    assert (second.run_dir / "national.html").read_bytes() == (
        first_run.run_dir / "national.html"
    ).read_bytes()
    assert (second.run_dir / "assets" / "vega-bundle.js").is_file()
    assert second.exit_code == 1

    region = [j for j in jobs if j.name == "regions/01"]
    forced = run_batch(region, workspace["out"], workers=1, force=True, progress=False)
    assert forced.result("regions/01").status == "ok"
    assert forced.result("regions/01").reused_from is None
    assert forced.exit_code == 0


def test_a_report_killing_its_worker_fails_alone(tmp_path: Path) -> None:
    processed = write_processed(tmp_path / "processed")
    jobs = [
        Job("killer", NOTEBOOKS / "kills_worker.py", {}, "Tue son processus"),
        job_from_params(RegionParams(region_code="84", processed_dir=processed), NOTEBOOKS),
    ]
    result = run_batch(jobs, tmp_path / "reports", workers=2, progress=False)
    assert result.result("regions/84").status == "ok"
    killer = result.result("killer")
    assert killer.status == "failed"
    assert "worker process died" in killer.error
    assert result.exit_code == 1


@pytest.mark.parametrize("name", ["../escape", "/abs", "logs/x", "index", "run", "a b"])
def test_job_names_stay_inside_the_run_folder(name: str) -> None:
    with pytest.raises(ParameterError):
        Job(name, NOTEBOOKS / "regional_report.py")


def test_empty_executed_notebook_is_retried_once(tmp_path: Path) -> None:
    calls = []

    def flaky(source, output, task):
        calls.append(output)
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("print(1)")
        if len(calls) > 1:  # the retry works
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
        nb.cells = [cell]
        nbformat.write(nb, output)
        return nb

    task = {
        "name": "regions/84",
        "title": "Région 84",
        "notebook": str(NOTEBOOKS / "regional_report.py"),
        "parameters": {},
        "run_dir": str(tmp_path),
        "cwd": str(ROOT),
    }
    result = execute_report(task, execute=flaky)
    assert result["status"] == "ok" and result["attempts"] == 2
    assert (tmp_path / "regions" / "84.html").is_file()

    def always_empty(source, output, task):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("print(1)")]
        return nb

    result = execute_report({**task, "name": "regions/11"}, execute=always_empty)
    assert result["status"] == "failed" and result["attempts"] == 2
    assert "executed notebook is empty" in result["error"]
    assert not (tmp_path / "regions" / "11.html").exists()


SLOW_BATCH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from analyse.report import Job, run_batch

    notebooks, out = Path(sys.argv[1]), Path(sys.argv[2])
    jobs = [
        Job("quick", notebooks / "territory_sheet.py", {"ti_id": "ti-8401"}),
        Job("slow", notebooks / "failing_report.py", {"label": "x"}),
    ]
    result = run_batch(jobs, out, workers=2, progress=False, run_id="interrupted")
    sys.exit(result.exit_code)
    """
)


def test_interrupted_run_leaves_no_half_written_page(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "territory_sheet.py").write_text(
        (NOTEBOOKS / "territory_sheet.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (notebooks / "failing_report.py").write_text(
        "# %% tags=['parameters']\nlabel = 'x'\n\n# %%\nimport time\n\ntime.sleep(600)\n",
        encoding="utf-8",
    )
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_BATCH, str(notebooks), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    quick = out / "interrupted" / "quick.html"
    deadline = time.monotonic() + 120
    while not quick.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if not quick.exists():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the quick report never appeared: {proc.communicate()}")
    # what a scheduler (systemd, CI) sends; Ctrl-C raises the same KeyboardInterrupt
    os.kill(proc.pid, signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 130, stderr
    run_dir = out / "interrupted"
    data = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    assert data["status"] == "interrupted"
    assert {r["name"]: r["status"] for r in data["reports"]} == {
        "quick": "ok",
        "slow": "interrupted",
    }
    assert not (run_dir / "slow.html").exists()
    assert list(run_dir.rglob("*.tmp")) == []
    assert quick.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert 'data-report="slow" data-status="interrupted"' in (run_dir / "index.html").read_text(
        encoding="utf-8"
    )
    assert not (out / "latest").exists()  # an interrupted run is not published as latest
