"""The batch runner as a user meets it: a batch with a failing report, the cache (finished and
killed runs), the published pages opened offline in headless Chromium, an interrupted run, the
pinned snapshot, the figures step, warm kernels (isolation, same pages as papermill) and a Dask
cluster."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
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
from analyse.report.batch import run_batch
from analyse.report.browser import find_chromium, find_external_references, render_page
from analyse.report.jobs import Job, RunResult, job_from_params
from analyse.report.notebook import check_executed
from analyse.report.params import NationalParams, RegionParams
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
        "run.html",
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


# --------------------------------------------------------------------------------------------
# Journal, snapshot, figures
# --------------------------------------------------------------------------------------------


def test_pages_of_a_killed_run_are_reused_from_its_journal(
    first_run: RunResult, jobs: list[Job], workspace: dict[str, Path]
) -> None:
    journal = [
        json.loads(line)
        for line in (first_run.run_dir / "logs" / "journal.jsonl").read_text().splitlines()
    ]
    assert {e["name"] for e in journal} == {"national", "regions/01"}  # finished pages only
    assert all(e["snapshot_id"] == first_run.snapshot_id for e in journal)
    # a run killed before writing run.json: its folder holds pages and the journal only
    killed = workspace["out"] / "zz-killed"
    shutil.copytree(first_run.run_dir, killed)
    (killed / "logs" / "run.json").unlink()
    (killed / "regions" / "01.html").write_text("<html>changed after the journal</html>")
    rerun = run_batch(jobs[:2], workspace["out"], workers=1, progress=False)
    assert rerun.result("national").reused_from == "zz-killed"
    # a page whose bytes differ from its journal line is not reused from that run
    assert rerun.result("regions/01").reused_from not in (None, "zz-killed")
    shutil.rmtree(killed)


def test_the_snapshot_is_pinned_named_and_keyed(tmp_path: Path) -> None:
    root = tmp_path / "processed"
    write_processed(root / "snapshots" / "snap-a", snapshot_id="snap-a")
    (root / "CURRENT").write_text("snap-a\n")
    jobs = [Job("regions/84", NOTEBOOKS / "regional_report.py", {"region_code": "84"})]
    out = tmp_path / "reports"
    first = run_batch(jobs, out, workers=1, processed_dir=root, progress=False)
    assert first.snapshot_id == "snap-a" and first.exit_code == 0
    report = first.result("regions/84")
    assert report.parameters["processed_dir"] == str((root / "snapshots" / "snap-a").resolve())
    run = json.loads((first.run_dir / "logs" / "run.json").read_text())
    assert run["snapshot_id"] == "snap-a"
    page = (first.run_dir / "regions" / "84.html").read_text(encoding="utf-8")
    assert "jeu de données snap-a" in page
    # clean makes a new snapshot current: the next run reads it and reuses nothing
    write_processed(root / "snapshots" / "snap-b", snapshot_id="snap-b")
    (root / "CURRENT").write_text("snap-b\n")
    second = run_batch(jobs, out, workers=1, processed_dir=root, progress=False)
    assert second.snapshot_id == "snap-b"
    assert second.result("regions/84").status == "ok"  # not "cached": another snapshot
    assert second.result("regions/84").cache_key != report.cache_key


def _figures_notebook(folder: Path) -> Path:
    notebook = folder / "reads_figures.py"
    notebook.write_text(
        "# %% tags=['parameters']\nprocessed_dir = None\nfigures_dir = None\n\n"
        "# %%\nprint(f'figures_dir={figures_dir}')\n",
        encoding="utf-8",
    )
    return notebook


def test_figures_step_runs_once_and_keys_the_cache(tmp_path: Path) -> None:
    processed = write_processed(tmp_path / "processed")
    notebook = _figures_notebook(tmp_path)
    jobs = [Job("a", notebook), Job("b", notebook)]
    calls: list[Path] = []

    def prepare(snapshot_dir: Path) -> Path:
        calls.append(snapshot_dir)
        folder = tmp_path / "figures" / f"key{len(calls)}"
        folder.mkdir(parents=True)
        return folder

    out = tmp_path / "reports"
    first = run_batch(
        jobs, out, workers=2, processed_dir=processed, prepare=prepare, progress=False
    )
    assert calls == [processed.resolve()]  # once per batch, on the pinned snapshot
    assert first.figures_key == "key1" and first.exit_code == 0
    executed = nbformat.read(first.run_dir / first.result("a").notebook, as_version=4)
    outputs = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert f"figures_dir={tmp_path / 'figures' / 'key1'}" in outputs
    # same snapshot, same figures key: reused; another figures key: run again
    again = run_batch(
        jobs,
        out,
        workers=2,
        processed_dir=processed,
        figures_dir=tmp_path / "figures" / "key1",
        progress=False,
    )
    assert {r.status for r in again.reports} == {"cached"}
    other = run_batch(
        jobs, out, workers=2, processed_dir=processed, prepare=prepare, progress=False
    )
    assert other.figures_key == "key2" and {r.status for r in other.reports} == {"ok"}
    # notebooks that declare no figures_dir do not trigger the step
    plain = [Job("regions/84", NOTEBOOKS / "regional_report.py", {"region_code": "84"})]
    run_batch(plain, out, workers=1, processed_dir=processed, prepare=prepare, progress=False)
    assert len(calls) == 2


def test_worker_death_is_logged(tmp_path: Path) -> None:
    processed = write_processed(tmp_path / "processed")
    jobs = [Job("killer", NOTEBOOKS / "kills_worker.py", {}, "Tue son processus")]
    result = run_batch(
        jobs, tmp_path / "reports", workers=1, processed_dir=processed, progress=False
    )
    run_log = (result.run_dir / "logs" / "run.log").read_text(encoding="utf-8")
    assert "worker process died (pid" in run_log and "killed by SIGKILL" in run_log
    assert "re-run one per process: killer" in run_log
    assert "worker process died again running killer alone" in run_log


# --------------------------------------------------------------------------------------------
# Warm kernels
# --------------------------------------------------------------------------------------------

POLLUTE = """
import json
import os
import sys
import types

