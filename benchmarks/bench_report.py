"""Benchmark of ``analyse report`` (figures and ratios, not pass/fail).

    .venv/bin/python benchmarks/bench_report.py [--notebooks DIR] [--processed-dir DIR]
        [--phase 2] [--workers N] [--n-boot N] [--limit N] [--compare N] [--skip-cli]
        [--out DIR]

Which notebooks: by default the real ones (``notebooks/national_review``, ``regional_report``,
``territory_sheet``) when they exist and ``data/processed`` holds core tables: national + every
région + every territory of ``--phase``; otherwise the small test notebooks of
``tests/notebooks`` (national + one regional report per région of the reference list).
On the demo data the real set is 202 reports (~20 min on 2 cores with ``--n-boot 199``);
``--limit`` and ``--notebooks tests/notebooks`` give shorter runs of the same shape.

1. Wall time of the batch through :func:`analyse.report.runner.run_batch` (papermill API in a
   pool of ``--workers`` processes, HTML export included, cache off).
2. On ``--compare`` of those reports (default 12, spread over the kinds; all of them when the
   batch is smaller; 0 = all): the pool again vs the same notebooks run one by one with the
   ``papermill`` command line (execution only, no HTML: the ratio is conservative).
3. The floor: per notebook kind, a notebook holding only that notebook's import lines, run
   through papermill (kernel start + imports); the floor of the batch = sum / workers.
4. HTML size per report (min / median / max) against the budget: < 300 kB per page with the
   shared chart bundle (written once per run, size printed), < 3 MB for a self-contained page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from analyse.paths import find_project_root, get_processed_dir
from analyse.reference import REGION_NAMES
from analyse.report.display import BATCH_ENV
from analyse.report.html import VEGA_ASSET, write_report_html
from analyse.report.params import (
    ReportOptions,
    ReportSelection,
    TerritorySelection,
    build_params,
)
from analyse.report.runner import (
    NOTEBOOK_STEMS,
    Job,
    iter_jobs,
    load_source_notebook,
    run_batch,
)

ROOT = find_project_root(Path(__file__).resolve().parent)
PAGE_BUDGET = 300 * 1024
SELF_CONTAINED_BUDGET = 3 * 1024 * 1024


def real_jobs(notebooks: Path, processed: Path, phase: int, n_boot: int | None) -> list[Job] | None:
    """National + all régions + all territories of ``phase`` on the real notebooks, if present."""
    if not all(
        (notebooks / f"{stem}.py").is_file() or (notebooks / f"{stem}.ipynb").is_file()
        for stem in NOTEBOOK_STEMS.values()
    ):
        return None
    if not (processed / "core_territories.parquet").is_file():
        return None
    selection = ReportSelection(
        national=True, regions=["all"], territories=TerritorySelection(phase=phase, ids=["all"])
    )
    options = ReportOptions(n_boot=n_boot)
    return iter_jobs(build_params(selection, processed_dir=processed, options=options), notebooks)


def test_jobs(processed: Path) -> list[Job]:
    """The test notebooks: national + one regional report per région code."""
    folder = ROOT / "tests" / "notebooks"
    common = {"processed_dir": str(processed), "published_dir": None}
    jobs = [Job("national", folder / "national_review.py", common, "Revue nationale", "national")]
    for code in REGION_NAMES:
        jobs.append(
            Job(
                f"regions/{code}",
                folder / "regional_report.py",
                {**common, "region_code": code},
                f"Région {code}",
                "region",
            )
        )
    return jobs


def spread(jobs: list[Job], n: int) -> list[Job]:
    """``n`` jobs taken evenly within each kind (all of them when ``n`` is 0 or large)."""
    if n <= 0 or n >= len(jobs):
        return jobs
    kinds: dict[str, list[Job]] = {}
    for job in jobs:
        kinds.setdefault(job.kind, []).append(job)
    picked: list[Job] = []
    share = max(1, n // len(kinds))
    for members in kinds.values():
        step = max(1, len(members) // share)
        picked.extend(members[::step][:share])
    return picked[:n] if len(picked) > n else picked


def imports_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook keeping only the import lines of ``nb`` (one code cell)."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if re.match(r"^(import|from)\s+\S+", line) and "(" not in line:
                lines.append(line)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = [nbformat.v4.new_code_cell("\n".join(dict.fromkeys(lines)) or "pass")]
    return out


def time_floor(jobs: list[Job], tmp: Path) -> dict[str, float]:
    """Seconds to run each distinct notebook's imports through papermill (kernel included)."""
    import papermill

    os.environ[BATCH_ENV] = "1"
    floors: dict[str, float] = {}
    for notebook in sorted({job.notebook for job in jobs}):
        nb = imports_only(load_source_notebook(notebook))
        started = time.perf_counter()
        papermill.execute_notebook(
            nb,
            str(tmp / f"floor-{notebook.stem}.ipynb"),
            kernel_name="python3",
            language="python",
            progress_bar=False,
            cwd=str(ROOT),
        )
        floors[notebook.name] = time.perf_counter() - started
    return floors


