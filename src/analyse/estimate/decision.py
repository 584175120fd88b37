"""What the label's DiD may claim: a decision rule on the diagnostics, multiple-testing caution,
and the planted-effect targets of the demo.

Decision rule (methodology, applied to each treatment definition × exposure measure; the page's
headline follows the headline specification's decision). Parallel trends are judged **doubtful**
— and no row of that specification keeps a causal reading — when at least one of:

1. the joint test that all event-study leads equal the reference has ``p < 0.10``;
2. the placebo DiD (fake label ``2015-T4``, pre-label data only) has ``p < 0.10``;
3. the main estimate is significant at ``alpha`` (5 %) but some lead is at least as large in
   absolute value as the estimate (a pre-label gap of the same size as the "effect").

Thresholds are deliberately cautious: two diagnostics at 10 % fire together in about 20-25 %
of panels where parallel trends hold (tests/test_decision.py measures it), which is the price of
not writing "causal" on a design whose leads move. When the rule fires, rows whose kind starts
with "causal" become :data:`~analyse.estimate.did.KIND_DOUBTFUL`; mixed (post-2020) and pooled
rows keep their own, already non-causal, kind.

Multiple testing: the DiD table shows some fifteen estimates and the event study some forty
coefficients. :func:`holm_adjust` gives Holm (1979) step-down adjusted p-values controlling the
family-wise error rate within a family (the DiD table; each event study): a coefficient
"significant" only before adjustment is one of many tries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl

from analyse.errors import ParameterError
from analyse.estimate import did

DIAGNOSTIC_ALPHA = 0.10
DECISION_CAUSAL = "causal_under_assumptions"
DECISION_DOUBTFUL = "no_causal_conclusion"
DECISION_RULE = (
    "Parallel trends judged doubtful (no causal conclusion) when the joint pre-trend test has "
    "p < {a:.2f}, or the placebo DiD has p < {a:.2f}, or the main estimate is significant at "
    "{b:.2f} while a lead is at least as large in absolute value."
)

DECISION_SCHEMA: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "exposure": pl.String,
    "is_headline": pl.Boolean,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "p_value": pl.Float64,
    "pretrend_statistic": pl.Float64,
    "pretrend_distribution": pl.String,
    "pretrend_p_value": pl.Float64,
    "placebo_period": pl.String,
    "placebo_estimate": pl.Float64,
    "placebo_p_value": pl.Float64,
    "max_abs_lead": pl.Float64,
    "max_lead_rel_quarter": pl.Int32,
    "fails_pretrend": pl.Boolean,
    "fails_placebo": pl.Boolean,
    "fails_lead_size": pl.Boolean,
    "parallel_trends_doubtful": pl.Boolean,
    "decision": pl.String,
    "diagnostic_alpha": pl.Float64,
    "rule": pl.String,
}

VALIDATION_SCHEMA: dict[str, type[pl.DataType]] = {
    "block": pl.String,
    "treatment": pl.String,
    "exposure": pl.String,
    "spec": pl.String,
    "term": pl.String,
    "sample": pl.String,
    "window_start": pl.String,
    "window_end": pl.String,
    "post_start": pl.String,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "planted_target": pl.Float64,
    "difference": pl.Float64,
    "z_score": pl.Float64,
    "target_in_ci": pl.Boolean,
}


# ---------------------------------------------------------------------------- multiple testing


def holm_adjust(p_values: Iterable[float | None]) -> np.ndarray:
    """Holm step-down adjusted p-values (nulls/NaN stay NaN and are not counted)."""
    p = np.asarray([np.nan if v is None else v for v in p_values], dtype=float)
    ok = np.flatnonzero(np.isfinite(p))
    out = np.full(p.shape, np.nan)
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def add_holm(frame: pl.DataFrame, family: str, over: str | list[str] | None = None) -> pl.DataFrame:
    """``frame`` with ``p_value_holm`` (Holm within the whole frame, or within each ``over``
    group) and ``holm_family`` (the family's name)."""
    if frame.height == 0:
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias("p_value_holm"), pl.lit(family).alias("holm_family")
        )
    if over is None:
        return frame.with_columns(
            pl.Series("p_value_holm", holm_adjust(frame["p_value"].to_list())).fill_nan(None),
            pl.lit(family).alias("holm_family"),
        )
    parts = []
    for key, part in frame.with_row_index("_i").group_by(over, maintain_order=True):
        name = "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        parts.append(add_holm(part, f"{family}: {name}"))
    return pl.concat(parts).sort("_i").drop("_i")


# ---------------------------------------------------------------------------- decision


