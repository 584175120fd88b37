"""The heavy optional IRI checker stays out of report kernels (it cost ~3.5 s per report)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_report_stack_does_not_load_rfc3987_syntax() -> None:
    code = (
        "import sys; from analyse import charts, review; import jsonschema, nbformat; "
        "print(sys.modules.get('rfc3987_syntax') is None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_statsmodels_is_not_imported_by_the_descriptive_estimates() -> None:
    code = (
        "import sys; from analyse.estimate import bootstrap_leverage, apply_secrecy; "
        "from analyse import review; print('statsmodels' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
