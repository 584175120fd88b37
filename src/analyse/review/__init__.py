"""What the report notebooks call: one module per part of a page, all reading the run's figures
bundle and its snapshot (never re-estimating):

- :mod:`~analyse.review.page`: the page (numbering, breadcrumb, key messages, figure captions);
- :mod:`~analyse.review.blocks`: banner (what is real, what is synthetic), quality, provenance;
- :mod:`~analyse.review.fund`: the fund's cells (headline, breakdowns, comparisons, national
  frames);
- :mod:`~analyse.review.label`: the label's counterfactual (DiD, diagnostics, per territory);
- :mod:`~analyse.review.trends`: unemployment trends; :mod:`~analyse.review.public`: public-data
  sections; :mod:`~analyse.review.programme`: timeline and perimeters.

Everything here is testable without a kernel; notebooks only call it and tell the story.
Submodules are imported on first use (``review.fund``), so a page loads only what it shows.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "blocks",
    "causal",
    "cells",
    "fund",
    "label",
    "maps",
    "methodology",
    "national",
    "page",
    "paths",
    "programme",
    "public",
    "regional",
    "summary",
    "territory",
    "trends",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"analyse.review.{name}")
    raise AttributeError(f"module 'analyse.review' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_SUBMODULES)
