"""The fund's figures for reports: headline, leverage tables with intervals and secrecy,
sensitivity, models and the reconciliation with published figures (all rendered in French)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.review.label import format_p_value

#: Metric shown with an interval in report tables and bar charts.
HEADLINE_METRIC = "investment_per_aid_eur"
#: Ratios given in the headline table, in order.
HEADLINE_RATIOS = (
    "investment_per_aid_eur",
    "private_investment_per_aid_eur",
    "jobs_created_per_meur_aid",
    "aid_per_job_created_eur",
    "mean_project_investment_per_aid",
)
#: Totals given in the headline table, in order.
HEADLINE_TOTALS = ("n_projects", "n_firms", "aid_eur", "investment_eur", "jobs_created")

_LEVERAGE_VALUE_COLS = (
    "n_projects",
    "n_firms",
    "aid_eur",
    "investment_eur",
    "jobs_created",
    "jobs_maintained",
)


def attach_intervals(
    cells: pl.DataFrame, boot: pl.DataFrame, keys: list[str], metrics: tuple[str, ...]
) -> pl.DataFrame:
    """Join each metric's bootstrap interval (``<metric>_ci_low`` / ``_ci_high``) to ``cells``;
    the intervals of masked cells are null, like their values."""
    out = cells
    for m in metrics:
        interval = boot.filter(pl.col("metric") == m).select(
            *keys, pl.col("ci_low").alias(f"{m}_ci_low"), pl.col("ci_high").alias(f"{m}_ci_high")
        )
        out = out.join(interval, on=keys, how="left", nulls_equal=True)
    hide = [f"{m}_{side}" for m in metrics for side in ("ci_low", "ci_high")]
    return out.with_columns(
        pl.when(pl.col("is_masked")).then(None).otherwise(pl.col(c)).alias(c) for c in hide
    )


def build_leverage_table(
    projects: pl.DataFrame,
    by: list[str],
    *,
    phase: int = 1,
    metrics: tuple[str, ...] = (HEADLINE_METRIC, "jobs_created_per_meur_aid"),
    cluster: str = "epci_siren",
    n_boot: int = 999,
    seed: int = 2018,
) -> pl.DataFrame:
    """Totals, ratios with cluster-bootstrap intervals, and statistical secrecy, per cell of ``by``.

    One row per cell: the keys, ``n_projects``, ``n_firms``, ``aid_eur``, ``investment_eur``,
    ``jobs_created``, ``jobs_maintained``, for each metric ``<metric>``, ``<metric>_ci_low``,
    ``<metric>_ci_high``, and ``is_masked`` / ``mask_reason``. Masked cells have every value
    (ratios and intervals included) null, never zero; the national total is treated as published,
    so a single masked cell cannot be recovered from it (secondary suppression).
    """
    from analyse.estimate import apply_secrecy, bootstrap_leverage, summarise_leverage

    summary = summarise_leverage(projects, by, phase=phase, margins=True)
    masked = apply_secrecy(summary, keys=by, total_row=True)
    cells = masked.filter(pl.col("total_over").is_null())
    boot = bootstrap_leverage(
        projects, by, cluster=cluster, n_boot=n_boot, seed=seed, metrics=metrics, phase=phase
    )
    keys = [c for c in boot.columns if c in cells.columns and c in (*by, "ti_phase")]
    out = attach_intervals(cells, boot, keys, metrics)
    keep = [*keys, *_LEVERAGE_VALUE_COLS]
    for m in metrics:
        keep += [m, f"{m}_ci_low", f"{m}_ci_high"]
    keep += ["is_masked", "mask_reason"]
    return out.select([c for c in dict.fromkeys(keep) if c in out.columns])


def build_headline(
    projects: pl.DataFrame,
    *,
    phase: int = 1,
    cluster: str = "epci_siren",
    n_boot: int = 999,
    seed: int = 2018,
) -> pl.DataFrame:
    """Headline figures of a set of projects: totals, then ratios with their interval.

    Columns: ``metric``, ``label_fr``, ``estimate``, ``ci_low``, ``ci_high``, ``unit``,
    ``definition_fr``, ``kind`` (every figure here is descriptive).
    """
    from analyse.estimate import bootstrap_leverage, describe_metrics, summarise_leverage

    total = summarise_leverage(projects, None, phase=phase).row(0, named=True)
    boot = bootstrap_leverage(
        projects,
        None,
        cluster=cluster,
        n_boot=n_boot,
        seed=seed,
        metrics=HEADLINE_RATIOS,
        phase=phase,
    )
    ci = {r["metric"]: (r["ci_low"], r["ci_high"]) for r in boot.iter_rows(named=True)}
    rows = [
        {
            "metric": m,
            "estimate": float(total[m]) if total[m] is not None else None,
            "ci_low": ci.get(m, (None, None))[0],
            "ci_high": ci.get(m, (None, None))[1],
        }
        for m in (*HEADLINE_TOTALS, *HEADLINE_RATIOS)
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "metric": pl.String,
            "estimate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
        },
    )
    described = describe_metrics()
    return frame.join(described, on="metric", how="left", maintain_order="left").select(
        "metric", "label_fr", "estimate", "ci_low", "ci_high", "unit", "definition_fr", "kind"
    )


def format_metric_value(metric: str, value: Any) -> str:
    """French display of one metric value, by its unit."""
    from analyse import formatting as fmt

    if metric in ("aid_eur", "investment_eur", "private_investment_eur", "aid_per_job_created_eur"):
        return fmt.format_eur(value)
    if metric in ("n_projects", "n_firms", "jobs_created", "jobs_maintained"):
        return fmt.format_int(value)
    return fmt.format_ratio(value, 1)


def render_headline(headline: pl.DataFrame, *, caption: str, source: str) -> str:
    """The headline table as HTML: label, value, 95 % interval, definition."""
    table = pl.DataFrame(
        {
            "Indicateur": headline["label_fr"],
            "Valeur": [
                format_metric_value(m, v)
                for m, v in zip(headline["metric"], headline["estimate"], strict=True)
            ],
            "Intervalle à 95 %": [
                ""
                if lo is None
                else fmt.format_interval(lo, hi, lambda x, m=m: format_metric_value(m, x))
                for m, lo, hi in zip(
                    headline["metric"], headline["ci_low"], headline["ci_high"], strict=True
                )
            ],
            "Définition": headline["definition_fr"],
        }
    )
    return fmt.to_html_table(
        table,
        caption=caption,
        source=source,
        note=(
            "Chiffres descriptifs (montants déclarés par les lauréats), pas des effets causaux. "
            "Intervalles : bootstrap par grappes d'EPCI (percentiles), reproductible (graine fixée)."
        ),
    )


def add_region_names(df: pl.DataFrame, code_col: str = "region_code") -> pl.DataFrame:
    """Add ``region_name`` from the COG région code."""
    from analyse.reference import REGION_NAMES

    return df.with_columns(
        pl.col(code_col).replace_strict(REGION_NAMES, default=pl.col(code_col)).alias("region_name")
    )


def add_territory_names(
    df: pl.DataFrame, territories: pl.DataFrame, *, phase: int, id_col: str = "ti_id"
) -> pl.DataFrame:
    """Add ``ti_name`` for territory ids of the given phase."""
    names = territories.filter(pl.col("ti_phase") == phase).select(
        pl.col("ti_id").alias(id_col), "ti_name"
    )
    return df.join(names, on=id_col, how="left")


def get_metric(headline: pl.DataFrame, metric: str) -> float | None:
    """The estimate of one metric in a headline frame."""
    row = headline.filter(pl.col("metric") == metric)
    return None if row.height == 0 else row["estimate"][0]


def describe_headline(headline: pl.DataFrame) -> str:
    """A French paragraph stating the headline figures, each computed from the data."""
    values = dict(zip(headline["metric"], headline["estimate"], strict=True))
    low = dict(zip(headline["metric"], headline["ci_low"], strict=True))
    high = dict(zip(headline["metric"], headline["ci_high"], strict=True))
    ratio = "investment_per_aid_eur"
    jobs = "jobs_created_per_meur_aid"
    return (
        f"Les {fmt.format_count(values['n_projects'], 'projet', 'projets')} retenus ont reçu "
        f"{fmt.format_eur(values['aid_eur'])} d'aide pour "
        f"{fmt.format_eur(values['investment_eur'])} d'investissement annoncé et "
        f"{fmt.format_count(values['jobs_created'], 'emploi', 'emplois')} à créer (déclarés). "
        f"Chaque euro d'aide accompagne **{fmt.format_ratio(values[ratio])} €** "
        f"d'investissement (intervalle à 95 % : "
        f"{fmt.format_interval(low[ratio], high[ratio])}) et chaque million d'euros d'aide "
        f"**{fmt.format_ratio(values[jobs])} emplois** annoncés "
        f"({fmt.format_interval(low[jobs], high[jobs])}). Ce sont des rapports entre montants "
        "déclarés, pas des effets causaux de l'aide."
    )


def describe_leverage_bars(
    table: pl.DataFrame,
    category: str,
    reference: float | None,
    *,
    metric: str = HEADLINE_METRIC,
) -> str:
    """One-line reading of a leverage bar chart: highest and lowest published cells."""
    shown = table.filter(~pl.col("is_masked") & pl.col(metric).is_not_null()).sort(
        metric, descending=True
    )
    if shown.height == 0:
        return "Lecture : toutes les cases sont masquées (secret statistique)."
    top, bottom = shown.row(0, named=True), shown.row(-1, named=True)
    unit = "€ d'investissement par € d'aide" if metric == HEADLINE_METRIC else "emplois par M€"
    ref = f" ; France : {fmt.format_ratio(reference)}" if reference is not None else ""
    return (
        f"Lecture : {top[category]} a le ratio le plus élevé ({fmt.format_ratio(top[metric])} "
        f"{unit}), {bottom[category]} le plus faible ({fmt.format_ratio(bottom[metric])}){ref}. "
        "Traits : intervalles à 95 %."
    )


def render_leverage_table(
    table: pl.DataFrame,
    category: str,
    label: str,
    *,
    source: str,
    cluster_label: str = "EPCI",
) -> str:
    """HTML table of a leverage breakdown; masked cells read ``s``, never zero."""
    masked = table["is_masked"].to_list()

    def col(name: str, formatter: Any) -> list[str]:
        return [
            fmt.format_masked(v, m, formatter)
            for v, m in zip(table[name].to_list(), masked, strict=True)
        ]

    def interval(name: str) -> list[str]:
        return [
            "s" if m else ("n.d." if lo is None or hi is None else fmt.format_interval(lo, hi))
            for lo, hi, m in zip(
                table[f"{name}_ci_low"], table[f"{name}_ci_high"], masked, strict=True
            )
        ]

    out = pl.DataFrame(
        {
            label: [str(v) if v is not None else "Non renseigné" for v in table[category]],
            "Projets": col("n_projects", fmt.format_int),
            "Aide": col("aid_eur", fmt.format_eur),
            "Investissement": col("investment_eur", fmt.format_eur),
            "Emplois à créer": col("jobs_created", fmt.format_int),
            "€ investis par € d'aide": col(HEADLINE_METRIC, fmt.format_ratio),
            "IC 95 %": interval(HEADLINE_METRIC),
            "Emplois par M€": col("jobs_created_per_meur_aid", fmt.format_ratio),
            "IC 95 % ": interval("jobs_created_per_meur_aid"),
        }
    )
    n_masked = sum(bool(m) for m in masked)
    return fmt.to_html_table(
        out,
        caption=f"Aide, investissement et emplois déclarés par {label.lower()}",
        source=source,
        note=(
            f"{fmt.format_count(n_masked, 'case masquée', 'cases masquées')} (secret "
            "statistique : moins de 3 entreprises, une entreprise au-delà de 85 % du montant, ou "
            "masquage secondaire). IC : bootstrap par grappes "
            f"({cluster_label}) ; « n.d. » quand moins de 5 grappes portent des projets."
        ),
    )


def render_in_ti_comparison(table: pl.DataFrame, *, phase: int, source: str) -> str:
    """HTML comparison of projects inside and outside the territories of a phase."""
    labelled = table.with_columns(
        pl.when(pl.col("in_ti"))
        .then(pl.lit(f"Dans un Territoire d'industrie (phase {phase})"))
        .otherwise(pl.lit("Hors Territoire d'industrie"))
        .alias("Localisation")
    )
    return render_leverage_table(labelled, "Localisation", "Localisation", source=source) + (
        "<p class='analyse-note'>Comparaison descriptive : les projets situés dans les territoires "
        "labellisés diffèrent des autres par leur secteur, leur taille et leur région ; l'écart "
        "de ratio n'est pas un effet du label.</p>"
    )


def render_sensitivity(
    projects: pl.DataFrame, *, phase: int = 1, seed: int = 2018, source: str
) -> str:
    """HTML table of the national ratios under each sensitivity variant."""
    from analyse.estimate import sensitivity_leverage

    sens = sensitivity_leverage(
        projects,
        None,
        phase=phase,
        metrics=(HEADLINE_METRIC, "jobs_created_per_meur_aid"),
        seed=seed,
    )
    wide = sens.pivot(on="metric", index=["variant_label_fr", "n_projects"], values="estimate")
    out = pl.DataFrame(
        {
            "Variante": wide["variant_label_fr"],
            "Projets": [fmt.format_int(v) for v in wide["n_projects"]],
            "€ investis par € d'aide": [fmt.format_ratio(v) for v in wide[HEADLINE_METRIC]],
            "Emplois par M€ d'aide": [
                fmt.format_ratio(v) for v in wide["jobs_created_per_meur_aid"]
            ],
        }
    )
    return fmt.to_html_table(
        out,
        caption="Sensibilité des ratios nationaux",
        source=source,
        note="« n.d. » : variante impossible faute de montants réalisés renseignés.",
    )


MODEL_TERMS_FR = {
    "log_aid_eur": "Élasticité à l'aide (log-log)",
    "semi_elasticity_per_meur": "Effet d'un M€ d'aide supplémentaire (semi-élasticité)",
    "jobs_per_meur_at_mean": "Emplois par M€ d'aide, au point moyen",
    "alpha": "Surdispersion (binomiale négative)",
}


def render_models(projects: pl.DataFrame, *, source: str) -> str:
    """HTML table of the elasticity and jobs models (associations, cluster-robust errors)."""
    from analyse.estimate import fit_investment_elasticity, fit_jobs_model

    frames = [
        fit_investment_elasticity(projects).with_columns(
            pl.lit("Investissement (MCO log-log, effets fixes région, secteur, taille)").alias(
                "Modèle"
            )
        ),
        fit_jobs_model(projects, family="poisson").with_columns(
            pl.lit("Emplois à créer (GLM de Poisson, mêmes contrôles)").alias("Modèle")
        ),
    ]
    res = pl.concat(
        [
            f.select(
                "Modèle", "term", "estimate", "ci_low", "ci_high", "p_value", "n_obs", "n_clusters"
            )
            for f in frames
        ]
    )
    res = res.filter(pl.col("term").is_in(list(MODEL_TERMS_FR)))
    out = pl.DataFrame(
        {
            "Modèle": res["Modèle"],
            "Terme": [MODEL_TERMS_FR[t] for t in res["term"]],
            "Estimation": [fmt.format_ratio(v, 3) for v in res["estimate"]],
            "IC 95 %": [
                fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 3))
                for lo, hi in zip(res["ci_low"], res["ci_high"], strict=True)
            ],
            "p": [format_p_value(v) for v in res["p_value"]],
            "Projets": [fmt.format_int(v) for v in res["n_obs"]],
            "Grappes (EPCI)": [fmt.format_int(v) for v in res["n_clusters"]],
        }
    )
    return fmt.to_html_table(
        out,
        caption="Associations entre aide, investissement et emplois déclarés",
        source=source,
        note=(
            "Associations statistiques, non causales (sélection des projets, montants déclarés). "
            "Erreurs types robustes groupées par EPCI."
        ),
    )


MEASURE_LABELS = {
    "n_projects": "Projets",
    "aid_eur": "Aide",
    "investment_eur": "Investissement",
    "jobs_created": "Emplois créés / à créer",
    "jobs_maintained": "Emplois maintenus",
}


def render_reconciliation(projects: pl.DataFrame, published_dir: Path | None) -> str:
    """HTML reconciliation of our aggregates with each published figure (source, date, gap)."""
    from analyse.estimate import reconcile_with_published

    if published_dir is None or not (published_dir / "fund_announcements.csv").is_file():
        return (
            "<p class='analyse-note'>Rapprochement non disponible : le fichier des chiffres "
            "publiés (fund_announcements.csv) n'a pas été trouvé.</p>"
        )
    rec = reconcile_with_published(projects, published_dir / "fund_announcements.csv")

    def value(measure: str, v: Any) -> str:
        if v is None:
            return "n.d."
        return fmt.format_eur(v) if measure.endswith("_eur") else fmt.format_int(v)

    # Each explanation = a definition (per measure and scope) + a cut-off sentence (per date):
    # list the definitions once, numbered, and refer to them from the table.
    heads = [str(n).split(" Date d'arrêt", 1)[0].strip() for n in rec["definition_note"]]
    numbers = {h: i for i, h in enumerate(dict.fromkeys(heads), start=1)}
    out = pl.DataFrame(
        {
            "Date": [fmt.format_date_fr(d) for d in rec["date"]],
            "Périmètre": [r if r else "France" for r in rec["region"].cast(pl.String).to_list()],
            "Grandeur": [MEASURE_LABELS.get(m, m) for m in rec["measure"]],
            "Publié": [
                value(m, v) for m, v in zip(rec["measure"], rec["published_value"], strict=True)
            ],
            "Nos données à la date": [
                value(m, v) for m, v in zip(rec["measure"], rec["our_value_at_date"], strict=True)
            ],
            "Écart": ["n.d." if g is None else fmt.format_pct(g) for g in rec["gap_pct"]],
            "Explication": [f"({numbers[h]})" for h in heads],
            "Source": rec["source"],
        }
    )
    notes = "".join(f"<li>{html.escape(h)}</li>" for h in numbers)
    return (
        fmt.to_html_table(
            out,
            caption="Rapprochement avec les chiffres publiés",
            source="Sources : colonne « Source » ; nos données : voir provenance.",
            note=(
                "Écart = (nos données à la date − publié) ÷ publié ; « nos données à la date » ne "
                "comptent que les projets décidés au plus tard à la date de la publication."
            ),
        )
        + f'<ol class="analyse-notes">{notes}</ol>'
    )


SCOPE_ORDER = ("Territoire", "Région", "France")


def build_scope_comparison(
    projects: pl.DataFrame,
    scopes: dict[str, pl.Expr],
    *,
    phase: int = 1,
    cluster: str = "siren",
    n_boot: int = 999,
    seed: int = 2018,
) -> pl.DataFrame:
    """The same figures for nested scopes (e.g. a territory, its région, France), one row each.

    ``scopes`` maps a label to a filter on ``projects``. Intervals use a cluster bootstrap on
    ``cluster`` (firms by default: a territory rarely has the 5 EPCI an EPCI bootstrap needs).
    Primary statistical secrecy applies to each row (fewer than 3 firms, or one firm above 85 %
    of the amount); masked rows have every value null.
    """
    from analyse.estimate import apply_secrecy, bootstrap_leverage, summarise_leverage

    stacked = pl.concat(
        [
            projects.filter(expr).with_columns(pl.lit(label).alias("scope"))
            for label, expr in scopes.items()
        ]
    )
    summary = summarise_leverage(stacked, ["scope"], phase=phase)
    masked = apply_secrecy(summary, keys=["scope"], total_row=False)
    metrics = (HEADLINE_METRIC, "jobs_created_per_meur_aid")
    boot = bootstrap_leverage(
        stacked, ["scope"], cluster=cluster, n_boot=n_boot, seed=seed, metrics=metrics, phase=phase
    )
    out = (
        pl.DataFrame({"scope": list(scopes)})
        .join(masked, on="scope", how="left")
        .with_columns(pl.col("is_masked").fill_null(False))
    )
    return attach_intervals(out, boot, ["scope"], metrics)


def get_scope_metric(
    comparison: pl.DataFrame, scope: str, metric: str = HEADLINE_METRIC
) -> float | None:
    """One scope's value of a metric in a scope comparison (None when masked)."""
    row = comparison.filter(pl.col("scope") == scope)
    return None if row.height == 0 else row[metric][0]


