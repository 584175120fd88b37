"""The label's counterfactual for reports (DiD, event study, diagnostics) and unemployment trends."""

from __future__ import annotations

from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.review.data import ReviewData

KIND_FR = {
    "causal": "Causal sous hypothèses",
    "diagnostic": "Diagnostic",
    "descriptive": "Descriptif",
    "reference": "Référence",
}


def format_p_value(p: float | None) -> str:
    """French p-value: three decimals, ``< 0,001`` below that."""
    if p is None:
        return "n.d."
    return "< 0,001" if p < 0.001 else fmt.format_ratio(p, 3)


def run_counterfactual(data: ReviewData, *, phase: int = 1) -> dict[str, pl.DataFrame]:
    """Every estimate of the label's counterfactual on the processed tables (see ``did``)."""
    from analyse.estimate import run_label_counterfactual

    return run_label_counterfactual(
        data["labour_panel"],
        data["communes"],
        data["commune_territories"],
        data["commune_typologies"],
        phase=phase,
    )


def select_event_study(results: dict[str, pl.DataFrame], treatment: str = "binary") -> pl.DataFrame:
    """The event-study coefficients of one treatment definition (for the chart)."""
    return results["event_study"].filter(pl.col("treatment") == treatment)


def _main_did(results: dict[str, pl.DataFrame], treatment: str) -> dict[str, Any]:
    did = results["did"].filter(pl.col("treatment") == treatment)
    return did.row(0, named=True)


def describe_event_study(results: dict[str, pl.DataFrame], treatment: str = "binary") -> str:
    """One-line reading of the event-study chart, computed from the estimates."""
    es = select_event_study(results, treatment).filter(pl.col("rel_quarter") >= 0)
    mean_post = es["estimate"].mean()
    return (
        "Lecture : chaque point est l'écart de taux de chômage (en points) entre zones "
        "labellisées et autres zones, par rapport au trimestre précédant le label ; après le "
        f"label, l'écart moyen est de {fmt.format_ratio(mean_post, 2)} point. Traits : IC à 95 %."
    )


def describe_pretrend(results: dict[str, pl.DataFrame]) -> str:
    """French sentence on the joint pre-trend test, for each treatment definition."""
    parts = []
    for row in results["pretrend_test"].iter_rows(named=True):
        verdict = (
            "ne rejette pas l'hypothèse de tendances parallèles avant le label"
            if row["p_value"] >= 0.05
            else "**rejette** l'hypothèse de tendances parallèles avant le label : prudence"
        )
        label = "intensité" if row["treatment"] == "intensity" else "traitement binaire"
        parts.append(
            f"- Test joint des coefficients avant label ({label}) : {row['distribution']} = "
            f"{fmt.format_ratio(row['statistic'], 2)}, p = {format_p_value(row['p_value'])} ; "
            f"le test {verdict}."
        )
    return "\n".join(parts)


def _kind_fr(kind: str) -> str:
    for key, label in KIND_FR.items():
        if kind.startswith(key):
            return label
    return kind