def decide_parallel_trends(
    main: Mapping[str, Any],
    pretrend: Mapping[str, Any],
    placebo: Mapping[str, Any],
    event_study: pl.DataFrame,
    *,
    is_headline: bool,
    diagnostic_alpha: float = DIAGNOSTIC_ALPHA,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """One row of :data:`DECISION_SCHEMA` from the specification's main DiD row, pre-trend test
    row, placebo row and event-study coefficients (leads = ``rel_quarter < 0``)."""
    leads = event_study.filter(
        (pl.col("rel_quarter") < 0) & pl.col("std_error").is_not_null()
    ).with_columns(pl.col("estimate").abs().alias("_abs"))
    if leads.height == 0:
        raise ParameterError("decision: the event study has no lead")
    top = leads.sort("_abs", descending=True).row(0, named=True)
    fails_pretrend = bool(pretrend["p_value"] < diagnostic_alpha)
    fails_placebo = bool(placebo["p_value"] < diagnostic_alpha)
    fails_lead = bool(main["p_value"] < alpha and top["_abs"] >= abs(main["estimate"]))
    doubtful = fails_pretrend or fails_placebo or fails_lead
    return {
        "treatment": main["treatment"],
        "exposure": main["exposure"],
        "is_headline": is_headline,
        "estimate": main["estimate"],
        "std_error": main["std_error"],
        "p_value": main["p_value"],
        "pretrend_statistic": pretrend["statistic"],
        "pretrend_distribution": pretrend["distribution"],
        "pretrend_p_value": pretrend["p_value"],
        "placebo_period": placebo["post_start"],
        "placebo_estimate": placebo["estimate"],
        "placebo_p_value": placebo["p_value"],
        "max_abs_lead": top["_abs"],
        "max_lead_rel_quarter": top["rel_quarter"],
        "fails_pretrend": fails_pretrend,
        "fails_placebo": fails_placebo,
        "fails_lead_size": fails_lead,
        "parallel_trends_doubtful": doubtful,
        "decision": DECISION_DOUBTFUL if doubtful else DECISION_CAUSAL,
        "diagnostic_alpha": diagnostic_alpha,
        "rule": DECISION_RULE.format(a=diagnostic_alpha, b=alpha),
    }


def apply_decision(frame: pl.DataFrame, decision: pl.DataFrame) -> pl.DataFrame:
    """Relabel ``kind`` of causal rows whose (treatment, exposure) is judged doubtful."""
    if frame.height == 0 or "kind" not in frame.columns:
        return frame
    doubtful = decision.filter(pl.col("parallel_trends_doubtful")).select(
        "treatment", "exposure", pl.lit(True).alias("_doubtful")
    )
    return (
        frame.with_row_index("_i")
        .join(doubtful, on=["treatment", "exposure"], how="left")
        .with_columns(
            pl.when(pl.col("_doubtful").fill_null(False) & pl.col("kind").str.starts_with("causal"))
            .then(pl.lit(did.KIND_DOUBTFUL))
            .otherwise(pl.col("kind"))
            .alias("kind")
        )
        .sort("_i")
        .drop("_i", "_doubtful")
    )


# ---------------------------------------------------------------------------- planted effects


def planted_effect_from_manifest(planted_unemployment: Mapping[str, Any]) -> pl.DataFrame:
    """Zone × quarter planted effect of the demo (``planted_effects.unemployment``).

    ``effect = zone_intensity[zone] × event_time_effect_per_unit_intensity[period]`` (0 before
    the label). Columns ``ze2020_code, period, planted_effect_pp``.
    """
    try:
        zones = planted_unemployment["zone_intensity"]
        path = planted_unemployment["event_time_effect_per_unit_intensity"]
    except KeyError as exc:
        raise ParameterError(f"planted effect manifest lacks {exc}") from exc
    periods = sorted(path)
    return pl.DataFrame(
        {
            "ze2020_code": [z for z in zones for _ in periods],
            "period": [p for _ in zones for p in periods],
            "planted_effect_pp": [float(zones[z]) * float(path[p]) for z in zones for p in periods],
        },
        schema={"ze2020_code": pl.String, "period": pl.String, "planted_effect_pp": pl.Float64},
    )


def validation_frame(blocks: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Estimates next to their planted targets (frames with a ``planted_target`` column)."""
    rows = []
    for block, frame in blocks.items():
        if "planted_target" not in frame.columns:
            continue
        for r in frame.filter(pl.col("std_error").is_not_null()).iter_rows(named=True):
            diff = r["estimate"] - r["planted_target"]
            z = diff / r["std_error"] if r["std_error"] else None
            rows.append(
                {
                    "block": block,
                    **{k: r.get(k) for k in ("treatment", "exposure", "spec", "term", "sample")},
                    **{k: r.get(k) for k in ("window_start", "window_end", "post_start")},
                    "estimate": r["estimate"],
                    "std_error": r["std_error"],
                    "planted_target": r["planted_target"],
                    "difference": diff,
                    "z_score": z,
                    "target_in_ci": bool(r["ci_low"] <= r["planted_target"] <= r["ci_high"]),
                }
            )
    return pl.DataFrame(rows, schema=VALIDATION_SCHEMA, orient="row")
