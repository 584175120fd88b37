"""Session set-up shared by the tests and the notebooks run under nbval.

Builds the demo dataset once per session into a temporary folder (``analyse demo``: the real
reference files plus a synthetic fund extract, then ``analyse clean``) and points
``ANALYSE_RAW_DIR`` / ``ANALYSE_PROCESSED_DIR`` / ``ANALYSE_FIGURES_DIR`` at it, so that
notebooks run with their default parameters (``processed_dir = None``) on the demo data, exactly
as an evaluator's fresh checkout does after ``python3 tasks.py run``. Kernels started by nbval or
papermill inherit these variables.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Small solves are ~50x slower with multithreaded OpenBLAS on 2 shared cores: one thread each.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

DEMO_ENV = "ANALYSE_TEST_DEMO_DIR"


def pytest_configure(config: object) -> None:
    """Build the demo data once (reused by xdist-free runs in this process and its kernels)."""
    if os.environ.get(DEMO_ENV):
        return
    from analyse.clean import run_clean
    from analyse.demo import write_demo

    root = Path(tempfile.mkdtemp(prefix="analyse-test-demo-"))
    os.environ["ANALYSE_FIGURES_DIR"] = str(root / "figures")
    write_demo(root / "raw", seed=2018)
    run_clean(root / "raw", root / "processed")
    os.environ[DEMO_ENV] = str(root)
    os.environ["ANALYSE_RAW_DIR"] = str(root / "raw")
    os.environ["ANALYSE_PROCESSED_DIR"] = str(root / "processed")
