"""Estimation: descriptive leverage, cluster bootstrap, sensitivity, secrecy, reconciliation, models.

Re-exports only, one import line per name, so that each module's owner can add lines independently.
"""

from analyse.estimate.bootstrap import bootstrap_leverage as bootstrap_leverage
from analyse.estimate.did import build_did_panel as build_did_panel
from analyse.estimate.did import compute_pretrend_test as compute_pretrend_test
from analyse.estimate.did import compute_zone_treatment as compute_zone_treatment
from analyse.estimate.did import estimate_did as estimate_did
from analyse.estimate.did import estimate_event_study as estimate_event_study
from analyse.estimate.did import estimate_placebo_did as estimate_placebo_did
from analyse.estimate.did import match_zones_on_typologies as match_zones_on_typologies
from analyse.estimate.did import run_label_counterfactual as run_label_counterfactual
from analyse.estimate.leverage import METRICS as METRICS
from analyse.estimate.leverage import RATIO_METRICS as RATIO_METRICS
from analyse.estimate.leverage import describe_metrics as describe_metrics
from analyse.estimate.leverage import make_synthetic_projects as make_synthetic_projects
from analyse.estimate.leverage import summarise_leverage as summarise_leverage
from analyse.estimate.models import fit_investment_elasticity as fit_investment_elasticity
from analyse.estimate.models import fit_jobs_model as fit_jobs_model
from analyse.estimate.reconciliation import read_published_figures as read_published_figures
from analyse.estimate.reconciliation import reconcile_with_published as reconcile_with_published
from analyse.estimate.secrecy import apply_secrecy as apply_secrecy
from analyse.estimate.sensitivity import VARIANTS as VARIANTS
from analyse.estimate.sensitivity import sensitivity_leverage as sensitivity_leverage
