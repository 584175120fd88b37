"""Fault injection for ``analyse report``: kill -9 of the batch's main process at several
points, report processes and kernels killed from outside, ``clean`` running during a batch.

Each test asserts what is on disk afterwards (pages whole or absent, journal, run.json,
``latest``) and, for kill -9, that no process of the batch is left: every process a batch
starts (forkserver, resource tracker, workers, report processes, kernels) inherits a marker
in its environment, and ``/proc`` is searched for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from analyse.report.batch import run_batch
from analyse.report.jobs import Job

ROOT = Path(__file__).resolve().parents[2]
MARKER = "ANALYSE_REPORT_FAULT_MARKER"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="kill -9 and /proc checks are Linux-specific"
)


def write_processed(folder: Path, snapshot_id: str | None = None) -> Path:
    """A minimal processed snapshot (metadata.json and what parameters read)."""
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"region_code": ["84"]}).write_parquet(folder / "core_communes.parquet")
    metadata: dict[str, object] = {"synthetic": True, "cleaned_at": "2024-11-22T04:00:00+00:00"}
    if snapshot_id:
        metadata["snapshot_id"] = snapshot_id
    (folder / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def slow_notebook(folder: Path, seconds: float) -> Path:
    """A report that reads its snapshot's id, waits, and prints a chart-free page."""
    path = folder / "slow_report.py"
    path.write_text(
        textwrap.dedent(
            f"""
            # %% tags=["parameters"]
            label = "x"
            processed_dir = None

            # %%
            import json
            import time
            from pathlib import Path

            meta = json.loads((Path(processed_dir) / "metadata.json").read_text())
            print(f"START {{meta.get('snapshot_id')}}")
            time.sleep({seconds})
            meta = json.loads((Path(processed_dir) / "metadata.json").read_text())
            print(f"END {{meta.get('snapshot_id')}} {{label}}")
            """
        ),
        encoding="utf-8",
    )
    return path


def marked_processes(marker: str) -> list[int]:
    """Pids whose environment holds ``MARKER=marker``."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                with contextlib.suppress(OSError):
                    state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        found.append(int(entry))
    return found


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def journal_lines(run_dir: Path) -> list[dict]:
    path = run_dir / "logs" / "journal.jsonl"
    if not path.is_file():
        return []
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(line))
    return lines


BATCH = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import analyse.report.batch
    from analyse.report.batch import run_batch
    from analyse.report.jobs import Job

    analyse.report.batch.hash_package = lambda: "fault-test"  # others may edit the tree

    notebook, processed, out, engine, n = sys.argv[1:6]
    jobs = [Job(f"page{i}", Path(notebook), {"label": str(i)}) for i in range(int(n))]
    if __name__ == "__main__":
        result = run_batch(jobs, Path(out), workers=2, processed_dir=processed, engine=engine,
                           run_id="killed", progress=False)
        sys.exit(result.exit_code)
    """
)


@contextlib.contextmanager
def batch_process(
    tmp_path: Path, engine: str, n_pages: int, seconds: float
) -> Iterator[tuple[subprocess.Popen, str, Path, list]]:
    """A batch in a subprocess of its own session, its processes marked; killed at the end."""
    marker = uuid.uuid4().hex
    notebook = slow_notebook(tmp_path, seconds)
    processed = write_processed(tmp_path / "processed", snapshot_id="snap-1")
    out = tmp_path / "reports"
    script = tmp_path / "batch.py"
    script.write_text(BATCH, encoding="utf-8")
    args = [str(notebook), str(processed), str(out), engine, str(n_pages)]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env={**os.environ, MARKER: marker},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    jobs = [Job(f"page{i}", notebook, {"label": str(i)}) for i in range(n_pages)]
    try:
        yield proc, marker, out, jobs
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in marked_processes(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


def assert_killed_run_is_sound(run_dir: Path) -> list[dict]:
    """Whatever the moment of the kill: no run.json, every page whole, every journal line
    naming a page that is there with the recorded checksum."""
    assert not (run_dir / "logs" / "run.json").exists()
    for page in run_dir.rglob("*.html"):
        assert page.read_text(encoding="utf-8").rstrip().endswith("</html>"), page
    entries = journal_lines(run_dir)
    for entry in entries:
        page = run_dir / entry["html"]
        assert hashlib.sha256(page.read_bytes()).hexdigest() == entry["html_sha256"]
        assert entry["snapshot_id"] == "snap-1"
    return entries


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine", "when"),
    [
        ("warm", "starting"),
        ("warm", "first page"),
        ("warm", "last page"),
        ("papermill", "first page"),
    ],
)
def test_kill_9_of_the_main_process_leaves_nothing_running(
    tmp_path: Path, engine: str, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("analyse.report.batch.hash_package", lambda: "fault-test")
    n_pages = 7  # odd on 2 workers: the last page runs alone, so "before the last page" is
    # a real moment, not a race with the page that finishes beside the last but one
    with batch_process(tmp_path, engine, n_pages, seconds=1.5) as (proc, marker, out, jobs):
        run_dir = out / "killed"
        if when == "starting":
            wait_for(lambda: len(marked_processes(marker)) >= 3, 60, "the pool to start")
        else:
            wanted = 1 if when == "first page" else n_pages - 1
            wait_for(lambda: len(journal_lines(run_dir)) >= wanted, 120, f"{wanted} pages")
        alive_before = marked_processes(marker)
        assert len(alive_before) >= 3  # main, forkserver, workers... were there
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        try:
            wait_for(lambda: not marked_processes(marker), 20, "the batch's processes to end")
        except AssertionError:
            left = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in marked_processes(marker)}
            raise AssertionError(f"processes left after kill -9: {left}") from None
        done = assert_killed_run_is_sound(run_dir)
        assert not (out / "latest").exists()
    # the next run reuses every page the killed run finished, and runs the others
    rerun = run_batch(jobs, out, workers=2, processed_dir=tmp_path / "processed", progress=False)
    assert rerun.exit_code == 0
    reused = {r.name for r in rerun.reports if r.status == "cached"}
    assert reused == {e["name"] for e in done}
    assert all(rerun.result(name).reused_from == "killed" for name in reused)


