"""Reports: validated parameters, a process pool (or a Dask cluster) running notebooks on warm
kernels, offline HTML pages and index.

Public API (imported lazily, so that ``analyse.report.display`` stays light in notebooks)::

    from analyse.report import Job, RunResult, run_batch          # the batch runner
    from analyse.report import NationalParams, RegionParams, TerritoryParams
    from analyse.report.display import enable_offline_charts      # in the notebooks
    from analyse.report.browser import render_page, PageCheck     # headless Chromium check
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Job": "analyse.report.jobs",
    "ReportResult": "analyse.report.jobs",
    "RunResult": "analyse.report.jobs",
    "job_from_params": "analyse.report.jobs",
    "iter_jobs": "analyse.report.jobs",
    "summarise": "analyse.report.jobs",
    "run_batch": "analyse.report.batch",
    "execute_report": "analyse.report.worker",
    "ENGINES": "analyse.report.jobs",
    "EXECUTORS": "analyse.report.executors",
    "Snapshot": "analyse.report.snapshot",
    "pin_snapshot": "analyse.report.snapshot",
    "NationalParams": "analyse.report.params",
    "RegionParams": "analyse.report.params",
    "TerritoryParams": "analyse.report.params",
    "RunFile": "analyse.report.params",
    "read_run_file": "analyse.report.params",
    "build_params": "analyse.report.params",
    "enable_offline_charts": "analyse.report.display",
    "write_report_html": "analyse.report.html",
    "render_page": "analyse.report.browser",
    "PageCheck": "analyse.report.browser",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analyse.report' has no attribute {name!r}")