def time_cli(jobs: list[Job], tmp: Path) -> float:
    """Seconds to run every job one by one with the papermill command line."""
    papermill_cli = Path(sys.executable).with_name("papermill")
    inputs: dict[Path, Path] = {}
    for notebook in {job.notebook for job in jobs}:
        converted = tmp / f"input-{notebook.stem}.ipynb"
        nbformat.write(load_source_notebook(notebook), converted)
        inputs[notebook] = converted
    env = {**os.environ, BATCH_ENV: "1"}
    started = time.perf_counter()
    for i, job in enumerate(jobs):
        subprocess.run(
            [
                str(papermill_cli),
                str(inputs[job.notebook]),
                str(tmp / f"cli-{i}.ipynb"),
                "-k",
                "python3",
                "--cwd",
                str(ROOT),
                "--no-progress-bar",
                # -y keeps "01" a string; -p would turn it into the number 1
                "-y",
                json.dumps(dict(job.parameters)),
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--processed-dir", type=Path, default=get_processed_dir())
    parser.add_argument("--phase", type=int, choices=(1, 2), default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n-boot", type=int, default=None, help="bootstrap replications")
    parser.add_argument("--limit", type=int, default=None, help="only the first N reports")
    parser.add_argument(
        "--compare", type=int, default=12, help="reports in the pool vs CLI comparison (0: all)"
    )
    parser.add_argument("--skip-cli", action="store_true", help="skip the one-by-one CLI run")
    parser.add_argument("--out", type=Path, default=None, help="keep outputs here")
    args = parser.parse_args()

    jobs = real_jobs(args.notebooks, args.processed_dir, args.phase, args.n_boot)
    which = f"{args.notebooks} on {args.processed_dir}"
    if jobs is None:
        jobs = test_jobs(args.processed_dir)
        which = "test notebooks (real notebooks or processed data absent)"
    if args.limit:
        jobs = jobs[: args.limit]
    print(f"{len(jobs)} reports from {which}; {args.workers} workers, {os.cpu_count()} cores")

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    out = args.out or tmp / "reports"
    try:
        started = time.perf_counter()
        result = run_batch(jobs, out, workers=args.workers, force=True, progress=False)
        pool_s = time.perf_counter() - started
        failed = [r.name for r in result.failed]
        print(f"1. API pool ({args.workers} workers, HTML included): {pool_s:7.1f} s wall")
        if failed:
            print(f"   failed reports: {', '.join(failed)} (see {result.run_dir}/index.html)")

        floors = time_floor(jobs, tmp)
        per_job = [floors[job.notebook.name] for job in jobs]
        floor_batch = sum(per_job) / args.workers
        for name, seconds in floors.items():
            print(f"3. floor {name}: kernel start + imports {seconds:5.1f} s per notebook")
        print(
            f"   floor of the batch (sum / workers): {floor_batch:7.1f} s "
            f"-> pool at {pool_s / floor_batch:4.2f}x its floor"
        )

        if not args.skip_cli:
            sample = spread(jobs, args.compare)
            if len(sample) == len(jobs):
                sample_pool_s = pool_s
            else:
                started = time.perf_counter()
                run_batch(sample, tmp / "sample", workers=args.workers, force=True, progress=False)
                sample_pool_s = time.perf_counter() - started
            cli_s = time_cli(sample, tmp)
            print(
                f"2. {len(sample)} reports: API pool {sample_pool_s:7.1f} s, papermill CLI one by "
                f"one (no HTML) {cli_s:7.1f} s -> ratio CLI / pool {cli_s / sample_pool_s:4.2f}x"
            )

        sizes = sorted(r.html_bytes for r in result.reports if r.html_bytes)
        if sizes:
            asset = result.run_dir / VEGA_ASSET
            print(
                f"4. HTML per report: min {sizes[0] / 1024:.0f} kB, median "
                f"{statistics.median(sizes) / 1024:.0f} kB, max {sizes[-1] / 1024:.0f} kB "
                f"(budget < {PAGE_BUDGET // 1024} kB: "
                f"{'within' if sizes[-1] < PAGE_BUDGET else 'OVER'}); shared bundle "
                f"{asset.stat().st_size / 1024:.0f} kB once per run"
            )
            biggest = max(
                (r for r in result.reports if r.html_bytes), key=lambda r: r.html_bytes or 0
            )
            executed = nbformat.read(result.run_dir / biggest.notebook, as_version=4)
            size = write_report_html(
                executed, tmp / "self-contained.html", title=biggest.title, self_contained=True
            )
            print(
                f"   self-contained {biggest.name}: {size / 1024:.0f} kB (budget < "
                f"{SELF_CONTAINED_BUDGET // 1024 // 1024} MB: "
                f"{'within' if size < SELF_CONTAINED_BUDGET else 'OVER'})"
            )
    finally:
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