SELF_KILL = textwrap.dedent(
    """
    # %% tags=["parameters"]
    flag = ""

    # %%
    import os
    import signal
    from pathlib import Path

    if not Path(flag).exists():  # first attempt: die like an out-of-memory kill
        Path(flag).write_text("killed once")
        os.kill(os.getpid(), signal.SIGKILL)
    print("second attempt")
    """
)


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_a_killed_report_process_is_logged_and_retried(tmp_path: Path, engine: str) -> None:
    notebook = tmp_path / "self_kill.py"
    notebook.write_text(SELF_KILL, encoding="utf-8")
    processed = write_processed(tmp_path / "processed")
    job = Job("victim", notebook, {"flag": str(tmp_path / "flag")})
    run = run_batch(
        [job],
        tmp_path / "reports",
        workers=1,
        processed_dir=processed,
        engine=engine,
        progress=False,
    )
    report = run.result("victim")
    assert report.status == "ok" and report.attempts == 2
    log = (run.run_dir / report.log).read_text(encoding="utf-8")
    expected = "report process died: killed by signal 9" if engine == "warm" else "Kernel died"
    assert "attempt 1 failed" in log and expected in log
    assert (run.run_dir / "victim.html").is_file()


@pytest.mark.slow
def test_clean_during_a_batch_does_not_mix_datasets(
    demo_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    snapshots = pytest.importorskip("analyse.snapshots")
    from analyse.clean import run_clean

    raw = demo_dirs[0]
    root = tmp_path / "processed"
    run_clean(raw, root)
    pinned_dir = snapshots.resolve_snapshot(root)
    pinned = snapshots.get_snapshot_id(pinned_dir)
    notebook = slow_notebook(tmp_path, seconds=4.0)
    jobs = [Job(f"page{i}", notebook, {"label": str(i)}) for i in range(4)]
    out = tmp_path / "reports"
    events: dict[str, object] = {}

    def clean_meanwhile() -> None:
        wait_for(lambda: any(out.glob("*/notebooks/page0.ipynb")), 120, "the first report")
        run_clean(raw, root)  # a new snapshot becomes current
        events["current"] = snapshots.get_snapshot_id(snapshots.resolve_snapshot(root))
        events["removed"] = snapshots.collect_garbage(root, keep=0)
        events["pinned_kept"] = pinned_dir.is_dir()
        events["batch_running"] = not any(out.glob("*/logs/run.json"))

    cleaner = threading.Thread(target=clean_meanwhile)
    cleaner.start()
    run = run_batch(jobs, out, workers=2, processed_dir=root, progress=False)
    cleaner.join(timeout=300)
    assert run.exit_code == 0, [(r.name, r.error) for r in run.failed]
    assert events["batch_running"] is True  # the clean did happen during the batch
    assert events["current"] != pinned and events["pinned_kept"] is True  # leased: kept
    assert run.snapshot_id == pinned
    for report in run.reports:  # every page read the pinned snapshot from start to end
        text = (run.run_dir / report.notebook).read_text(encoding="utf-8")
        assert f"START {pinned}" in text and f"END {pinned}" in text
        assert f"jeu de données {pinned}" in (run.run_dir / report.html).read_text(encoding="utf-8")
    # after the batch the lease is gone: the next run reads the new snapshot, reuses nothing
    after = run_batch(jobs[:1], out, workers=1, processed_dir=root, progress=False)
    assert after.snapshot_id == events["current"]
    assert after.result("page0").status == "ok"
    snapshots.collect_garbage(root, keep=0)
    assert not pinned_dir.exists()  # no lease any more: the clean-up may remove it
