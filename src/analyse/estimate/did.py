"""Counterfactual for the Territoires d'industrie label: difference-in-differences and event study.

Unit: zone d'emploi 2020 (ZE); outcome: INSEE quarterly localised unemployment rate
(``unemployment_rate_pct``, percentage points). Treatment: the 22 Nov 2018 label of the phase-1
territories, measured per zone as the share of its communes inside a phase-1 TI, or of its
population when ``communes.population`` is available (``treatment_intensity``; ``exposure`` says
which), or as ``treated = intensity >= threshold``. All phase-1 territories are dated at the
label: the sources record no per-territory entry date (124 territories in 2018, 149 by 2022), so
later entrants are mis-timed, which biases toward zero.

Timing. The label was announced on 22 November 2018, five weeks before the end of 2018-T4: that
quarter is *partially* treated. Default (``label_quarter="exclude"``): post starts in 2019-T1 and
2018-T4 is left out of the DiD sample; ``"own_term"`` gives 2018-T4 its own coefficient;
``"post"`` is the former definition (2018-T4 counted as fully treated), kept for comparison: it
dilutes an effect that starts in 2019.

Estimator: two-way fixed effects (zone and quarter absorbed by the within transformation, see
:mod:`analyse.estimate.panel`) with standard errors clustered by zone. With a single adoption date
the binary TWFE DiD is the canonical 2×2 comparison (no staggered-timing negative weights); the
heterogeneity-robust imputation estimator (:mod:`analyse.estimate.imputation`) is the cross-check.

What is causal and under which assumptions (repeated in every output row's ``kind`` and
``assumptions``):

* DiD coefficients and event-study lags of 2019 are **causal under assumptions**: parallel trends
  of unemployment between more- and less-treated zones absent the label; no anticipation before
  the label; SUTVA (no spillovers across zones — neighbouring zones share labour markets, so this
  is strong); label timing; for the intensity version, "strong parallel trends" across doses
  (Callaway, Goodman-Bacon & Sant'Anna, *Difference-in-differences with a continuous treatment*).
  Whether this reading is kept is decided by the diagnostics (:mod:`analyse.estimate.decision`):
  when they fail, the rows are relabelled "not causal: parallel trends doubtful".
* From 2020 the France Relance acceleration fund targeted the same territories and COVID-19 hit:
  any estimate whose post window reaches 2020-T1 is **"mixed: label + fund + COVID, not
  separable"**, never causal.
* Event-study end bins average many quarters: **pooled**, not per-quarter estimates.
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
from scipy import stats

from analyse.errors import ParameterError
from analyse.estimate.models import TIDY_SCHEMA, make_tidy_frame
from analyse.estimate.panel import FeDf, WithinFit, fit_within_ols
from analyse.reference import LABEL_PERIOD

Treatment = Literal["intensity", "binary"]
Covid = Literal["none", "exclude", "control", "baseline"]
LabelQuarter = Literal["exclude", "own_term", "post"]
Exposure = Literal["auto", "population", "communes"]

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
#: Event-study reference: the mean of the four quarters before the label (2017-T4..2018-T3).
DEFAULT_REFERENCE: tuple[int, ...] = (-4, -3, -2, -1)
#: Name of the commune population column (INSEE population légale) used for population exposure.
POPULATION_COLUMN = "population"

OUTCOME = "unemployment_rate_pct"

KIND_CAUSAL = (
    "causal under assumptions (parallel trends, no anticipation, no spillovers across zones, "
    "label 22 Nov 2018: 2018-T4 partial, post from 2019-T1)"
)
KIND_PARTIAL = (
    "causal under assumptions, label quarter 2018-T4 only partially treated (label on 22 Nov)"
)
KIND_MIXED = "mixed: label + fund + COVID, not separable (not causal)"
KIND_POOLED = "pooled end bin: average over several quarters, not a per-quarter estimate"
KIND_DOUBTFUL = "not causal: parallel trends doubtful (decision rule of the diagnostics)"
KIND_DIAGNOSTIC = "diagnostic (expected ~0 under parallel trends and no anticipation)"
KIND_DESCRIPTIVE = "descriptive association"
KIND_REFERENCE = "reference period (normalised to 0)"

ASSUMPTIONS_DID = (
    "Parallel trends: absent the label, unemployment in zones more covered by phase-1 Territoires "
    "d'industrie would have evolved like in other zones. No anticipation before the label "
    "(22 Nov 2018; 2018-T4 is partially treated). SUTVA: no spillovers across zones d'emploi "
    "(strong: neighbouring zones share labour markets). All phase-1 territories dated at the "
    "label (no per-territory entry dates; later entrants bias toward zero). Zone and quarter "
    "fixed effects; standard errors clustered by zone (CRV1, t with G-1 df)."
)
ASSUMPTIONS_INTENSITY = (
    " Intensity = share of the zone's communes (or of its population, see exposure) in a phase-1 "
    "TI; coefficient = effect of going from 0% to 100% coverage, which needs parallel trends "
    "across doses (stronger than the binary case)."
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
    "zones during COVID-19, descriptive (COVID shock and France Relance cannot be separated). "
    "With one adoption date it gives exactly the estimate of dropping the COVID quarters."
)
ASSUMPTIONS_COVID_BASELINE = (
    " COVID control: each COVID quarter (2020-T1..2021-T4) gets its own slope on the zone's "
    "pre-label mean unemployment rate, so zones with high unemployment may react differently to "
    "the shock; differs from dropping the COVID quarters."
)
ASSUMPTIONS_MIXED = (
    " The post window reaches 2020 or later: the label, the France Relance acceleration fund "
    "(same territories) and COVID-19 cannot be separated."
)
ASSUMPTIONS_PRETREND = (
    "Joint Wald test that every event-study lead equals the reference (cluster-robust, F with "
    "G-1 denominator df). Not rejecting does not prove parallel trends (low power against "
    "smooth trends)."
)

#: Columns in front of :data:`TIDY_SCHEMA` in every DiD frame.
DID_LABELS: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "exposure": pl.String,
    "spec": pl.String,
    "sample": pl.String,
    "window_start": pl.String,
    "window_end": pl.String,
    "post_start": pl.String,
}

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


def first_post_period(event_period: str = LABEL_PERIOD, label_quarter: LabelQuarter = "exclude"):
    """First fully treated quarter: the quarter after the label, or the label quarter itself
    with the former definition (``label_quarter="post"``)."""
    _check_label_quarter(label_quarter)
    event = parse_period(event_period)
    return format_period(event if label_quarter == "post" else event + 1)


def _check_label_quarter(label_quarter: str) -> None:
    if label_quarter not in ("exclude", "own_term", "post"):
        raise ParameterError(
            f"label_quarter must be 'exclude', 'own_term' or 'post', got {label_quarter!r}"
        )


# ---------------------------------------------------------------------------- treatment


def resolve_exposure(communes: pl.DataFrame, exposure: Exposure = "auto") -> str:
    """``"population"`` when ``communes`` has a usable population column, else ``"communes"``.

    ``auto`` picks population when the column exists and at least 95 % of the communes with a
    zone have a value; ``population`` requires the column.
    """
    if exposure == "communes":
        return "communes"
    has = POPULATION_COLUMN in communes.columns
    if exposure == "population":
        if not has:
            raise ParameterError(f"exposure='population' needs communes.{POPULATION_COLUMN}")
        return "population"
    if exposure != "auto":
        raise ParameterError(f"exposure must be auto, population or communes, got {exposure!r}")
    if not has:
        return "communes"
    zoned = communes.filter(pl.col("ze2020_code").is_not_null())
    known = zoned[POPULATION_COLUMN].is_not_null().mean() if zoned.height else 0.0
    return "population" if known is not None and known >= 0.95 else "communes"


def compute_zone_treatment(
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    phase: int = 1,
    threshold: float = 0.5,
    weights: str | None = None,
) -> pl.DataFrame:
    """Exposure of each zone d'emploi to the Territoires d'industrie of ``phase``.

    Columns: ``ze2020_code, n_communes, n_communes_ti, treatment_intensity, treated, ti_phase,
    exposure``. ``treatment_intensity`` is the share of the zone's communes that belong to a TI
    of ``phase`` (``exposure = "communes"``) or, with ``weights`` naming a column of ``communes``
    (e.g. ``"population"``), the weighted share (``exposure = weights``). Communes with a null
    weight are left out of their zone's weighted share; a zone with no weighted commune falls
    back to its commune share (``exposure = "communes"`` on that row). Communes of every TI
    listed in ``commune_territories`` count, including the Grand Paris EPT members once the
    cleaning attributes them.

    ``treated = treatment_intensity >= threshold``. The default 0.5 ("most of the zone's communes
    (or people) are in a TI") is a convention; the intensity DiD avoids choosing it, and
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
    out = (
        base.join(in_ti, on="commune_insee", how="left")
        .with_columns(pl.col("_in_ti").fill_null(False), w.alias("_w"))
        .group_by("ze2020_code")
        .agg(
            pl.len().cast(pl.Int32).alias("n_communes"),
            pl.col("_in_ti").sum().cast(pl.Int32).alias("n_communes_ti"),
            ((pl.col("_w") * pl.col("_in_ti")).sum() / pl.col("_w").sum()).alias("_weighted"),
            pl.col("_in_ti").mean().alias("_share"),
        )
    )
    label = weights or "communes"
    usable = pl.col("_weighted").is_not_null() & pl.col("_weighted").is_finite()
    return (
        out.with_columns(
            pl.when(usable).then("_weighted").otherwise("_share").alias("treatment_intensity"),
            pl.when(usable).then(pl.lit(label)).otherwise(pl.lit("communes")).alias("exposure"),
        )
        .with_columns(
            (pl.col("treatment_intensity") >= threshold).alias("treated"),
            pl.lit(phase, dtype=pl.Int8).alias("ti_phase"),
        )
        .select(
            "ze2020_code",
            "n_communes",
            "n_communes_ti",
            "treatment_intensity",
            "treated",
            "ti_phase",
            "exposure",
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
    treatment_intensity, treated, exposure, is_covid_quarter`` (+ ``is_synthetic`` when present).
    Raises :class:`ParameterError` when a zone of the panel has no treatment row (a broken join
    must not silently shrink the sample). Rows with a null rate are kept; estimators drop them.
    """
    needed = ["ze2020_code", "region_code", "period", "quarter_index", OUTCOME]
    missing = [c for c in needed if c not in labour_panel.columns]
    if missing:
        raise ParameterError(f"labour_panel: missing columns {missing}")
    extra = ["is_synthetic"] if "is_synthetic" in labour_panel.columns else []
    cols = ["ze2020_code", "treatment_intensity", "treated"]
    treat = zone_treatment.select(*cols, *(["exposure"] if "exposure" in zone_treatment else []))
    if "exposure" not in treat.columns:
        treat = treat.with_columns(pl.lit("communes").alias("exposure"))
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


def panel_exposure(panel: pl.DataFrame) -> str:
    """The exposure measure of a DiD panel: ``"population"`` when any zone's intensity is a
    population share (zones without population data fall back to their commune share, see
    ``zone_treatment.exposure``), else ``"communes"``."""
    if "exposure" not in panel.columns:
        return "communes"
    values = set(panel["exposure"].drop_nulls().unique().to_list())
    return "population" if POPULATION_COLUMN in values else "communes"


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
    if covid not in ("none", "exclude", "control", "baseline"):
        raise ParameterError(
            f"covid must be 'none', 'exclude', 'control' or 'baseline', got {covid!r}"
        )
    if outcome not in panel.columns:
        raise ParameterError(f"outcome column {outcome!r} not in the panel")
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
    elif covid == "baseline":
        label += ", COVID quarters x baseline unemployment control"
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


def _inference(
    params: np.ndarray, vcov: np.ndarray, df_resid: int, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standard errors, (k, 2) intervals and p-values (Student's t with ``df_resid`` df)."""
    se = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    q = stats.t.ppf(1.0 - alpha / 2.0, df_resid)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2.0 * stats.t.sf(np.abs(params / se), df_resid)
    return se, np.column_stack([params - q * se, params + q * se]), p


def _tidy_rows(
    fit: WithinFit,
    alpha: float,
    model: str,
    kinds: dict[str, tuple[str, str]],
    reported: Sequence[str] | None = None,
):
    se, ci, pv = _inference(fit.params, fit.vcov, fit.df_resid, alpha)
    rows = []
    for i, term in enumerate(fit.terms):
        if reported is not None and term not in reported:
            continue
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


def _with_labels(frame: pl.DataFrame, **labels: str | None) -> pl.DataFrame:
    """``frame`` with the :data:`DID_LABELS` columns in front (``labels`` gives their values)."""
    front = [pl.lit(labels.get(c), dtype=t).alias(c) for c, t in DID_LABELS.items() if c in labels]
    return frame.select(*front, pl.all())


def _assumptions(treatment: Treatment, matched: bool) -> str:
    text = ASSUMPTIONS_DID + (
        ASSUMPTIONS_INTENSITY if treatment == "intensity" else ASSUMPTIONS_BINARY
    )
    return text + (ASSUMPTIONS_MATCHED if matched else "")


def _baseline_covid_columns(
    df: pl.DataFrame, outcome: str, event: int
) -> tuple[list[np.ndarray], list[str]]:
    """Per COVID quarter, the zone's centred pre-label mean rate × 1{quarter} (nuisance terms)."""
    base = (
        df.filter(pl.col("quarter_index") < event)
        .group_by("ze2020_code")
        .agg(pl.col(outcome).mean().alias("_base"))
    )
    joined = df.select("ze2020_code", "quarter_index", "is_covid_quarter").join(
        base, on="ze2020_code", how="left", maintain_order="left"
    )
    b = joined["_base"].fill_null(joined["_base"].mean()).to_numpy()
    b = b - np.nanmean(b)
    qi = joined["quarter_index"].to_numpy()
    covid_q = sorted(set(qi[joined["is_covid_quarter"].to_numpy()].tolist()))
    return [b * (qi == q) for q in covid_q], [f"baseline_x_{format_period(q)}" for q in covid_q]


def estimate_did(
    panel: pl.DataFrame,
    *,
    treatment: Treatment = "intensity",
    start: str | None = DEFAULT_START,
    end: str | None = PRE_COVID_END,
    event_period: str = LABEL_PERIOD,
    label_quarter: LabelQuarter = "exclude",
    covid: Covid = "none",
    zone_weights: pl.DataFrame | None = None,
    outcome: str = OUTCOME,
    fe_df: FeDf = "nested",
    alpha: float = 0.05,
    spec: str = "did",
) -> pl.DataFrame:
    """Two-way FE difference-in-differences ``y_it = a_i + g_t + b·D_i·post_t (+ controls)``.

    ``D_i`` is the zone's ``treatment_intensity`` or ``treated`` (``treatment``). ``post_t`` is
    ``quarter >= first_post_period(event_period, label_quarter)``: with the default
    ``label_quarter="exclude"`` post starts the quarter after ``event_period`` and the
    ``event_period`` quarter is dropped (partially treated); ``"own_term"`` keeps it with its own
    term ``{treatment}_x_label_quarter``; ``"post"`` counts it as treated (former definition).
    ``covid``: ``"none"``; ``"exclude"`` (drop 2020-T1..2021-T4); ``"control"`` (add
    ``D_i × is_covid_quarter``: with one adoption date, numerically the same ``b`` as
    ``"exclude"``); ``"baseline"`` (each COVID quarter gets a slope on the zone's pre-label mean
    rate; nuisance terms not reported). ``zone_weights`` (``ze2020_code, match_weight``, e.g.
    from :func:`compute_match_weights`) restricts and weights the sample. ``spec`` is a label
    copied to the output.

    Returns :data:`DID_LABELS` + :data:`TIDY_SCHEMA` columns; term ``{treatment}_x_post`` is the
    ATT-type coefficient (percentage points of unemployment): average effect over the post
    quarters of the window (per unit of intensity for ``intensity``). Its ``kind`` is causal
    under the assumptions in ``assumptions`` when the post window ends before 2020-T1, and
    "mixed: label + fund + COVID" otherwise.
    """
    _check_label_quarter(label_quarter)
    df, sample = _select_sample(
        panel, start=start, end=end, covid=covid, outcome=outcome, zone_weights=zone_weights
    )
    event = parse_period(event_period)
    post_start = parse_period(first_post_period(event_period, label_quarter))
    if label_quarter == "exclude":
        df = df.filter(pl.col("quarter_index") != event)
    qi = df["quarter_index"].to_numpy()
    if df.height == 0 or not (qi.min() < event and post_start <= qi.max()):
        raise ParameterError(
            f"event_period {event_period} must fall after the first quarter of the sample and "
            f"its post period ({format_period(post_start)}..) inside it ({sample})"
        )
    dose = _dose(df, treatment)
    mixed = int(qi.max()) >= parse_period(COVID_START)
    assumptions = _assumptions(treatment, zone_weights is not None) + (
        ASSUMPTIONS_MIXED if mixed else ""
    )
    terms = [f"{treatment}_x_post"]
    columns = [dose * (qi >= post_start)]
    kinds = {terms[0]: (KIND_MIXED if mixed else KIND_CAUSAL, assumptions)}
    if label_quarter == "own_term":
        terms.append(f"{treatment}_x_label_quarter")
        columns.append(dose * (qi == event))
        kinds[terms[-1]] = (KIND_PARTIAL, assumptions)
    reported = list(terms)
    if covid == "control":
        terms.append(f"{treatment}_x_covid")
        columns.append(dose * df["is_covid_quarter"].cast(pl.Float64).to_numpy())
        kinds[terms[-1]] = (KIND_DESCRIPTIVE, ASSUMPTIONS_COVID)
        reported.append(terms[-1])
    elif covid == "baseline":
        # the covariate is the zone's pre-label unemployment level, whatever the outcome
        extra, names = _baseline_covid_columns(df, OUTCOME if OUTCOME in df else outcome, event)
        columns += extra
        terms += names
        kinds[terms[0]] = (kinds[terms[0]][0], assumptions + ASSUMPTIONS_COVID_BASELINE)
        kinds.update({n: (KIND_DESCRIPTIVE, ASSUMPTIONS_COVID_BASELINE) for n in names})
    fit = _fit(
        df,
        np.column_stack(columns),
        terms,
        outcome=outcome,
        fe_df=fe_df,
        weighted=zone_weights is not None,
    )
    lq = {"exclude": "excluded", "own_term": "own term", "post": "counted as treated"}
    sample += f", label quarter {event_period} {lq[label_quarter]}, post from "
    sample += format_period(post_start)
    model = f"twfe did {outcome} ~ {treatment} x post({format_period(post_start)}) | zone + quarter"
    return _with_labels(
        make_tidy_frame(_tidy_rows(fit, alpha, model, kinds, reported)),
        treatment=treatment,
        exposure=panel_exposure(df),
        spec=spec,
        sample=sample,
        window_start=format_period(int(qi.min())),
        window_end=format_period(int(qi.max())),
        post_start=format_period(post_start),
    )


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
    the real label; the fake date is a full quarter, so ``post`` starts at ``placebo_period``).
    A diagnostic: expected ~0 under parallel trends."""
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
        label_quarter="post",
        outcome=outcome,
        alpha=alpha,
        spec="placebo",
    )
    return out.with_columns(
        pl.lit(KIND_DIAGNOSTIC).alias("kind"),
        pl.lit(ASSUMPTIONS_PLACEBO).alias("assumptions"),
        pl.col("model").str.replace("twfe did", "placebo twfe did"),
    )


# ---------------------------------------------------------------------------- event study


@dataclass(frozen=True)
class EventStudyFit:
    """An event-study fit: the tidy coefficients plus what a joint test needs.

    ``fit`` is the regression with the single omitted quarter ``max(reference)``;
    ``coefficients`` are re-expressed relative to the mean of the reference quarters.
    """

    coefficients: pl.DataFrame
    fit: WithinFit
    lead_terms: tuple[str, ...]
    treatment: str
    sample: str
    options: dict[str, object] = field(default_factory=dict)


def _event_term(k: int) -> str:
    return f"rel_{k:+d}"


def _reference_set(reference: int | Sequence[int], leads: int) -> tuple[int, ...]:
    ref = (reference,) if isinstance(reference, int | np.integer) else tuple(reference)
    ref = tuple(sorted({int(k) for k in ref}))
    if not ref or not all(-leads <= k < 0 for k in ref):
        raise ParameterError(f"reference quarters must be in [-leads, -1] (got {ref})")
    return ref


def _event_kind(k: int, binned: bool, event: int, assumptions: str) -> tuple[str, str]:
    if binned:
        return KIND_POOLED, ASSUMPTIONS_DID
    if k < 0:
        return KIND_DIAGNOSTIC, ASSUMPTIONS_DID
    if event + k >= parse_period(COVID_START):
        return KIND_MIXED, assumptions + ASSUMPTIONS_MIXED
    return (KIND_PARTIAL if k == 0 else KIND_CAUSAL), assumptions


def _renormalise(
    ks: list[int], reference: tuple[int, ...], params: np.ndarray, vcov: np.ndarray
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Coefficients of every quarter relative to the mean of ``reference`` (linear map)."""
    base = max(reference)
    all_k = sorted([*ks, base])
    t = np.zeros((len(all_k), len(ks)))
    for row, k in enumerate(all_k):
        if k != base:
            t[row, ks.index(k)] += 1.0
        for j in reference:
            if j != base:
                t[row, ks.index(j)] -= 1.0 / len(reference)
    return all_k, t @ params, t @ vcov @ t.T


def fit_event_study(
    panel: pl.DataFrame,
    *,
    treatment: Treatment = "intensity",
    leads: int = 8,
    lags: int = 12,
    reference: int | Sequence[int] = DEFAULT_REFERENCE,
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
    """Event study ``y_it = a_i + g_t + sum_k b_k·D_i·1{t - event = k} + e_it``.

    Relative quarter ``k = quarter_index - event``; ``k = 0`` is the (partially treated) label
    quarter. ``reference``: one quarter (its row is 0, kind reference) or several (default
    ``-4..-1`` = 2017-T4..2018-T3): the regression omits ``max(reference)`` and every coefficient
    is then expressed relative to the mean of the reference quarters (a linear
    re-parametrisation: the reference quarters get estimates summing to zero, with errors).
    With ``bin_endpoints`` (default) quarters before ``-leads`` are pooled into ``k = -leads``
    and quarters after ``lags`` into ``k = lags`` (averages over their bins: ``is_binned``,
    kind pooled); otherwise quarters outside ``[-leads, lags]`` are dropped. Lags from 2020-T1
    on are kind mixed (label + fund + COVID). ``covid="control"`` is not offered: with one
    adoption date it is collinear with the lags.
    """
    if covid not in ("none", "exclude"):
        raise ParameterError("event study: covid must be 'none' or 'exclude'")
    if leads < 1 or lags < 0:
        raise ParameterError(f"need leads >= 1 and lags >= 0 (got {leads}, {lags})")
    ref = _reference_set(reference, leads)
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
    if not set(ref) <= set(present):
        raise ParameterError(f"reference quarters {ref} are not all in the sample ({sample})")
    base = max(ref)
    ks = [k for k in present if k != base]
    if not ks:
        raise ParameterError("no event-time period besides the reference")
    dose = _dose(df, treatment)
    x = np.column_stack([dose * (binned == k) for k in ks])
    terms = [_event_term(k) for k in ks]
    fit = _fit(df, x, terms, outcome=outcome, fe_df=fe_df, weighted=zone_weights is not None)
    all_k, params, vcov = _renormalise(ks, ref, fit.params, fit.vcov)
    se, ci, pv = _inference(params, vcov, fit.df_resid, alpha)
    lo, hi = min(present), max(present)
    qmin, qmax = int(df["quarter_index"].min()), int(df["quarter_index"].max())
    assumptions = _assumptions(treatment, zone_weights is not None)
    ref_text = ", ".join(format_period(event + k) for k in ref)
    model = (
        f"twfe event study {outcome} ~ {treatment} x rel. quarter (reference: mean of "
        f"{ref_text}) | zone + quarter"
    )
    rows, flags, firsts, lasts = [], [], [], []
    for i, k in enumerate(all_k):
        is_bin = bin_endpoints and ((k == lo and k == -leads) or (k == hi and k == lags))
        single_ref = len(ref) == 1 and k == base
        kind, text = (
            (KIND_REFERENCE, ASSUMPTIONS_DID)
            if single_ref
            else _event_kind(k, is_bin, event, assumptions)
        )
        rows.append(
            {
                "term": _event_term(k),
                "estimate": float(params[i]),
                "std_error": None if single_ref else float(se[i]),
                "ci_low": None if single_ref else float(ci[i, 0]),
                "ci_high": None if single_ref else float(ci[i, 1]),
                "p_value": None if single_ref else float(pv[i]),
                "n_obs": fit.n_obs,
                "n_clusters": fit.n_clusters,
                "model": model,
                "kind": kind,
                "assumptions": text,
            }
        )
        flags.append(bool(is_bin))
        first = qmin if (is_bin and k < 0) else event + k
        last = qmax if (is_bin and k > 0) else event + k
        firsts.append(format_period(first))
        lasts.append(format_period(last))
    coefficients = make_tidy_frame(rows).with_columns(
        pl.Series("rel_quarter", all_k, dtype=pl.Int32),
        pl.Series("period_first", firsts, dtype=pl.String),
        pl.Series("period_last", lasts, dtype=pl.String),
        pl.Series("is_binned", flags, dtype=pl.Boolean),
        pl.Series("in_reference", [k in ref for k in all_k], dtype=pl.Boolean),
    )
    coefficients = coefficients.select(
        "rel_quarter", "period_first", "period_last", "is_binned", "in_reference", *TIDY_SCHEMA
    )
    sample = f"{sample}, label quarter {event_period} = k 0"
    return EventStudyFit(
        coefficients=_with_labels(
            coefficients,
            treatment=treatment,
            exposure=panel_exposure(df),
            spec="event_study",
            sample=sample,
        ),
        fit=fit,
        lead_terms=tuple(_event_term(k) for k in ks if k < 0),
        treatment=treatment,
        sample=sample,
        options={
            "leads": leads,
            "lags": lags,
            "reference": ref,
            "bin_endpoints": bin_endpoints,
            "event_period": event_period,
            "rel_quarters": tuple(ks),
        },
    )


def estimate_event_study(panel: pl.DataFrame, **options: object) -> pl.DataFrame:
    """Tidy event-study coefficients (options as in :func:`fit_event_study`).

    Columns ``treatment, exposure, spec, sample, rel_quarter, period_first, period_last,
    is_binned, in_reference`` + :data:`TIDY_SCHEMA`. With a single reference quarter its row has
    estimate 0 and null standard error. Use :func:`fit_event_study` when the joint pre-trend
    test is needed too (:func:`compute_pretrend_test`).
    """
    return fit_event_study(panel, **options).coefficients  # type: ignore[arg-type]


PRETREND_SCHEMA: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "exposure": pl.String,
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
    """Joint Wald test that every event-study lead equals the reference (one row,
    :data:`PRETREND_SCHEMA`).

    ``event_study`` is an :class:`EventStudyFit` or a DiD panel (then fitted with ``options``, see
    :func:`fit_event_study`). The hypothesis "all pre-label quarters equal" does not depend on
    which reference normalises the coefficients. ``use_f``: ``F = W / q`` against
    ``F(q, G - 1)``; otherwise ``W`` against ``chi2(q)``. A diagnostic: rejection signals
    pre-trends or anticipation.
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
        "exposure": es.coefficients["exposure"][0],
        "sample": es.sample,
        "test": "all leads = reference",
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

#: Spec codes of the DiD rows (``spec`` column), rendered in French by ``review.label``.
SPEC_MAIN = "main"
SPEC_TIMING_OLD = "timing_label_quarter_treated"
SPEC_FULL_WINDOW = "full_window"
SPEC_COVID_EXCLUDED = "covid_excluded"
SPEC_COVID_BASELINE = "covid_baseline"
SPEC_MATCHED = "matched"
SPEC_PLACEBO = "placebo"
SPEC_IMPUTATION = "imputation"


@dataclass(frozen=True)
class _Design:
    """The panels and options shared by every estimate of the bundle."""

    panels: dict[str, pl.DataFrame]  # by exposure
    headline_exposure: str
    combos: tuple[tuple[Treatment, str], ...]  # (treatment, exposure) with diagnostics
    opts: dict[str, object]


def _estimates(design: _Design, outcome: str, match_weights: pl.DataFrame) -> dict[str, object]:
    """Every estimate whose outcome can be swapped (real rates, or a planted effect surface)."""
    o = design.opts
    head = design.headline_exposure
    common = {"event_period": o["event_period"], "alpha": o["alpha"], "outcome": outcome}
    window = {"start": o["start"], "end": o["pre_covid_end"]}
    lq = o["label_quarter"]
    did_rows = [
        estimate_did(design.panels[e], treatment=t, label_quarter=lq, spec=SPEC_MAIN,
                     **window, **common)
        for t, e in design.combos
    ]  # fmt: skip
    did_rows += [
        estimate_did(design.panels[head], treatment=t, label_quarter="post",
                     spec=SPEC_TIMING_OLD, **window, **common)
        for t in ("intensity", "binary")
    ]  # fmt: skip
    covid_rows = []
    for t in ("intensity", "binary"):
        for spec, mode in (
            (SPEC_FULL_WINDOW, "none"),
            (SPEC_COVID_EXCLUDED, "exclude"),
            (SPEC_COVID_BASELINE, "baseline"),
        ):
            covid_rows.append(
                estimate_did(design.panels[head], treatment=t, start=o["start"], end=None,
                             covid=mode, label_quarter=lq, spec=spec, **common)
            )  # fmt: skip
    placebo = [
        estimate_placebo_did(design.panels[e], placebo_period=o["placebo_period"], treatment=t,
                             start=o["start"], alpha=o["alpha"], outcome=outcome)
        for t, e in design.combos
    ]  # fmt: skip
    matched = estimate_did(
        design.panels[head], treatment="binary", zone_weights=match_weights,
        label_quarter=lq, spec=SPEC_MATCHED, **window, **common,
    )  # fmt: skip
    fits = [
        fit_event_study(design.panels[e], treatment=t, leads=o["leads"], lags=o["lags"],
                        reference=o["reference"], start=o["start"], end=None, **common)
        for t, e in design.combos
    ]  # fmt: skip
    from analyse.estimate.imputation import estimate_imputation

    imputation = [
        estimate_imputation(design.panels[head], treatment=t, label_quarter="exclude",
                            event_period=o["event_period"], outcome=outcome, alpha=o["alpha"],
                            **window)
        for t in ("intensity", "binary")
    ]  # fmt: skip
    return {
        "did": pl.concat(did_rows),
        "covid_windows": pl.concat(covid_rows),
        "placebo": pl.concat(placebo),
        "matched": matched,
        "imputation": pl.concat(imputation),
        "fits": fits,
        "event_study": pl.concat([f.coefficients for f in fits]),
    }


def _honest(design: _Design, alpha: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rambachan–Roth bounds for the average effect over the fully treated pre-COVID quarters."""
    from analyse.estimate.honest import EventStudyInput, compute_honest_bounds

    o = design.opts
    event = parse_period(str(o["event_period"]))
    lags = parse_period(str(o["pre_covid_end"])) - event
    bounds, breaks = [], []
    for treatment in ("intensity", "binary"):
        es = fit_event_study(
            design.panels[design.headline_exposure], treatment=treatment,
            leads=int(o["honest_leads"]), lags=lags, reference=-1, bin_endpoints=False,
            start=o["start"], end=o["pre_covid_end"], event_period=o["event_period"],
        )  # fmt: skip
        ks = list(es.options["rel_quarters"])
        n_pre = sum(k < 0 for k in ks)
        post = [k for k in ks if k >= 0]
        first_full = 0 if o["label_quarter"] == "post" else 1
        l_vec = np.array([1.0 if k >= first_full else 0.0 for k in post])
        l_vec /= l_vec.sum()
        target = (
            f"average effect {format_period(event + first_full)}..{format_period(event + post[-1])}"
            + (" per unit of intensity" if treatment == "intensity" else "")
        )
        b, k = compute_honest_bounds(
            EventStudyInput(es.fit.params, es.fit.vcov, n_pre, len(post), l_vec),
            treatment=treatment, exposure=panel_exposure(es.coefficients), target=target,
            alpha=alpha,
        )  # fmt: skip
        bounds.append(b)
        breaks.append(k)
    return pl.concat(bounds), pl.concat(breaks)


def _with_planted(frame: pl.DataFrame, planted: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    target = planted.select(*keys, pl.col("estimate").alias("planted_target"))
    return frame.join(target, on=keys, how="left", maintain_order="left")


def run_label_counterfactual(
    labour_panel: pl.DataFrame,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    commune_typologies: pl.DataFrame,
    *,
    phase: int = 1,
    threshold: float = 0.5,
    exposure: Exposure = "auto",
    event_period: str = LABEL_PERIOD,
    label_quarter: LabelQuarter = "exclude",
    start: str = DEFAULT_START,
    pre_covid_end: str = PRE_COVID_END,
    placebo_period: str = PLACEBO_PERIOD,
    leads: int = 8,
    lags: int = 12,
    reference: int | Sequence[int] = DEFAULT_REFERENCE,
    honest_leads: int = 8,
    matching_method: Literal["mahalanobis", "propensity"] = "mahalanobis",
    n_neighbors: int = 1,
    alpha: float = 0.05,
    diagnostic_alpha: float = 0.10,
    planted_effect: pl.DataFrame | None = None,
    with_honest: bool = True,
) -> dict[str, pl.DataFrame]:
    """Every estimate of the label's counterfactual, as plain, parquet-serialisable frames.

    Exposure: ``"auto"`` uses the commune population share when ``communes.population`` is
    usable (:func:`resolve_exposure`), else the commune-count share; the headline specification
    is ``intensity`` × that exposure (``decision.is_headline``). Keys:

    * ``zone_treatment`` — exposure per zone (descriptive): :func:`compute_zone_treatment` of the
      headline exposure plus ``intensity_communes`` (commune-count share).
    * ``did`` — DiD rows, window ``start..pre_covid_end``: spec ``main`` for intensity (headline
      exposure, and commune count when the headline is population) and binary, and spec
      ``timing_label_quarter_treated`` (former timing, 2018-T4 counted as treated) for comparison.
    * ``imputation`` — Borusyak–Jaravel–Spiess imputation estimates (intensity dose slope,
      binary ATT), same window (:mod:`analyse.estimate.imputation`).
    * ``covid_windows`` — windows to the end of the panel (kind mixed): no COVID handling
      (``full_window``), COVID quarters dropped (``covid_excluded``, numerically identical to a
      treatment × COVID dummy), COVID quarters × baseline unemployment slopes (``covid_baseline``).
    * ``placebo`` — DiD at ``placebo_period`` on pre-label data (diagnostic).
    * ``matched`` — binary DiD on the typology-matched sample; ``matching_pairs`` and
      ``matching_balance`` describe the match.
    * ``event_study`` — per specification, ``start`` to the end of the panel, reference = mean of
      ``reference`` quarters, binned ends (kind pooled); ``pretrend_test`` — joint Wald tests.
    * ``decision`` — the decision rule per specification (:mod:`analyse.estimate.decision`); the
      ``kind`` of every causal row of a doubtful specification is relabelled.
    * ``honest`` / ``honest_breakdown`` — Rambachan–Roth sensitivity bounds and breakdown values
      (:mod:`analyse.estimate.honest`) for intensity and binary, headline exposure.
    * ``validation`` — with ``planted_effect`` (``ze2020_code, period, planted_effect_pp``, e.g.
      :func:`analyse.estimate.decision.planted_effect_from_manifest`): each estimate next to the
      same estimator applied to the planted effect surface (its exact target, since every
      estimator is linear in the outcome); ``planted_target`` is also added to the frames.

    DiD-type frames carry ``p_value_holm`` and ``holm_family`` (Holm over the DiD table, and over
    each event study). Every row carries ``kind`` and ``assumptions``.
    """
    from analyse.estimate import decision as dec
    from analyse.estimate.threads import single_threaded_blas

    head = resolve_exposure(communes, exposure)
    zt_comm = compute_zone_treatment(communes, commune_territories, phase=phase,
                                     threshold=threshold)  # fmt: skip
    zts = {"communes": zt_comm}
    if head == "population":
        zts["population"] = compute_zone_treatment(
            communes, commune_territories, phase=phase, threshold=threshold,
            weights=POPULATION_COLUMN,
        )  # fmt: skip
    panels = {e: build_did_panel(labour_panel, z) for e, z in zts.items()}
    if planted_effect is not None:
        panels = {e: _add_planted(p, planted_effect) for e, p in panels.items()}
    combos: list[tuple[Treatment, str]] = [("intensity", head)]
    if head != "communes":
        combos.append(("intensity", "communes"))
    combos.append(("binary", head))
    design = _Design(
        panels=panels,
        headline_exposure=head,
        combos=tuple(combos),
        opts={"event_period": event_period, "label_quarter": label_quarter, "start": start,
              "pre_covid_end": pre_covid_end, "placebo_period": placebo_period, "leads": leads,
              "lags": lags, "reference": reference, "honest_leads": honest_leads,
              "alpha": alpha},
    )  # fmt: skip
    zones = panels[head]["ze2020_code"].unique().sort().to_list()
    with single_threaded_blas():
        pairs = match_zones_on_typologies(zts[head], communes, commune_typologies,
                                          method=matching_method, n_neighbors=n_neighbors,
                                          zones=zones)  # fmt: skip
        weights = compute_match_weights(pairs)
        out = _estimates(design, OUTCOME, weights)
        pretrend = pl.concat([compute_pretrend_test(f) for f in out["fits"]])
        decision = _decide(out, pretrend, combos, head, diagnostic_alpha, alpha)
        honest, breakdown = _honest(design, alpha) if with_honest else (None, None)
        planted = (
            _estimates(design, "planted_effect_pp", weights) if planted_effect is not None else None
        )
    frames: dict[str, pl.DataFrame] = {}
    keys = {"did": ["spec", "treatment", "exposure", "term"],
            "covid_windows": ["spec", "treatment", "exposure", "term"],
            "placebo": ["spec", "treatment", "exposure", "term"],
            "matched": ["spec", "treatment", "exposure", "term"],
            "imputation": ["spec", "treatment", "exposure", "term"],
            "event_study": ["treatment", "exposure", "term"]}  # fmt: skip
    for key, on in keys.items():
        frame = dec.apply_decision(out[key], decision)
        if planted is not None:
            frame = _with_planted(frame, planted[key], on)
        frames[key] = frame
    table = pl.concat(
        [frames[k].with_columns(pl.lit(k).alias("_block")) for k in
         ("did", "imputation", "covid_windows", "placebo", "matched")],
        how="diagonal_relaxed",
    )  # fmt: skip
    table = dec.add_holm(table, "DiD table")
    for k in ("did", "imputation", "covid_windows", "placebo", "matched"):
        frames[k] = (
            table.filter(pl.col("_block") == k)
            .drop("_block")
            .select(*frames[k].columns, "p_value_holm", "holm_family")
        )
    frames["event_study"] = dec.add_holm(frames["event_study"], "event study",
                                         over=["treatment", "exposure"])  # fmt: skip
    zone_treatment = zts[head].join(
        zt_comm.select("ze2020_code", pl.col("treatment_intensity").alias("intensity_communes")),
        on="ze2020_code",
        how="left",
    )
    result = {
        "zone_treatment": zone_treatment,
        **frames,
        "pretrend_test": pretrend,
        "decision": decision,
        "matching_pairs": pairs,
        "matching_balance": compute_match_balance(
            zts[head], communes, commune_typologies, pairs, zones=zones
        ),  # fmt: skip
    }
    if honest is not None:
        result["honest"], result["honest_breakdown"] = honest, breakdown
    result["validation"] = dec.validation_frame(
        {k: frames[k] for k in ("did", "imputation", "covid_windows", "placebo", "matched",
                                "event_study")} if planted is not None else {}
    )  # fmt: skip
    return result


def _add_planted(panel: pl.DataFrame, planted_effect: pl.DataFrame) -> pl.DataFrame:
    """The panel with ``planted_effect_pp`` (0 where no entry; null where the rate is null)."""
    missing = {"ze2020_code", "period", "planted_effect_pp"} - set(planted_effect.columns)
    if missing:
        raise ParameterError(f"planted_effect: missing columns {sorted(missing)}")
    return panel.join(
        planted_effect.select("ze2020_code", "period", "planted_effect_pp"),
        on=["ze2020_code", "period"],
        how="left",
        maintain_order="left",
    ).with_columns(
        pl.when(pl.col(OUTCOME).is_not_null())
        .then(pl.col("planted_effect_pp").fill_null(0.0))
        .alias("planted_effect_pp")
    )


def _decide(
    out: dict[str, object],
    pretrend: pl.DataFrame,
    combos: Sequence[tuple[str, str]],
    head_label: str,
    diagnostic_alpha: float,
    alpha: float,
) -> pl.DataFrame:
    from analyse.estimate import decision as dec

    rows = []
    for t, e in combos:
        sel = (pl.col("treatment") == t) & (pl.col("exposure") == e)
        main = out["did"].filter(sel & (pl.col("spec") == SPEC_MAIN)).row(0, named=True)
        rows.append(
            dec.decide_parallel_trends(
                main,
                pretrend.filter(sel).row(0, named=True),
                out["placebo"].filter(sel).row(0, named=True),
                out["event_study"].filter(sel),
                is_headline=t == "intensity" and main["exposure"] == head_label,
                diagnostic_alpha=diagnostic_alpha,
                alpha=alpha,
            )
        )
    return pl.DataFrame(rows, schema=dec.DECISION_SCHEMA, orient="row")


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
    pretrend_quarters: int | None = None,
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
    ``effect``) for ``k >= 0`` and 0 before; with ``pretrend_quarters = m`` the differential
    trend starts ``m`` quarters before the label instead of at the start of the panel:
    ``pretrend_slope·max(0, k + m + 1)`` (so the ``m`` last pre-label quarters diverge); zone effects correlated with treatment, a random-walk
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
    trend = k if pretrend_quarters is None else np.maximum(0, k + pretrend_quarters + 1)
    y = (
        8.0
        + zone_fe[:, None]
        + quarter_fe[None, :]
        + dose[:, None] * (tau[None, :] + pretrend_slope * trend[None, :])
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
            "exposure": "communes",
            "is_covid_quarter": np.tile((qi >= lo) & (qi <= hi), n_zones),
            "is_synthetic": np.ones(n_zones * n_quarters, dtype=bool),
        }
    )
