"""Audits of a published report run (reports/<run-id>/).

- :mod:`analyse.audit.pages` reads what the pages print: every annotated fund value
  (``data-cell`` / ``data-measure``) and the data embedded in the charts, parsed back into the
  intervals their French rounding allows.
- :mod:`analyse.audit.secrecy` attacks the publication as a whole: ``analyse audit-secrecy
  RUN_DIR`` bounds every masked cell by linear programming over everything printed.

The package imports nothing heavy at start-up (the command line registers
:mod:`analyse.audit.cli` only).
"""
