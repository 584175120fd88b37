"""Benchmark of ``analyse report`` (figures and ratios, not pass/fail).

    .venv/bin/python benchmarks/bench_report.py [--processed-dir DIR] [--phase 2]
        [--workers N] [--n-boot N] [--limit N] [--loop-sample N] [--pool-sample N] [--out DIR]

What runs: the real notebooks (``notebooks/national_review``, ``regional_report``,
``territory_sheet``) on the current processed snapshot: national + every région + every
territory of ``--phase`` (202 pages on the demo data). Everything below happens in one run, so
that the ratios compare times taken under the same load.

0. The figures stage (``ensure_figures``) on the pinned snapshot, timed apart: it is computed
   once per snapshot and code version and reused by every later run.
1. The batch, as ``analyse report all`` runs it: :func:`analyse.report.batch.run_batch` with the
   warm engine on ``--workers`` local processes (HTML export included, cache off): wall time,
   latency to the first finished page, and per page (median by kind) the split between the
   notebook's own work (its cells, as papermill times them), the engine's overhead (parameters,
   papermill bookkeeping, fork, messages), the page export and the worker's own overhead (log,
   notebook copy).
2. The naive loop on a sample of ``--loop-sample`` pages spread over the kinds: for each page,
   the ``papermill`` command line then ``jupyter nbconvert --to html``, one after the other. Its
   time for all the pages is **extrapolated** from the sample (mean per kind x pages of that
   kind), and compared with the batch's measured wall time.
3. The same sample through the pool with ``--engine papermill`` (fresh kernel per report), for
   the per-page split of the classic engine.
4. HTML size per page against the budget (< 300 kB with the shared chart bundle).

The last lines set the figures against the targets of issue 13 (202 pages <= 90 s on 2 cores,
>= 15x the naive loop).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import nbformat

from analyse.paths import find_project_root, get_processed_dir
from analyse.report.assets import BATCH_ENV, VEGA_ASSET
from analyse.report.batch import run_batch
from analyse.report.cli import figures_step
from analyse.report.jobs import Job, ReportResult, RunResult, iter_jobs
from analyse.report.notebook import load_source_notebook
from analyse.report.params import ReportOptions, ReportSelection, TerritorySelection, build_params
from analyse.report.snapshot import pin_snapshot

ROOT = find_project_root(Path(__file__).resolve().parent)
PAGE_BUDGET = 300 * 1024
TARGET_WALL_S = 90.0
TARGET_RATIO = 15.0


def all_jobs(snapshot_dir: Path, phase: int, options: ReportOptions) -> list[Job]:
    """National + every région + every territory of ``phase`` on the real notebooks."""
    selection = ReportSelection(
        national=True, regions=["all"], territories=TerritorySelection(phase=phase, ids=["all"])
    )
    params = build_params(selection, processed_dir=snapshot_dir, options=options)
    return iter_jobs(params, ROOT / "notebooks")


def by_kind(jobs: Iterable[Job]) -> dict[str, list[Job]]:
    kinds: dict[str, list[Job]] = {}
    for job in jobs:
        kinds.setdefault(job.kind, []).append(job)
    return kinds


def spread(jobs: list[Job], n: int) -> list[Job]:
    """About ``n`` jobs, evenly within each kind, at least one per kind."""
    kinds = by_kind(jobs)
    share = max(1, n // len(kinds))
    picked: list[Job] = []
    for members in kinds.values():
        step = max(1, len(members) // share)
        picked.extend(members[::step][:share])
    return picked


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def split_line(reports: list[ReportResult]) -> str:
    """Median seconds per page: cells / engine overhead / page export / worker overhead."""
    timed = [r for r in reports if r.timings]
    cells = median(r.timings["cells_s"] for r in timed)
    engine = median(r.timings["execute_s"] - r.timings["cells_s"] for r in timed)
    html = median(r.timings["html_s"] for r in timed)
    worker = median(r.duration_s - r.timings["execute_s"] - r.timings["html_s"] for r in timed)
    total = median(r.duration_s for r in timed)
    return (
        f"{total:5.2f} s = notebook cells {cells:5.2f} + engine {engine:5.2f} "
        f"+ page export {html:5.2f} + worker {worker:5.2f}"
    )


def print_split(title: str, run: RunResult) -> None:
    print(f"   {title} (median per page):")
    for kind, reports in by_kind_results(run.reports).items():
        print(f"     {kind:9s} x{len(reports):3d}: {split_line(reports)}")


def by_kind_results(reports: list[ReportResult]) -> dict[str, list[ReportResult]]:
    kinds: dict[str, list[ReportResult]] = {}
    for report in reports:
        kinds.setdefault(report.kind, []).append(report)
    return kinds


def time_loop(sample: list[Job], tmp: Path) -> dict[str, list[float]]:
    """Seconds per page of ``papermill`` CLI + ``jupyter nbconvert --to html``, by kind."""
    bin_dir = Path(sys.executable).parent
    inputs: dict[Path, Path] = {}
    for notebook in {job.notebook for job in sample}:
        converted = tmp / f"input-{notebook.stem}.ipynb"
        nbformat.write(load_source_notebook(notebook), converted)
        inputs[notebook] = converted
    env = {**os.environ, BATCH_ENV: "1"}
    seconds: dict[str, list[float]] = {}
    for i, job in enumerate(sample):
        executed = tmp / f"loop-{i}.ipynb"
        started = time.perf_counter()
        subprocess.run(
            [str(bin_dir / "papermill"), str(inputs[job.notebook]), str(executed), "-k", "python3"]
            + ["--cwd", str(ROOT), "--no-progress-bar", "-y", json.dumps(dict(job.parameters))],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [str(bin_dir / "jupyter"), "nbconvert", "--to", "html", str(executed)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds.setdefault(job.kind, []).append(time.perf_counter() - started)
    return seconds


def html_sizes(run: RunResult) -> None:
    sizes = sorted(r.html_bytes for r in run.reports if r.html_bytes)
    if not sizes:
        return
    asset = run.run_dir / VEGA_ASSET
    bundle = f"{asset.stat().st_size / 1024:.0f} kB" if asset.is_file() else "none"
    over = sum(size >= PAGE_BUDGET for size in sizes)
    print(
        f"4. HTML per page: min {sizes[0] / 1024:.0f} kB, median "
        f"{statistics.median(sizes) / 1024:.0f} kB, max {sizes[-1] / 1024:.0f} kB; "
        f"{over} page(s) over {PAGE_BUDGET // 1024} kB; shared bundle {bundle} once per run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processed-dir", type=Path, default=get_processed_dir())
    parser.add_argument("--phase", type=int, choices=(1, 2), default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n-boot", type=int, default=None, help="bootstrap replications")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--loop-sample", type=int, default=6, help="pages timed in the loop")
    parser.add_argument("--pool-sample", type=int, default=6, help="pages on --engine papermill")
    parser.add_argument("--out", type=Path, default=None, help="keep outputs here")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    snapshot = pin_snapshot(args.processed_dir)
    options = ReportOptions(n_boot=args.n_boot)
    prepare = figures_step(options)
    started = time.perf_counter()
    figures = prepare(snapshot.path) if prepare else None
    print(f"0. figures stage: {time.perf_counter() - started:6.1f} s ({figures})")
    jobs = all_jobs(snapshot.path, args.phase, options)[: args.limit]
    counts = {kind: len(members) for kind, members in by_kind(jobs).items()}
    print(f"{len(jobs)} pages {counts} on snapshot {snapshot.snapshot_id}, {args.workers} workers")

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    out = args.out or tmp / "reports"
    common = {"processed_dir": snapshot.path, "figures_dir": figures, "progress": False}
    try:
        started = time.perf_counter()
        run = run_batch(jobs, out, workers=args.workers, force=True, engine="warm", **common)
        batch_s = time.perf_counter() - started
        failed = [r.name for r in run.failed]
        print(
            f"1. batch, warm engine: {batch_s:6.1f} s wall for {len(jobs)} pages "
            f"({batch_s / len(jobs):.2f} s a page); first page after {run.first_page_s:.1f} s"
        )
        if failed:
            print(f"   failed: {', '.join(failed)} (see {run.run_dir}/index.html)")
        print_split("warm engine", run)

        sample = spread(jobs, args.loop_sample)
        loop = time_loop(sample, tmp)
        loop_s = sum(statistics.mean(loop[kind]) * n for kind, n in counts.items() if kind in loop)
        per_kind = ", ".join(f"{k} {statistics.mean(v):.1f} s" for k, v in loop.items())
        print(
            f"2. naive loop (papermill CLI + jupyter nbconvert, one page after the other), "
            f"timed on {len(sample)} pages ({per_kind} a page), extrapolated to "
            f"{len(jobs)} pages: {loop_s:7.1f} s"
        )

        pool_sample = spread(jobs, args.pool_sample)
        classic = run_batch(
            pool_sample, tmp / "papermill", workers=args.workers, force=True,
            engine="papermill", **common,
        )  # fmt: skip
        print_split(f"3. papermill engine, {len(pool_sample)} pages", classic)
        html_sizes(run)

        ratio = loop_s / batch_s
        print(
            f"targets: {len(jobs)} pages in {batch_s:.1f} s (<= {TARGET_WALL_S:.0f} s: "
            f"{'met' if batch_s <= TARGET_WALL_S else 'NOT met'}); naive loop / batch = "
            f"{loop_s:.0f} s / {batch_s:.1f} s = {ratio:.1f}x (>= {TARGET_RATIO:.0f}x: "
            f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); first page after "
            f"{run.first_page_s:.1f} s"
        )
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    finally:
        if args.out is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