def describe_scope_comparison(comparison: pl.DataFrame, focus: str) -> str:
    """French sentence comparing the focus scope with the others, from the data."""
    row = comparison.filter(pl.col("scope") == focus).row(0, named=True)
    if row["is_masked"]:
        return f"Les chiffres de {focus} sont couverts par le secret statistique."
    if not row["n_projects"]:
        return f"Aucun projet du fonds n'est rattaché à {focus}."
    others = [
        f"{r['scope']} : {fmt.format_ratio(r[HEADLINE_METRIC])} €"
        for r in comparison.iter_rows(named=True)
        if r["scope"] != focus and not r["is_masked"]
    ]
    return (
        f"{focus} : {fmt.format_count(row['n_projects'], 'projet', 'projets')}, "
        f"{fmt.format_eur(row['aid_eur'])} d'aide, {fmt.format_eur(row['investment_eur'])} "
        f"d'investissement annoncé, {fmt.format_count(row['jobs_created'], 'emploi', 'emplois')} "
        f"à créer. Chaque euro d'aide y accompagne **{fmt.format_ratio(row[HEADLINE_METRIC])} €** "
        f"d'investissement (IC 95 % : "
        f"{fmt.format_interval(row[HEADLINE_METRIC + '_ci_low'], row[HEADLINE_METRIC + '_ci_high'])}"
        f") ; {' ; '.join(others)}."
    )


def render_scope_comparison(
    comparison: pl.DataFrame, *, source: str, cluster_label: str = "entreprises"
) -> str:
    """HTML table of a scope comparison (territory / région / France).

    ``cluster_label`` names the bootstrap clusters used to build ``comparison``.
    """
    table = comparison.with_columns(pl.col("scope").alias("Périmètre"))
    return render_leverage_table(
        table, "Périmètre", "Périmètre", source=source, cluster_label=cluster_label
    )
