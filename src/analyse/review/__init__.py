"""What the report notebooks call: data loading, programme timeline and perimeters, the fund's
figures (headline, leverage tables with intervals and secrecy), the label's counterfactual, and
the blocks every page carries (synthetic banner, data quality, provenance).

Everything here is testable without a kernel; notebooks only call it and tell the story.
"""

from analyse.review.blocks import render_provenance as render_provenance
from analyse.review.blocks import render_quality as render_quality
from analyse.review.blocks import render_synthetic_banner as render_synthetic_banner
from analyse.review.data import SOURCE_LABOUR as SOURCE_LABOUR
from analyse.review.data import ReviewData as ReviewData
from analyse.review.data import default_processed_dir as default_processed_dir
from analyse.review.data import describe_fund_source as describe_fund_source
from analyse.review.data import load_review_data as load_review_data
from analyse.review.data import resolve_published_dir as resolve_published_dir
from analyse.review.fund import HEADLINE_METRIC as HEADLINE_METRIC
from analyse.review.fund import add_region_names as add_region_names
from analyse.review.fund import add_territory_names as add_territory_names
from analyse.review.fund import build_headline as build_headline
from analyse.review.fund import build_leverage_table as build_leverage_table
from analyse.review.fund import build_scope_comparison as build_scope_comparison
from analyse.review.fund import describe_headline as describe_headline
from analyse.review.fund import describe_leverage_bars as describe_leverage_bars
from analyse.review.fund import describe_scope_comparison as describe_scope_comparison
from analyse.review.fund import format_metric_value as format_metric_value
from analyse.review.fund import get_metric as get_metric
from analyse.review.fund import get_scope_metric as get_scope_metric
from analyse.review.fund import render_headline as render_headline
from analyse.review.fund import render_in_ti_comparison as render_in_ti_comparison
from analyse.review.fund import render_leverage_table as render_leverage_table
from analyse.review.fund import render_models as render_models
from analyse.review.fund import render_reconciliation as render_reconciliation
from analyse.review.fund import render_scope_comparison as render_scope_comparison
from analyse.review.fund import render_sensitivity as render_sensitivity
from analyse.review.label import compute_unemployment_trends as compute_unemployment_trends
from analyse.review.label import describe_event_study as describe_event_study
from analyse.review.label import describe_pretrend as describe_pretrend
from analyse.review.label import describe_trends as describe_trends
from analyse.review.label import render_did_table as render_did_table
from analyse.review.label import run_counterfactual as run_counterfactual
from analyse.review.label import select_event_study as select_event_study
from analyse.review.programme import compare_perimeters as compare_perimeters
from analyse.review.programme import describe_timeline as describe_timeline
from analyse.review.programme import prepare_timeline as prepare_timeline
from analyse.review.programme import read_milestones as read_milestones
from analyse.review.programme import render_members as render_members
from analyse.review.programme import render_milestones as render_milestones
from analyse.review.programme import render_perimeter_changes as render_perimeter_changes
from analyse.review.programme import (
    summarise_perimeter_changes as summarise_perimeter_changes,
)
