"""Imported only by the multiprocessing forkserver of a report batch (as a preload module):
the forkserver then dies with the main process that started it (``PR_SET_PDEATHSIG``), and
with it, through their own ``PR_SET_PDEATHSIG``, the pool workers it forked."""

from __future__ import annotations

import signal

from analyse.report.lifeline import die_with_parent

die_with_parent(signal.SIGKILL)
