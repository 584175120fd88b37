"""Estimation: descriptive leverage, cluster bootstrap, sensitivity, secrecy, reconciliation, models.

Re-exports only, one import line per name, so that each module's owner can add lines independently.

Names are resolved lazily (PEP 562): ``from analyse.estimate import bootstrap_leverage`` does not
import statsmodels, which only the models and the DiD need. That keeps a report kernel's start-up
short when it runs hundreds of territory sheets.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "apply_secrecy": "analyse.estimate.secrecy",
    "bootstrap_leverage": "analyse.estimate.bootstrap",
    "build_did_panel": "analyse.estimate.did",
    "compute_pretrend_test": "analyse.estimate.did",
    "compute_zone_treatment": "analyse.estimate.did",
    "compute_honest_bounds": "analyse.estimate.honest",
    "describe_metrics": "analyse.estimate.leverage",
    "estimate_did": "analyse.estimate.did",
    "estimate_event_study": "analyse.estimate.did",
    "estimate_imputation": "analyse.estimate.imputation",
    "estimate_placebo_did": "analyse.estimate.did",
    "fit_investment_elasticity": "analyse.estimate.models",
    "fit_jobs_model": "analyse.estimate.models",
    "make_synthetic_projects": "analyse.estimate.leverage",
    "match_zones_on_typologies": "analyse.estimate.did",
    "METRICS": "analyse.estimate.leverage",
    "RATIO_METRICS": "analyse.estimate.leverage",
    "read_published_figures": "analyse.estimate.reconciliation",
    "reconcile_with_published": "analyse.estimate.reconciliation",
    "run_label_counterfactual": "analyse.estimate.did",
    "run_synthetic_controls": "analyse.estimate.synth",
    "sensitivity_leverage": "analyse.estimate.sensitivity",
    "summarise_leverage": "analyse.estimate.leverage",
    "VARIANTS": "analyse.estimate.sensitivity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analyse.estimate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
