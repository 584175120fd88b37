"""Former home of the batch runner, kept so that ``analyse.report.runner.X`` still imports.

The runner is split by concern:

=========================  ===============================================================
module                     holds
=========================  ===============================================================
``report.jobs``            :class:`Job`, :class:`ReportResult`, :class:`RunResult`, notebooks
``report.batch``           :func:`run_batch`: snapshot, cache, executor, journal, run.json
``report.executors``       local process pool, Dask cluster
``report.worker``          one report: engines, attempts, page export, worker set-up
``report.warm``            the warm engine (fork per report from a pre-imported worker)
``report.host``            warm host processes on Dask workers
``report.cache``           cache keys, reusable pages of earlier (finished or killed) runs
``report.journal``         ``logs/journal.jsonl``
``report.snapshot``        pinning and leasing the processed snapshot
``report.lifeline``        processes that die with the batch
``report.notebook``        reading, checking and fixing notebooks
``report.meta``            page meta lines and banner
``report.index``           the index page
=========================  ===============================================================
"""

from __future__ import annotations

from analyse.report.batch import new_run_id, run_batch, update_latest
from analyse.report.cache import compute_cache_key, hash_package, previous_reports
from analyse.report.jobs import (
    KERNEL_NAME,
    LATEST_FILE,
    LATEST_LINK,
    NOTEBOOK_STEMS,
    RUN_FILE,
    Job,
    ReportResult,
    RunResult,
    iter_jobs,
    job_from_params,
    read_run,
    resolve_notebook,
    summarise,
)
from analyse.report.meta import SYNTHETIC_BANNER, page_meta
from analyse.report.notebook import check_executed, load_source_notebook
from analyse.report.worker import execute_report

__all__ = [
    "KERNEL_NAME",
    "LATEST_FILE",
    "LATEST_LINK",
    "NOTEBOOK_STEMS",
    "RUN_FILE",
    "SYNTHETIC_BANNER",
    "Job",
    "ReportResult",
    "RunResult",
    "check_executed",
    "compute_cache_key",
    "execute_report",
    "hash_package",
    "iter_jobs",
    "job_from_params",
    "load_source_notebook",
    "new_run_id",
    "page_meta",
    "previous_reports",
    "read_run",
    "resolve_notebook",
    "run_batch",
    "summarise",
    "update_latest",
]