import altair as alt
import polars as pl

LEAK = "left by the previous report"
json.dumps = lambda *args, **kwargs: "patched"
pl.DataFrame.height = property(lambda self: -1)
alt.theme.enable("dark")
pl.Config.set_tbl_rows(3)
os.environ["ANALYSE_LEAK"] = "1"
sys.modules["leaky_module"] = types.ModuleType("leaky_module")
os.chdir("/")
print("polluted")
"""

CHECK = """
import json
import os
import sys

import altair as alt
import polars as pl

state = {
    "variable": "LEAK" in globals(),
    "monkey_patch_stdlib": json.dumps({"a": 1}) != '{"a": 1}',
    "monkey_patch_polars": pl.DataFrame({"a": [1]}).height != 1,
    "altair_theme": alt.theme.active,
    "polars_config": os.environ.get("POLARS_FMT_MAX_ROWS"),
    "environment": os.environ.get("ANALYSE_LEAK"),
    "module": "leaky_module" in sys.modules,
    "cwd": os.getcwd(),
}
print("STATE " + json.JSONEncoder().encode(state))
"""

CLEAN_STATE = {
    "variable": False,
    "monkey_patch_stdlib": False,
    "monkey_patch_polars": False,
    "altair_theme": "default",
    "polars_config": None,
    "environment": None,
    "module": False,
    "cwd": str(ROOT),
}


def _cells_notebook(path: Path, *cells: str) -> Path:
    first = (
        "import os\nimport sys\n\n"
        "warm = all(m in sys.modules for m in ('polars', 'altair', 'statsmodels.api', 'analyse'))\n"
        "print(f'WORKER {os.getppid()} WARM {warm}')\n"
    )
    path.write_text("".join(f"# %%\n{c}\n\n" for c in (first, *cells)), encoding="utf-8")
    return path


def _printed(run: RunResult, name: str, prefix: str) -> str:
    nb = nbformat.read(run.run_dir / run.result(name).notebook, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith(prefix):
                    return line.removeprefix(prefix)
    raise AssertionError(f"{name} printed no {prefix!r}")


def test_warm_reports_leave_nothing_to_the_next_one(tmp_path: Path) -> None:
    processed = write_processed(tmp_path / "processed")
    pollute = _cells_notebook(tmp_path / "pollute.py", POLLUTE)
    check = _cells_notebook(tmp_path / "check.py", CHECK)
    both = _cells_notebook(tmp_path / "both.py", POLLUTE, CHECK)
    jobs = [Job("a-pollute", pollute), Job("b-check", check), Job("c-both", both)]
    run = run_batch(jobs, tmp_path / "reports", workers=1, processed_dir=processed, progress=False)
    assert run.exit_code == 0, run.failed
    # one worker ran the three reports in order, with the libraries already imported
    workers = {_printed(run, j.name, "WORKER ").split()[0] for j in jobs}
    assert len(workers) == 1
    assert all(_printed(run, j.name, "WORKER ").endswith("WARM True") for j in jobs)
    assert json.loads(_printed(run, "b-check", "STATE ")) == CLEAN_STATE
    # the check does see pollution when it happens in the same report
    polluted = json.loads(_printed(run, "c-both", "STATE "))
    assert all(polluted[k] != v for k, v in CLEAN_STATE.items()), polluted


def _strip_times(page: str) -> str:
    page = re.sub(r"Produit le [^<·]*", "Produit le …", page)
    return re.sub(r"page produite le [^<]*? UTC", "page produite le …", page)


def test_warm_and_papermill_engines_give_the_same_pages(tmp_path: Path) -> None:
    processed = write_processed(tmp_path / "processed")
    jobs = [
        job_from_params(NationalParams(processed_dir=processed), NOTEBOOKS),
        job_from_params(RegionParams(region_code="84", processed_dir=processed), NOTEBOOKS),
        Job("territoires/ti-8401", NOTEBOOKS / "territory_sheet.py", {"ti_id": "ti-8401"}),
    ]
    runs = {
        engine: run_batch(
            jobs,
            tmp_path / engine,
            workers=2,
            processed_dir=processed,
            engine=engine,
            progress=False,
        )
        for engine in ("papermill", "warm")
    }
    for job in jobs:
        pages = [(runs[e].run_dir / f"{job.name}.html").read_text(encoding="utf-8") for e in runs]
        same_minute = runs["warm"].started_at[:16] == runs["papermill"].started_at[:16]
        assert pages[0] != pages[1] or same_minute  # pages give the time to the minute
        assert _strip_times(pages[0]) == _strip_times(pages[1]), job.name


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


def test_dask_executor_runs_the_same_batch_on_a_cluster(
    dask_cluster, workspace: dict[str, Path], tmp_path: Path
) -> None:
    processed = workspace["processed"]
    jobs = [
        job_from_params(NationalParams(processed_dir=processed), NOTEBOOKS),
        job_from_params(RegionParams(region_code="84", processed_dir=processed), NOTEBOOKS),
        failing_job(),
        Job("killer", NOTEBOOKS / "kills_worker.py", {}, "Tue son processus"),
    ]
    out = tmp_path / "reports"
    address = dask_cluster.scheduler_address
    run = run_batch(jobs, out, executor="dask", scheduler=address, progress=False)
    statuses = {r.name: r.status for r in run.reports}
    assert statuses == {
        "national": "ok",
        "regions/84": "ok",
        "failing": "failed",
        "killer": "failed",
    }
    assert "worker process died" in run.result("killer").error
    assert "échec volontaire" in run.result("failing").error
    run_log = (run.run_dir / "logs" / "run.log").read_text(encoding="utf-8")
    assert "WARNING worker process died under killer (host process" in run_log
    data = json.loads((run.run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    assert data["executor"] == "dask" and data["workers"] == 2
    index = (run.run_dir / "index.html").read_text(encoding="utf-8")
    assert 'data-report="killer" data-status="failed"' in index
    assert (run.run_dir / "assets" / "vega-bundle.js").is_file()
    # the pages are those of the local pool, and the cache works across executors
    local = run_batch(jobs[:2], tmp_path / "local", workers=2, force=True, progress=False)
    for name in ("national", "regions/84"):
        assert _strip_times((run.run_dir / f"{name}.html").read_text(encoding="utf-8")) == (
            _strip_times((local.run_dir / f"{name}.html").read_text(encoding="utf-8"))
        )
    again = run_batch(jobs[:2], out, executor="dask", scheduler=address, progress=False)
    assert {r.status for r in again.reports} == {"cached"}
    assert len(dask_cluster.scheduler_info["workers"]) == 2  # no Dask worker was lost


@pytest.mark.slow
def test_real_pages_are_the_same_on_both_engines(
    demo_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    """One national, one région and one territory page of the real notebooks on the demo data,
    through papermill + nbclient and through the warm engine: the same bytes but for times."""
    from analyse.report.cli import figures_step
    from analyse.report.jobs import iter_jobs
    from analyse.report.params import (
        ReportOptions,
        ReportSelection,
        TerritorySelection,
        build_params,
        list_region_codes,
        list_territories,
    )
    from analyse.report.snapshot import pin_snapshot

    snapshot = pin_snapshot(demo_dirs[1])
    region = next(iter(list_region_codes(snapshot.path)))
    territory = next(iter(list_territories(snapshot.path, 2)))
    options = ReportOptions(n_boot=199)
    selection = ReportSelection(
        national=True, regions=[region], territories=TerritorySelection(phase=2, ids=[territory])
    )
    jobs = iter_jobs(build_params(selection, processed_dir=snapshot.path, options=options))
    prepare = figures_step(options)
    figures = prepare(snapshot.path) if prepare else None  # once, shared by both runs
    runs = {
        engine: run_batch(
            jobs,
            tmp_path / engine,
            workers=2,
            processed_dir=snapshot.path,
            figures_dir=figures,
            engine=engine,
            progress=False,
        )
        for engine in ("papermill", "warm")
    }
    for engine, run in runs.items():
        assert run.exit_code == 0, (engine, [(r.name, r.error) for r in run.failed])
    for job in jobs:
        pages = [(runs[e].run_dir / f"{job.name}.html").read_text(encoding="utf-8") for e in runs]
        assert 'class="analyse-chart"' in pages[0] and "<table" in pages[0], job.name
        assert _strip_times(pages[0]) == _strip_times(pages[1]), job.name


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_cell_timeout_stops_the_report(tmp_path: Path, engine: str) -> None:
    processed = write_processed(tmp_path / "processed")
    notebook = tmp_path / "sleeps.py"
    notebook.write_text("# %%\nprint('before')\n\n# %%\nimport time\n\ntime.sleep(300)\n")
    started = time.monotonic()
    run = run_batch(
        [Job("sleeps", notebook)],
        tmp_path / "reports",
        workers=1,
        processed_dir=processed,
        engine=engine,
        cell_timeout_s=2,
        max_attempts=1,
        progress=False,
    )
    report = run.result("sleeps")
    assert report.status == "failed" and "Timeout" in report.error
    assert time.monotonic() - started < 120
    assert not (run.run_dir / "sleeps.html").exists()