def render_did_table(results: dict[str, pl.DataFrame], metadata: dict[str, Any]) -> str:
    """HTML table of every DiD estimate: main, COVID windows, placebo, matched; kind stated."""
    frames = []
    for key, label in (
        ("did", "Principal"),
        ("covid_windows", "Fenêtres COVID"),
        ("placebo", "Placebo (date fictive fin 2015)"),
        ("matched", "Zones appariées (typologies ANCT)"),
    ):
        frame = results.get(key)
        if frame is None or frame.height == 0:
            continue
        frames.append(
            frame.select(
                pl.lit(label).alias("block"),
                "treatment",
                "sample",
                "term",
                "estimate",
                "ci_low",
                "ci_high",
                "p_value",
                "n_clusters",
                "kind",
            )
        )
    res = pl.concat(frames)
    out = pl.DataFrame(
        {
            "Spécification": res["block"],
            "Traitement": [
                "intensité (part des communes)" if t == "intensity" else "binaire (≥ seuil)"
                for t in res["treatment"]
            ],
            "Échantillon": res["sample"],
            "Terme": res["term"],
            "Effet (points de chômage)": [fmt.format_ratio(v, 3) for v in res["estimate"]],
            "IC 95 %": [
                fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 3))
                for lo, hi in zip(res["ci_low"], res["ci_high"], strict=True)
            ],
            "p": [format_p_value(v) for v in res["p_value"]],
            "Zones": [fmt.format_int(v) for v in res["n_clusters"]],
            "Nature": [_kind_fr(k) for k in res["kind"]],
        }
    )
    note = (
        "Différence de différences à effets fixes zone et trimestre (transformation within), "
        "erreurs types groupées par zone d'emploi. « Causal sous hypothèses » : tendances "
        "parallèles, pas d'anticipation, pas de débordement entre zones, date du label."
    )
    planted = (metadata.get("planted_effects") or {}).get("unemployment")
    if metadata.get("synthetic") and planted:
        note += (
            f" DONNÉES SYNTHÉTIQUES : l'effet planté est de "
            f"{fmt.format_ratio(planted['effect_pp_per_unit_intensity'], 2)} point par unité "
            f"d'intensité à partir de {planted['start_period']}, atteint progressivement en "
            f"{planted['ramp_quarters']} trimestres ; l'estimation doit s'en approcher."
        )
    return fmt.to_html_table(
        out,
        caption="Effet du label sur le taux de chômage des zones d'emploi",
        source=(
            "Source : INSEE, taux de chômage localisés par zone d'emploi ; ANCT, périmètres "
            "de la phase 1 ; calculs analyse."
        ),
        note=note,
    )


def compute_unemployment_trends(
    labour_panel: pl.DataFrame,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    ti_id: str | None = None,
    phase: int = 1,
    region_code: str | None = None,
    start: str = "2010-T1",
) -> pl.DataFrame:
    """Quarterly unemployment rate for a territory, its région and France (long frame).

    The territory's rate is the mean of its zones d'emploi weighted by the number of the
    territory's communes in each zone; the région's and France's are the unweighted means over
    their zones (INSEE publishes no labour force by zone in our sources, so no population
    weighting). Descriptive. Columns: ``group``, ``period``, ``quarter_index``,
    ``unemployment_rate_pct``.
    """
    panel = labour_panel.filter(pl.col("period") >= start)
    frames = []
    if ti_id is not None:
        weights = (
            commune_territories.filter((pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == phase))
            .join(communes.select("commune_insee", "ze2020_code"), on="commune_insee")
            .group_by("ze2020_code")
            .agg(pl.len().alias("w"))
        )
        frames.append(
            panel.join(weights, on="ze2020_code")
            .group_by("period", "quarter_index")
            .agg(
                ((pl.col("unemployment_rate_pct") * pl.col("w")).sum() / pl.col("w").sum()).alias(
                    "unemployment_rate_pct"
                )
            )
            .with_columns(pl.lit("Territoire").alias("group"))
        )
    if region_code is not None:
        zones = communes.filter(pl.col("region_code") == region_code).select("ze2020_code").unique()
        frames.append(
            panel.join(zones, on="ze2020_code")
            .group_by("period", "quarter_index")
            .agg(pl.col("unemployment_rate_pct").mean())
            .with_columns(pl.lit("Région").alias("group"))
        )
    frames.append(
        panel.group_by("period", "quarter_index")
        .agg(pl.col("unemployment_rate_pct").mean())
        .with_columns(pl.lit("France").alias("group"))
    )
    return pl.concat(
        [f.select("group", "period", "quarter_index", "unemployment_rate_pct") for f in frames]
    ).sort("group", "quarter_index")


def describe_trends(trends: pl.DataFrame) -> str:
    """One-line reading of an unemployment-trend chart: first and last quarter of each group."""
    parts = []
    for group in trends["group"].unique(maintain_order=True):
        g = trends.filter(pl.col("group") == group).sort("quarter_index")
        if g.height == 0:
            continue
        first, last = g.row(0, named=True), g.row(-1, named=True)
        parts.append(
            f"{group} : {fmt.format_pct(first['unemployment_rate_pct'])} au "
            f"{fmt.format_period(first['period'])}, {fmt.format_pct(last['unemployment_rate_pct'])} "
            f"au {fmt.format_period(last['period'])}"
        )
    return "Lecture : " + " ; ".join(parts) + "."
