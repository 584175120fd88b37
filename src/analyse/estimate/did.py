"""Counterfactual for the Territoires d'industrie label: difference-in-differences and event study.

Unit: zone d'emploi 2020 (ZE); outcome: INSEE quarterly localised unemployment rate
(``unemployment_rate_pct``, percentage points). Treatment: the 22 Nov 2018 label of the phase-1
territories, measured per zone as the share of its communes inside a phase-1 TI
(``treatment_intensity``) or as ``treated = intensity >= threshold``. All phase-1 territories are
dated at the label quarter (``2018-T4``): the sources record no per-territory entry date (124
territories in 2018, 149 by 2022), so later entrants are mis-timed, which biases toward zero.

Estimator: two-way fixed effects (zone and quarter absorbed by the within transformation, see
:mod:`analyse.estimate.panel`) with standard errors clustered by zone. With a single adoption date
the TWFE DiD is the canonical 2×2 comparison (no staggered-timing negative-weight problem).

What is causal and under which assumptions (repeated in every output row):

* DiD coefficients and event-study lags are **causal under assumptions**: parallel trends of
  unemployment between more- and less-treated zones absent the label; no anticipation before
  2018-T4; SUTVA (no spillovers across zones — neighbouring zones share labour markets, so this
  is strong); treatment timing at the 22 Nov 2018 label; for the intensity version, the "strong
  parallel trends" assumption across doses (Callaway, Goodman-Bacon & Sant'Anna,
  *Difference-in-differences with a continuous treatment*) for a dose-response reading. From
  2020 the France Relance acceleration fund targeted the same territories, so post-2020 effects
  mix the label with the fund and with COVID-19.
* Event-study leads, the pre-trend Wald test and the placebo date are **diagnostics**: they can
  reveal violations of parallel trends, never prove it.
* Zone treatment shares, typology shares and matching balance are **descriptive**.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import statsmodels.api as sm

from analyse.errors import ParameterError
from analyse.estimate.models import TIDY_SCHEMA, make_tidy_frame
from analyse.estimate.panel import FeDf, WithinFit, fit_within_ols
from analyse.reference import LABEL_PERIOD

Treatment = Literal["intensity", "binary"]
Covid = Literal["none", "exclude", "control"]

#: First quarter of the default estimation window: about 5 years before the label, and the first
#: quarter INSEE publishes for the overseas zones (so the default window is a balanced panel).
DEFAULT_START = "2014-T1"
#: Last quarter before COVID-19: end of the main (pre-COVID) DiD window.
PRE_COVID_END = "2019-T4"
#: Quarters flagged as COVID-19 (lockdowns, short-time work, then the rebound).
COVID_START = "2020-T1"
COVID_END = "2021-T4"
#: Default placebo label date (three years before the real label; pre-period data only).
PLACEBO_PERIOD = "2015-T4"

OUTCOME = "unemployment_rate_pct"

KIND_CAUSAL = (
    "causal under assumptions (parallel trends, no anticipation, no spillovers across zones, "
    "label timing 2018-T4)"
)
KIND_DIAGNOSTIC = "diagnostic (expected ~0 under parallel trends and no anticipation)"
KIND_DESCRIPTIVE = "descriptive association"
KIND_REFERENCE = "reference period (normalised to 0)"

ASSUMPTIONS_DID = (
    "Parallel trends: absent the label, unemployment in zones more covered by phase-1 Territoires "
    "d'industrie would have evolved like in other zones. No anticipation before 2018-T4. SUTVA: "
    "no spillovers across zones d'emploi (strong: neighbouring zones share labour markets). All "
    "phase-1 territories dated at the 22 Nov 2018 label (no per-territory entry dates; later "
    "entrants bias toward zero). Zone and quarter fixed effects; standard errors clustered by "
    "zone (CRV1, t with G-1 df)."
)
ASSUMPTIONS_INTENSITY = (
    " Intensity = share of the zone's communes in a phase-1 TI (commune counts, not population); "
    "coefficient = effect of going from 0% to 100% coverage, which needs parallel trends across "
    "doses (stronger than the binary case)."
)
ASSUMPTIONS_BINARY = " Binary: treated = coverage share >= threshold; coarsens the exposure."
ASSUMPTIONS_MATCHED = (
    " Matched sample: treated zones and their nearest control zones on the ANCT typologies "
    "(densité, centralité, ruralité shares), controls weighted by use; parallel trends needed "
    "only conditionally on the typologies. Matching uncertainty is not propagated to the SE."
)
ASSUMPTIONS_PLACEBO = (
    "Placebo: a fake label date on pre-label data only; a non-zero estimate signals diverging "
    "pre-trends (a diagnostic, not an effect)."
)
ASSUMPTIONS_COVID = (
    "Treatment × COVID-quarter (2020-T1..2021-T4) interaction: differential shift of treated "
    "zones during COVID-19, descriptive (COVID shock and France Relance cannot be separated)."
)
ASSUMPTIONS_PRETREND = (
    "Joint Wald test that every event-study lead is 0 (cluster-robust, F with G-1 denominator "
    "df). Not rejecting does not prove parallel trends (low power against smooth trends)."
)

_PERIOD = re.compile(r"^(\d{4})-T([1-4])$")


# ---------------------------------------------------------------------------- periods


def parse_period(period: str) -> int:
    """``"2018-T4"`` -> quarter index ``year * 4 + quarter - 1`` (as in ``labour_panel``)."""
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None:
        raise ParameterError(f"period must look like '2018-T4', got {period!r}")
    return int(match.group(1)) * 4 + int(match.group(2)) - 1


def format_period(quarter_index: int) -> str:
    """Quarter index -> ``"2018-T4"``."""
    return f"{quarter_index // 4}-T{quarter_index % 4 + 1}"


# ---------------------------------------------------------------------------- treatment


def compute_zone_treatment(
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    phase: int = 1,
    threshold: float = 0.5,
    weights: str | None = None,
) -> pl.DataFrame:
    """Exposure of each zone d'emploi to the Territoires d'industrie of ``phase``.

    Columns: ``ze2020_code, n_communes, n_communes_ti, treatment_intensity, treated, ti_phase``.
    ``treatment_intensity`` is the share of the zone's communes that belong to a TI of ``phase``
    (or, with ``weights`` naming a column of ``communes``, the weighted share). Our sources carry
    no commune population, so the default is an unweighted commune share: a zone whose rural
    communes are in a TI but whose main town is not may look more exposed than its workforce is.

    ``treated = treatment_intensity >= threshold``. The default 0.5 ("most of the zone's communes
    are in a TI") is a convention; the intensity DiD avoids choosing it, and
    :func:`run_label_counterfactual` reports both.
    """
    if not 0.0 < threshold <= 1.0:
        raise ParameterError(f"threshold must be in (0, 1], got {threshold}")
    needed = ["commune_insee", "ze2020_code"] + ([weights] if weights else [])
    missing = [c for c in needed if c not in communes.columns]
    missing += [
        f"commune_territories.{c}"
        for c in ("commune_insee", "ti_phase")
        if c not in commune_territories.columns
    ]
    if missing:
        raise ParameterError(f"compute_zone_treatment: missing columns {missing}")
    in_ti = (
        commune_territories.filter(pl.col("ti_phase") == phase)
        .select("commune_insee")
        .unique()
        .with_columns(pl.lit(True).alias("_in_ti"))
    )
    base = (
        communes.filter(pl.col("ze2020_code").is_not_null()).select(needed).unique("commune_insee")
    )
    w = pl.col(weights).cast(pl.Float64) if weights else pl.lit(1.0)
    if weights and base[weights].null_count():
        raise ParameterError(f"weights column {weights!r} has nulls")
    return (
        base.join(in_ti, on="commune_insee", how="left")
        .with_columns(pl.col("_in_ti").fill_null(False), w.alias("_w"))
        .group_by("ze2020_code")
        .agg(
            pl.len().cast(pl.Int32).alias("n_communes"),
            pl.col("_in_ti").sum().cast(pl.Int32).alias("n_communes_ti"),
            ((pl.col("_w") * pl.col("_in_ti")).sum() / pl.col("_w").sum()).alias(
                "treatment_intensity"
            ),
        )
        .with_columns(
            (pl.col("treatment_intensity") >= threshold).alias("treated"),
            pl.lit(phase, dtype=pl.Int8).alias("ti_phase"),
        )
        .sort("ze2020_code")
    )


def build_did_panel(
    labour_panel: pl.DataFrame,
    zone_treatment: pl.DataFrame,
    *,
    covid_start: str = COVID_START,
    covid_end: str = COVID_END,
) -> pl.DataFrame:
    """Zone × quarter panel for the DiD: the labour panel joined to the zones' treatment.

    Columns: ``ze2020_code, region_code, period, quarter_index, unemployment_rate_pct,
    treatment_intensity, treated, is_covid_quarter`` (+ ``is_synthetic`` when present). Raises
    :class:`ParameterError` when a zone of the panel has no treatment row (a broken join must not
    silently shrink the sample). Rows with a null rate are kept; estimators drop them.
    """
    needed = ["ze2020_code", "region_code", "period", "quarter_index", OUTCOME]
    missing = [c for c in needed if c not in labour_panel.columns]
    if missing:
        raise ParameterError(f"labour_panel: missing columns {missing}")
    extra = ["is_synthetic"] if "is_synthetic" in labour_panel.columns else []
    treat = zone_treatment.select("ze2020_code", "treatment_intensity", "treated")
    if treat["ze2020_code"].is_duplicated().any():
        raise ParameterError("zone_treatment has duplicated ze2020_code")
    lo, hi = parse_period(covid_start), parse_period(covid_end)
    panel = labour_panel.select(*needed, *extra).join(treat, on="ze2020_code", how="left")
    orphans = panel.filter(pl.col("treatment_intensity").is_null())["ze2020_code"].unique().sort()
    if orphans.len():
        raise ParameterError(
            f"{orphans.len()} zones of labour_panel have no treatment row "
            f"(e.g. {orphans.head(10).to_list()}): check communes.ze2020_code"
        )
    return panel.with_columns(
        pl.col("quarter_index").is_between(lo, hi).alias("is_covid_quarter")
    ).sort("ze2020_code", "quarter_index")


# ---------------------------------------------------------------------------- estimation core


def _select_sample(
    panel: pl.DataFrame,
    *,
    start: str | None,
    end: str | None,
    covid: Covid,
    outcome: str,
    zone_weights: pl.DataFrame | None,
) -> tuple[pl.DataFrame, str]:
    if covid not in ("none", "exclude", "control"):
        raise ParameterError(f"covid must be 'none', 'exclude' or 'control', got {covid!r}")
    df = panel.filter(pl.col(outcome).is_not_null() & pl.col(outcome).is_finite())
    if start is not None:
        df = df.filter(pl.col("quarter_index") >= parse_period(start))
    if end is not None:
        df = df.filter(pl.col("quarter_index") <= parse_period(end))
    if covid == "exclude":
        df = df.filter(~pl.col("is_covid_quarter"))
    if zone_weights is not None:
        df = df.join(
            zone_weights.select("ze2020_code", "match_weight").filter(pl.col("match_weight") > 0),
            on="ze2020_code",
            how="inner",
        )
    if df.height == 0:
        raise ParameterError("empty estimation sample (check start/end and the panel)")
    first = format_period(int(df["quarter_index"].min()))
    last = format_period(int(df["quarter_index"].max()))
    label = f"{first}..{last}"
    if covid == "exclude":
        label += ", COVID quarters excluded"
    elif covid == "control":
        label += ", treatment x COVID control"
    if zone_weights is not None:
        label += ", matched sample"
    return df, label


def _dose(df: pl.DataFrame, treatment: Treatment) -> np.ndarray:
    if treatment == "intensity":
        return df["treatment_intensity"].cast(pl.Float64).to_numpy()
    if treatment == "binary":
        return df["treated"].cast(pl.Float64).to_numpy()
    raise ParameterError(f"treatment must be 'intensity' or 'binary', got {treatment!r}")


def _dense_codes(values: pl.Series) -> np.ndarray:
    """Integer codes 0..n-1 in sorted order (polars: much faster than numpy on strings)."""
    return values.rank("dense").cast(pl.Int64).to_numpy() - 1


def _fit(
    df: pl.DataFrame,
    x: np.ndarray,
    terms: Sequence[str],
    *,
    outcome: str,
    fe_df: FeDf,
    weighted: bool,
) -> WithinFit:
    zone = _dense_codes(df["ze2020_code"])
    quarter = _dense_codes(df["quarter_index"])
    return fit_within_ols(
        df[outcome].to_numpy(),
        x,
        codes_a=zone,
        codes_b=quarter,
        clusters=zone,
        terms=terms,
        weights=df["match_weight"].to_numpy() if weighted else None,
        fe_df=fe_df,
    )


def _tidy_rows(fit: WithinFit, alpha: float, model: str, kinds: dict[str, tuple[str, str]]):
    ci = fit.conf_int(alpha)
    pv = fit.p_values()
    se = fit.std_errors
    rows = []
    for i, term in enumerate(fit.terms):
        kind, assumptions = kinds[term]
        rows.append(
            {
                "term": term,
                "estimate": float(fit.params[i]),
                "std_error": float(se[i]),
                "ci_low": float(ci[i, 0]),
                "ci_high": float(ci[i, 1]),
                "p_value": float(pv[i]),
                "n_obs": fit.n_obs,
                "n_clusters": fit.n_clusters,
                "model": model,
                "kind": kind,
                "assumptions": assumptions,
            }
        )
    return rows


def _with_labels(frame: pl.DataFrame, treatment: str, sample: str) -> pl.DataFrame:
    return frame.select(
        pl.lit(treatment).alias("treatment"), pl.lit(sample).alias("sample"), pl.all()
    )


def _assumptions(treatment: Treatment, matched: bool) -> str:
    text = ASSUMPTIONS_DID + (
        ASSUMPTIONS_INTENSITY if treatment == "intensity" else ASSUMPTIONS_BINARY
    )
    return text + (ASSUMPTIONS_MATCHED if matched else "")


def estimate_did(
    panel: pl.DataFrame,
    *,
    treatment: Treatment = "intensity",
    start: str | None = DEFAULT_START,
    end: str | None = PRE_COVID_END,
    event_period: str = LABEL_PERIOD,
    covid: Covid = "none",
    zone_weights: pl.DataFrame | None = None,
    outcome: str = OUTCOME,
    fe_df: FeDf = "nested",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Two-way FE difference-in-differences ``y_it = a_i + g_t + b·D_i·post_t (+ c·D_i·covid_t)``.

    ``D_i`` is the zone's ``treatment_intensity`` or ``treated`` (``treatment``); ``post_t`` is
    ``quarter >= event_period``. ``covid``: ``"none"`` (keep COVID quarters, no control),
    ``"exclude"`` (drop 2020-T1..2021-T4) or ``"control"`` (add ``D_i × is_covid_quarter``, so
    ``b`` is the post-label effect outside COVID quarters). ``zone_weights`` (``ze2020_code,
    match_weight``, e.g. from :func:`compute_match_weights`) restricts and weights the sample.

    Returns ``treatment, sample`` + :data:`TIDY_SCHEMA` columns; term ``{treatment}_x_post`` is
    the ATT-type coefficient (percentage points of unemployment), causal under the assumptions
    in its ``assumptions`` column.
    """
    df, sample = _select_sample(
        panel, start=start, end=end, covid=covid, outcome=outcome, zone_weights=zone_weights
    )
    event = parse_period(event_period)
    qi = df["quarter_index"].to_numpy()
    if not (qi.min() < event <= qi.max()):
        raise ParameterError(
            f"event_period {event_period} must fall after the first and no later than the last "
            f"quarter of the sample ({sample})"
        )
    dose = _dose(df, treatment)
    terms = [f"{treatment}_x_post"]
    columns = [dose * (qi >= event)]
    assumptions = _assumptions(treatment, zone_weights is not None)
    kinds = {terms[0]: (KIND_CAUSAL, assumptions)}
    if covid == "control":
        terms.append(f"{treatment}_x_covid")
        columns.append(dose * df["is_covid_quarter"].cast(pl.Float64).to_numpy())
        kinds[terms[1]] = (KIND_DESCRIPTIVE, ASSUMPTIONS_COVID)
    fit = _fit(
        df,
        np.column_stack(columns),
        terms,
        outcome=outcome,
        fe_df=fe_df,
        weighted=zone_weights is not None,
    )
    model = f"twfe did {outcome} ~ {treatment} x post({event_period}) | zone + quarter"
    sample = f"{sample}, event {event_period}"
    return _with_labels(make_tidy_frame(_tidy_rows(fit, alpha, model, kinds)), treatment, sample)


def estimate_placebo_did(
    panel: pl.DataFrame,
    *,
    placebo_period: str = PLACEBO_PERIOD,
    treatment: Treatment = "intensity",
    start: str | None = DEFAULT_START,
    end: str | None = None,
    outcome: str = OUTCOME,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """DiD at a fake label date on pre-label data only (``end`` defaults to the quarter before
    the real label). A diagnostic: expected ~0 under parallel trends."""
    last_pre = format_period(parse_period(LABEL_PERIOD) - 1)
    end = last_pre if end is None else end
    if parse_period(end) > parse_period(last_pre):
        raise ParameterError(f"a placebo must end before the label: end {end} > {last_pre}")
    out = estimate_did(
        panel,
        treatment=treatment,
        start=start,
        end=end,
        event_period=placebo_period,
        outcome=outcome,
        alpha=alpha,
    )
    return out.with_columns(
        pl.lit(KIND_DIAGNOSTIC).alias("kind"),
        pl.lit(ASSUMPTIONS_PLACEBO).alias("assumptions"),
        pl.col("model").str.replace("twfe did", "placebo twfe did"),
    )


# ---------------------------------------------------------------------------- event study


@dataclass(frozen=True)
class EventStudyFit:
    """An event-study fit: the tidy coefficients plus what a joint test needs."""

    coefficients: pl.DataFrame
    fit: WithinFit
    lead_terms: tuple[str, ...]
    treatment: str
    sample: str
    options: dict[str, object] = field(default_factory=dict)


def _event_term(k: int) -> str:
    return f"rel_{k:+d}"


def fit_event_study(
    panel: pl.DataFrame,
    *,
    treatment: Treatment = "intensity",
    leads: int = 8,
    lags: int = 12,
    reference: int = -1,
    bin_endpoints: bool = True,
    start: str | None = DEFAULT_START,
    end: str | None = None,
    event_period: str = LABEL_PERIOD,
    covid: Literal["none", "exclude"] = "none",
    zone_weights: pl.DataFrame | None = None,
    outcome: str = OUTCOME,
    fe_df: FeDf = "nested",
    alpha: float = 0.05,
) -> EventStudyFit:
    """Event study ``y_it = a_i + g_t + sum_k b_k·D_i·1{t - event = k} + e_it``, ``k != reference``.

    Relative quarter ``k = quarter_index - event``; ``k = 0`` is the label quarter. With
    ``bin_endpoints`` (default) quarters before ``-leads`` are pooled into ``k = -leads`` and
    quarters after ``lags`` into ``k = lags`` (the endpoint coefficients are averages over their
    bins, flagged ``is_binned``); otherwise quarters outside ``[-leads, lags]`` are dropped.
    ``covid="control"`` is not offered: with one adoption date it is collinear with the lags.
    """
    if covid not in ("none", "exclude"):
        raise ParameterError("event study: covid must be 'none' or 'exclude'")
    if leads < 1 or lags < 0 or not (-leads <= reference < 0):
        raise ParameterError(
            f"need leads >= 1, lags >= 0 and -leads <= reference < 0 (got {leads}, {lags}, "
            f"{reference})"
        )
    df, sample = _select_sample(
        panel, start=start, end=end, covid=covid, outcome=outcome, zone_weights=zone_weights
    )
    event = parse_period(event_period)
    rel = df["quarter_index"].to_numpy() - event
    if bin_endpoints:
        binned = np.clip(rel, -leads, lags)
    else:
        keep = (rel >= -leads) & (rel <= lags)
        df, rel = df.filter(pl.Series(keep)), rel[keep]
        binned = rel
    present = sorted(set(binned.tolist()))
    if reference not in present:
        raise ParameterError(f"reference quarter {reference} is not in the sample ({sample})")
    ks = [k for k in present if k != reference]
    if not ks:
        raise ParameterError("no event-time period besides the reference")
    dose = _dose(df, treatment)
    x = np.column_stack([dose * (binned == k) for k in ks])
    terms = [_event_term(k) for k in ks]
    assumptions = _assumptions(treatment, zone_weights is not None)
    kinds = {
        _event_term(k): (KIND_DIAGNOSTIC, ASSUMPTIONS_DID) if k < 0 else (KIND_CAUSAL, assumptions)
        for k in ks
    }
    fit = _fit(df, x, terms, outcome=outcome, fe_df=fe_df, weighted=zone_weights is not None)
    model = (
        f"twfe event study {outcome} ~ {treatment} x rel. quarter (ref {reference}) "
        f"| zone + quarter"
    )
    sample = f"{sample}, event {event_period}"
    tidy = make_tidy_frame(_tidy_rows(fit, alpha, model, kinds))
    ref_row = make_tidy_frame(
        [
            {
                "term": _event_term(reference),
                "estimate": 0.0,
                "n_obs": fit.n_obs,
                "n_clusters": fit.n_clusters,
                "model": model,
                "kind": KIND_REFERENCE,
                "assumptions": ASSUMPTIONS_DID,
            }
        ]
    )
    ks_all = [*ks, reference]
    lo, hi = min(present), max(present)
    coefficients = (
        pl.concat([tidy, ref_row])
        .with_columns(
            pl.Series("rel_quarter", ks_all, dtype=pl.Int32),
            pl.Series(
                "is_binned",
                [
                    bin_endpoints and ((k == lo and k == -leads) or (k == hi and k == lags))
                    for k in ks_all
                ],
                dtype=pl.Boolean,
            ),
        )
        .select("rel_quarter", "is_binned", *TIDY_SCHEMA)
        .sort("rel_quarter")
    )
    return EventStudyFit(
        coefficients=_with_labels(coefficients, treatment, sample),
        fit=fit,
        lead_terms=tuple(_event_term(k) for k in ks if k < 0),
        treatment=treatment,
        sample=sample,
        options={
            "leads": leads,
            "lags": lags,
            "reference": reference,
            "bin_endpoints": bin_endpoints,
            "event_period": event_period,
        },
    )


def estimate_event_study(
    panel: pl.DataFrame,
    *,
    treatment: Treatment = "intensity",
    leads: int = 8,
    lags: int = 12,
    reference: int = -1,
    bin_endpoints: bool = True,
    start: str | None = DEFAULT_START,
    end: str | None = None,
    event_period: str = LABEL_PERIOD,
    covid: Literal["none", "exclude"] = "none",
    zone_weights: pl.DataFrame | None = None,
    outcome: str = OUTCOME,
    fe_df: FeDf = "nested",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Tidy event-study coefficients (options as in :func:`fit_event_study`).

    Columns ``treatment, sample, rel_quarter, is_binned`` + :data:`TIDY_SCHEMA`; the reference
    quarter is a row with estimate 0 and null standard error. Use :func:`fit_event_study` when the
    joint pre-trend test is needed too (:func:`compute_pretrend_test`).
    """
    return fit_event_study(
        panel,
        treatment=treatment,
        leads=leads,
        lags=lags,
        reference=reference,
        bin_endpoints=bin_endpoints,
        start=start,
        end=end,
        event_period=event_period,
        covid=covid,
        zone_weights=zone_weights,
        outcome=outcome,
        fe_df=fe_df,
        alpha=alpha,
    ).coefficients


PRETREND_SCHEMA: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "sample": pl.String,
    "test": pl.String,
    "statistic": pl.Float64,
    "df_num": pl.Int64,
    "df_den": pl.Int64,
    "p_value": pl.Float64,
    "distribution": pl.String,
    "n_obs": pl.Int64,
    "n_clusters": pl.Int64,
    "model": pl.String,
    "kind": pl.String,
    "assumptions": pl.String,
}


def compute_pretrend_test(
    event_study: EventStudyFit | pl.DataFrame, *, use_f: bool = True, **options: object
) -> pl.DataFrame:
    """Joint Wald test that all event-study leads are 0 (one row, :data:`PRETREND_SCHEMA`).

    ``event_study`` is an :class:`EventStudyFit` or a DiD panel (then fitted with ``options``, see
    :func:`fit_event_study`). ``use_f``: ``F = W / q`` against ``F(q, G - 1)``; otherwise ``W``
    against ``chi2(q)``. A diagnostic: rejection signals pre-trends or anticipation.
    """
    es = (
        event_study
        if isinstance(event_study, EventStudyFit)
        else fit_event_study(event_study, **options)  # type: ignore[arg-type]
    )
    if not es.lead_terms:
        raise ParameterError("no lead coefficient to test (leads reduced to the reference)")
    idx = [es.fit.terms.index(t) for t in es.lead_terms]
    r = np.zeros((len(idx), len(es.fit.terms)))
    r[np.arange(len(idx)), idx] = 1.0
    stat, df_num, df_den, p = es.fit.wald_test(r, use_f=use_f)
    row = {
        "treatment": es.treatment,
        "sample": es.sample,
        "test": "all leads = 0",
        "statistic": stat,
        "df_num": df_num,
        "df_den": df_den,
        "p_value": p,
        "distribution": f"F({df_num}, {df_den})" if use_f else f"chi2({df_num})",
        "n_obs": es.fit.n_obs,
        "n_clusters": es.fit.n_clusters,
        "model": es.coefficients["model"][0],
        "kind": KIND_DIAGNOSTIC,
        "assumptions": ASSUMPTIONS_PRETREND,
    }
    return pl.DataFrame([row], schema=PRETREND_SCHEMA, orient="row")


# ---------------------------------------------------------------------------- matching


def compute_zone_typology_shares(
    communes: pl.DataFrame,
    commune_typologies: pl.DataFrame,
    *,
    typologies: Sequence[str] = ("densite_level", "centralite_level", "ruralite_level"),
) -> pl.DataFrame:
    """Share of each zone's communes in every level of the ANCT typologies (descriptive).

    One column ``"{typology}={level}"`` per level; shares are over the zone's communes that have
    a typology row (``n_communes_typed``). Communes absent from ``commune_typologies`` (COG
    vintage differences) are left out; a null level counts as its own level ``"(missing)"``.
    """
    typed = communes.select("commune_insee", "ze2020_code").join(
        commune_typologies.select("commune_insee", *typologies).unique("commune_insee"),
        on="commune_insee",
        how="inner",
    )
    if typed.height == 0:
        raise ParameterError("no commune of `communes` has a typology row")
    out = typed.group_by("ze2020_code").agg(pl.len().cast(pl.Int32).alias("n_communes_typed"))
    for typ in typologies:
        counts = (
            typed.with_columns(
                pl.col(typ)
                .cast(pl.String)
                .str.replace_all(r"\s+", " ")
                .str.strip_chars()
                .fill_null("(missing)")
                .alias("_level")
            )
            .group_by("ze2020_code", "_level")
            .agg(pl.len().alias("_n"))
            .with_columns(pl.format("{}={}", pl.lit(typ), pl.col("_level")).alias("_col"))
            .pivot("_col", index="ze2020_code", values="_n")
            .fill_null(0)
        )
        out = out.join(counts, on="ze2020_code", how="left")
    share_cols = [c for c in out.columns if "=" in c]
    return (
        out.with_columns(
            (pl.col(c).cast(pl.Float64) / pl.col("n_communes_typed")).alias(c) for c in share_cols
        )
        .select("ze2020_code", "n_communes_typed", *sorted(share_cols))
        .sort("ze2020_code")
    )


def _covariates(shares: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Share columns minus the most common level of each typology (shares sum to 1)."""
    cols = [c for c in shares.columns if "=" in c]
    keep: list[str] = []
    for typ in sorted({c.split("=", 1)[0] for c in cols}):
        group = [c for c in cols if c.split("=", 1)[0] == typ]
        ref = max(group, key=lambda c: float(shares[c].sum()))
        keep += [c for c in group if c != ref]
    x = shares.select(keep).to_numpy().astype(float)
    varying = x.std(axis=0) > 0
    return x[:, varying], [c for c, v in zip(keep, varying, strict=True) if v]


def match_zones_on_typologies(
    zone_treatment: pl.DataFrame,
    communes: pl.DataFrame,
    commune_typologies: pl.DataFrame,
    *,
    method: Literal["mahalanobis", "propensity"] = "mahalanobis",
    n_neighbors: int = 1,
    caliper: float | None = None,
    zones: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Nearest-neighbour matching (with replacement) of treated to control zones on typologies.

    Covariates: zone shares of the densité, centralité and ruralité levels
    (:func:`compute_zone_typology_shares`, one level per typology dropped). ``method``:
    ``"mahalanobis"`` (pooled covariance, pseudo-inverse) or ``"propensity"`` (statsmodels Logit of
    ``treated`` on the shares, matching on the linear predictor). ``caliper``: maximum distance
    (Mahalanobis units, or SDs of the linear predictor); treated zones without a control inside
    it are left unmatched. ``zones`` restricts both groups (e.g. to the zones of the labour panel).

    Returns one row per pair: ``treated_ze2020_code, control_ze2020_code, neighbor_rank,
    distance``. Feed it to :func:`compute_match_weights` for the matched DiD.
    """
    if n_neighbors < 1:
        raise ParameterError("n_neighbors must be >= 1")
    shares = compute_zone_typology_shares(communes, commune_typologies)
    df = zone_treatment.select("ze2020_code", "treated").join(shares, on="ze2020_code", how="inner")
    if zones is not None:
        df = df.filter(pl.col("ze2020_code").is_in(list(zones)))
    df = df.sort("ze2020_code")
    treated = df["treated"].to_numpy().astype(bool)
    if treated.sum() == 0 or (~treated).sum() < n_neighbors:
        raise ParameterError(
            f"matching needs treated zones and >= {n_neighbors} controls "
            f"({treated.sum()} treated, {(~treated).sum()} controls)"
        )
    x, _ = _covariates(df)
    if method == "mahalanobis":
        vi = np.linalg.pinv(np.cov(x, rowvar=False))
        diff = x[treated][:, None, :] - x[~treated][None, :, :]
        dist = np.sqrt(np.maximum(np.einsum("ijk,kl,ijl->ij", diff, vi, diff), 0.0))
    elif method == "propensity":
        design = sm.add_constant((x - x.mean(axis=0)) / x.std(axis=0))
        try:
            res = sm.Logit(treated.astype(float), design).fit(disp=0, method="bfgs", maxiter=2000)
        except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - data dependent
            raise ParameterError(
                f"propensity Logit failed ({exc}); use method='mahalanobis'"
            ) from exc
        lp = design @ np.asarray(res.params)
        lp = lp / lp.std()
        dist = np.abs(lp[treated][:, None] - lp[~treated][None, :])
    else:
        raise ParameterError(f"method must be 'mahalanobis' or 'propensity', got {method!r}")
    codes = df["ze2020_code"].to_numpy()
    t_codes, c_codes = codes[treated], codes[~treated]
    order = np.argsort(dist, axis=1, kind="stable")[:, :n_neighbors]
    rows = []
    for i, t_code in enumerate(t_codes):
        for rank, j in enumerate(order[i], start=1):
            d = float(dist[i, j])
            if caliper is None or d <= caliper:
                rows.append((str(t_code), str(c_codes[j]), rank, d))
    return pl.DataFrame(
        rows,
        schema={
            "treated_ze2020_code": pl.String,
            "control_ze2020_code": pl.String,
            "neighbor_rank": pl.Int32,
            "distance": pl.Float64,
        },
        orient="row",
    )


def compute_match_weights(pairs: pl.DataFrame) -> pl.DataFrame:
    """Zone weights of a matched sample: 1 per matched treated zone, ``uses / n_neighbors`` per
    control (ATT weighting). Columns ``ze2020_code, match_weight``."""
    per_treated = pairs.group_by("treated_ze2020_code").agg(pl.len().alias("_k"))
    controls = (
        pairs.join(per_treated, on="treated_ze2020_code")
        .group_by("control_ze2020_code")
        .agg((1.0 / pl.col("_k")).sum().alias("match_weight"))
        .rename({"control_ze2020_code": "ze2020_code"})
    )
    treated = per_treated.select(
        pl.col("treated_ze2020_code").alias("ze2020_code"), pl.lit(1.0).alias("match_weight")
    )
    return pl.concat([treated, controls]).sort("ze2020_code")


def compute_match_balance(
    zone_treatment: pl.DataFrame,
    communes: pl.DataFrame,
    commune_typologies: pl.DataFrame,
    pairs: pl.DataFrame,
    *,
    zones: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Covariate balance before/after matching (descriptive): means and standardised differences.

    Columns ``covariate, mean_treated, mean_control, mean_control_matched, smd_before,
    smd_after`` (SMD = difference / sqrt of the mean of the two groups' variances before
    matching).
    """
    shares = compute_zone_typology_shares(communes, commune_typologies)
    df = zone_treatment.select("ze2020_code", "treated").join(shares, on="ze2020_code", how="inner")
    if zones is not None:
        df = df.filter(pl.col("ze2020_code").is_in(list(zones)))
    weights = compute_match_weights(pairs)
    df = df.join(weights, on="ze2020_code", how="left").with_columns(
        pl.col("match_weight").fill_null(0.0)
    )
    t = df.filter(pl.col("treated"))
    c = df.filter(~pl.col("treated"))
    tm = t.filter(pl.col("match_weight") > 0)
    cm = c.filter(pl.col("match_weight") > 0)
    rows = []
    for cov in (col for col in shares.columns if "=" in col):
        sd = float(np.sqrt((t[cov].var() + c[cov].var()) / 2.0)) or np.nan
        mt, mc = float(t[cov].mean()), float(c[cov].mean())
        mtm = float(tm[cov].mean()) if tm.height else np.nan
        w = cm["match_weight"].to_numpy()
        mcm = float(np.average(cm[cov].to_numpy(), weights=w)) if cm.height else np.nan
        rows.append((cov, mt, mc, mcm, (mt - mc) / sd, (mtm - mcm) / sd))
    return pl.DataFrame(
        rows,
        schema={
            "covariate": pl.String,
            "mean_treated": pl.Float64,
            "mean_control": pl.Float64,
            "mean_control_matched": pl.Float64,
            "smd_before": pl.Float64,
            "smd_after": pl.Float64,
        },
        orient="row",
    )


# ---------------------------------------------------------------------------- bundle


def run_label_counterfactual(
    labour_panel: pl.DataFrame,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    commune_typologies: pl.DataFrame,
    *,
    phase: int = 1,
    threshold: float = 0.5,
    event_period: str = LABEL_PERIOD,
    start: str = DEFAULT_START,
    pre_covid_end: str = PRE_COVID_END,
    placebo_period: str = PLACEBO_PERIOD,
    leads: int = 8,
    lags: int = 12,
    matching_method: Literal["mahalanobis", "propensity"] = "mahalanobis",
    n_neighbors: int = 1,
    alpha: float = 0.05,
) -> dict[str, pl.DataFrame]:
    """Every estimate of the label's counterfactual, as tidy frames (keys below).

    * ``zone_treatment`` — exposure per zone (descriptive).
    * ``did`` — main DiD, intensity and binary, ``start..pre_covid_end`` (causal under
      assumptions).
    * ``event_study`` — intensity and binary, ``start`` to the end of the panel, binned
      endpoints (leads: diagnostics; lags: causal under assumptions, mixed with COVID-19 and
      France Relance after 2020).
    * ``pretrend_test`` — joint Wald test of the leads, per treatment (diagnostic).
    * ``placebo`` — DiD at ``placebo_period`` on pre-label data (diagnostic).
    * ``covid_windows`` — DiD to the end of the panel with COVID quarters kept, controlled
      (treatment × COVID) or excluded, next to the pre-COVID window.
    * ``matched`` — binary DiD on the typology-matched sample (pre-COVID window); ``matching_pairs``
      and ``matching_balance`` describe the match.

    Every row carries ``kind`` and ``assumptions``: which figures are causal, under which
    assumptions, and which are diagnostics or descriptive.
    """
    zone_treatment = compute_zone_treatment(
        communes, commune_territories, phase=phase, threshold=threshold
    )
    panel = build_did_panel(labour_panel, zone_treatment)
    zones = panel["ze2020_code"].unique().sort().to_list()
    treatments: tuple[Treatment, ...] = ("intensity", "binary")
    common = {"event_period": event_period, "alpha": alpha}

    did = pl.concat(
        [
            estimate_did(panel, treatment=t, start=start, end=pre_covid_end, **common)
            for t in treatments
        ]
    )
    fits = [
        fit_event_study(panel, treatment=t, leads=leads, lags=lags, start=start, end=None, **common)
        for t in treatments
    ]
    covid_rows = []
    for t in treatments:
        covid_rows.append(
            estimate_did(panel, treatment=t, start=start, end=pre_covid_end, **common)
        )
        for mode in ("none", "control", "exclude"):
            covid_rows.append(
                estimate_did(panel, treatment=t, start=start, end=None, covid=mode, **common)
            )
    placebo = pl.concat(
        [
            estimate_placebo_did(
                panel, placebo_period=placebo_period, treatment=t, start=start, alpha=alpha
            )
            for t in treatments
        ]
    )
    pairs = match_zones_on_typologies(
        zone_treatment,
        communes,
        commune_typologies,
        method=matching_method,
        n_neighbors=n_neighbors,
        zones=zones,
    )
    matched = estimate_did(
        panel,
        treatment="binary",
        start=start,
        end=pre_covid_end,
        zone_weights=compute_match_weights(pairs),
        **common,
    )
    balance = compute_match_balance(
        zone_treatment, communes, commune_typologies, pairs, zones=zones
    )
    return {
        "zone_treatment": zone_treatment,
        "did": did,
        "event_study": pl.concat([f.coefficients for f in fits]),
        "pretrend_test": pl.concat([compute_pretrend_test(f) for f in fits]),
        "placebo": placebo,
        "covid_windows": pl.concat(covid_rows),
        "matched": matched,
        "matching_pairs": pairs,
        "matching_balance": balance,
    }


# ---------------------------------------------------------------------------- simulation


def simulate_did_panel(
    *,
    n_zones: int = 100,
    first_period: str = "2014-T1",
    n_quarters: int = 24,
    event_period: str = LABEL_PERIOD,
    treatment: Treatment = "binary",
    effect: float = 0.0,
    effect_path: Sequence[float] | Callable[[int], float] | None = None,
    pretrend_slope: float = 0.0,
    treated_share: float = 0.4,
    rho: float = 0.5,
    sigma: float = 0.3,
    zone_sd: float = 1.5,
    quarter_sd: float = 0.3,
    seed: int | np.random.Generator | None = None,
) -> pl.DataFrame:
    """Synthetic zone × quarter panel with a planted effect, shaped like :func:`build_did_panel`.

    For verification only (``is_synthetic = True``). ``y_it = 8 + a_i + g_t + tau(k)·D_i +
    pretrend_slope·k·D_i + u_it`` with ``k = t - event``, ``D_i`` the zone's intensity or binary
    treatment (``treatment``), ``tau(k) = effect_path[min(k, len - 1)]`` (or ``effect_path(k)``, or
    ``effect``) for ``k >= 0`` and 0 before, zone effects correlated with treatment, a random-walk
    quarter effect and AR(1) zone noise ``u_it = rho·u_i,t-1 + N(0, sigma²)`` (stationary start).
    Intensity: treated zones (share ``treated_share``) have U(0.5, 1), half the others 0 and half
    U(0, 0.5); ``treated = intensity >= 0.5``.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_treated = round(treated_share * n_zones)
    treated = np.zeros(n_zones, dtype=bool)
    treated[rng.choice(n_zones, n_treated, replace=False)] = True
    intensity = np.where(
        treated,
        rng.uniform(0.5, 1.0, n_zones),
        np.where(rng.random(n_zones) < 0.5, 0.0, rng.uniform(0.0, 0.5, n_zones)),
    )
    dose = intensity if treatment == "intensity" else treated.astype(float)
    q0 = parse_period(first_period)
    qi = q0 + np.arange(n_quarters)
    k = qi - parse_period(event_period)
    if effect_path is None:
        tau = np.where(k >= 0, effect, 0.0)
    elif callable(effect_path):
        tau = np.array([effect_path(int(j)) if j >= 0 else 0.0 for j in k])
    else:
        path = np.asarray(effect_path, dtype=float)
        tau = np.where(k >= 0, path[np.clip(k, 0, len(path) - 1)], 0.0)
    zone_fe = rng.normal(0.0, zone_sd, n_zones) + 0.5 * dose
    quarter_fe = np.cumsum(rng.normal(0.0, quarter_sd, n_quarters))
    u = np.empty((n_zones, n_quarters))
    u[:, 0] = rng.normal(0.0, sigma / np.sqrt(max(1e-12, 1.0 - rho**2)), n_zones)
    shocks = rng.normal(0.0, sigma, (n_zones, n_quarters))
    for j in range(1, n_quarters):
        u[:, j] = rho * u[:, j - 1] + shocks[:, j]
    y = (
        8.0
        + zone_fe[:, None]
        + quarter_fe[None, :]
        + dose[:, None] * (tau[None, :] + pretrend_slope * k[None, :])
        + u
    )
    codes = [f"S{i:03d}" for i in range(n_zones)]
    lo, hi = parse_period(COVID_START), parse_period(COVID_END)
    return pl.DataFrame(
        {
            "ze2020_code": np.repeat(codes, n_quarters),
            "region_code": np.repeat([f"{11 + i % 7:02d}" for i in range(n_zones)], n_quarters),
            "period": np.tile([format_period(int(q)) for q in qi], n_zones),
            "quarter_index": np.tile(qi, n_zones).astype(np.int32),
            OUTCOME: y.ravel(),
            "treatment_intensity": np.repeat(intensity, n_quarters),
            "treated": np.repeat(treated, n_quarters),
            "is_covid_quarter": np.tile((qi >= lo) & (qi <= hi), n_zones),
            "is_synthetic": np.ones(n_zones * n_quarters, dtype=bool),
        }
    )
