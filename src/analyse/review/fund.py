"""The fund's sections of the pages, read from the published cells: headline, breakdowns (table,
chart, reading line), scope comparisons, sensitivity, association models and reconciliation.

Rules every section follows: values are the cells' printed text (never recomputed); rankings and
superlatives only among cells that have an interval, and never on a single one; cells with no
interval are listed apart with the reason; masked cells read ``s``; every figure says it is
descriptive (declared amounts), with its Champ and its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.figures.fund import CLUSTER_LABEL_FR
from analyse.figures.scopes import cell_key
from analyse.review.cells import (
    MAIN_RATIOS,
    MEASURE_LABELS_FR,
    FundCells,
    explain_ci,
    label_dimension,
)
from analyse.review.page import Page, esc, show_figure

HEADLINE_METRIC = "investment_per_aid_eur"
#: Measures of the headline table, in order.
HEADLINE_MEASURES = (
    "n_projects",
    "n_firms",
    "aid_eur",
    "investment_eur",
    "jobs_created",
    "investment_per_aid_eur",
    "private_investment_per_aid_eur",
    "jobs_created_per_meur_aid",
    "aid_per_job_created_eur",
    "mean_project_investment_per_aid",
)
#: Columns of a breakdown table: (measure, header).
TABLE_COLUMNS = (
    ("n_projects", "Projets"),
    ("aid_eur", "Aide accordée"),
    ("investment_eur", "Investissement annoncé"),
    ("jobs_created", "Emplois à créer"),
    ("investment_per_aid_eur", "€ investis par € d'aide"),
    ("jobs_created_per_meur_aid", "Emplois par M€ d'aide"),
)
CHAMP_FUND = (
    "projets lauréats du fonds d'accélération des investissements industriels dans les "
    "territoires (France Relance, décisions 2020-2022) retenus après nettoyage ; montants et "
    "emplois déclarés par les lauréats à la décision"
)
DESCRIPTIVE_NOTE = (
    "Chiffres descriptifs (montants déclarés), pas des effets de l'aide. IC 95 % : intervalle de "
    f"confiance par jackknife par grappes d'{CLUSTER_LABEL_FR} (voir la méthodologie de la revue "
    "nationale), non publié sous 7 grappes."
)


def cells_of(page: Page) -> FundCells:
    """The fund cells of the page's bundle (read once per page)."""
    cached = page._core.get("__cells__")  # noqa: SLF001 - small per-page cache
    if cached is None:
        cached = FundCells(page.figures["cells"])
        page._core["__cells__"] = cached  # type: ignore[assignment]
    return cached  # type: ignore[return-value]


def describe_fund_source(metadata: Mapping[str, Any]) -> str:
    """Source line of the fund's figures, saying plainly what is synthetic."""
    if metadata.get("mode") in ("demo", "synthetic"):
        return (
            "Source : projets SIMULÉS par analyse demo (données synthétiques au format d'un "
            "extrait opérateur, placées sur les communes réelles) ; calculs analyse."
        )
    return (
        "Source : extrait opérateur des projets lauréats du fonds d'accélération des "
        "investissements industriels dans les territoires (France Relance) ; calculs analyse."
    )


def territory_names(page: Page, phase: int) -> dict[str, str]:
    """ti_id -> name, for the territories of a phase."""
    terr = page.core("territories").filter(pl.col("ti_phase") == phase)
    return dict(terr.select("ti_id", "ti_name").iter_rows())


# ------------------------------------------------------------------------ headline


def render_headline(page: Page, scope: Mapping[str, str], *, caption: str) -> str:
    """The key-figures table of one scope: value, 95 % interval, definition."""
    from analyse.estimate.leverage import METRICS

    cells = cells_of(page)
    rows, refs = [], []
    for measure in HEADLINE_MEASURES:
        cell = cells.get(scope, measure)
        printed = cells.printed(scope, measure)
        ci = "—"
        if cell is not None and measure not in ("n_projects", "n_firms", "aid_eur",
                                                "investment_eur", "jobs_created"):  # fmt: skip
            ci = cell.printed_ci or ("s" if cell.is_masked else fmt.NOT_AVAILABLE)
        rows.append(
            {
                "Indicateur": MEASURE_LABELS_FR[measure],
                "Valeur": printed,
                "IC 95 %": ci,
                "Définition": METRICS[measure]["definition_fr"],
            }
        )
        refs.append(cell.ref if cell else None)
    return page.table(
        pl.DataFrame(rows),
        caption,
        source=describe_fund_source(page.metadata),
        champ=CHAMP_FUND,
        note=DESCRIPTIVE_NOTE,
        cells={"Valeur": refs},
        numeric_columns=["Valeur", "IC 95 %"],
    )


def describe_scope(page: Page, scope: Mapping[str, str], name: str) -> str:
    """One HTML sentence on a scope's projects, aid and leverage (or why nothing is shown)."""
    cells = cells_of(page)
    n = cells.get(scope, "n_projects")
    if n is None:
        return f"Aucun projet du fonds n'est situé dans {esc(name)}."
    if n.is_masked:
        return (
            f"Les chiffres de {esc(name)} sont couverts par le secret statistique "
            "(moins de trois entreprises, une entreprise prépondérante, ou masquage secondaire)."
        )
    ratio = cells.get(scope, HEADLINE_METRIC)
    ci = ratio.printed_ci if ratio else None
    ci_text = (
        f" (intervalle de confiance à 95 % : {esc(ci)})"
        if ci
        else f" (pas d'intervalle publié : {esc(explain_ci(ratio.ci_reason if ratio else None))})"
    )
    return (
        f'{esc(name)} : <span data-cell="{esc(n.key)}" data-measure="n_projects">'
        f"{esc(n.printed)}</span> projets, {esc(cells.printed(scope, 'aid_eur'))} d'aide pour "
        f"{esc(cells.printed(scope, 'investment_eur'))} d'investissement annoncé ; chaque euro "
        f"d'aide y accompagne <strong>{esc(ratio.printed if ratio else fmt.NOT_AVAILABLE)} €"
        f"</strong> d'investissement{ci_text}."
    )


# ------------------------------------------------------------------------ breakdowns


def breakdown(
    page: Page, family: Sequence[str], where: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """The published cells of a breakdown with a French ``label`` column (names, not codes)."""
    frame = cells_of(page).breakdown(family, where)
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, pl.String).alias("label"))
    dim = family[-1]
    names: dict[str, str] = {}
    if dim in ("ti_p1", "ti_p2"):
        names = territory_names(page, int(dim[-1]))
    labels = [label_dimension(dim, v, names) for v in frame[dim].to_list()]
    return frame.with_columns(pl.Series("label", labels, dtype=pl.String))


def render_breakdown_table(
    page: Page,
    frame: pl.DataFrame,
    header: str,
    caption: str,
    *,
    champ: str = CHAMP_FUND,
    links: Sequence[str | None] | None = None,
    reading: str | None = None,
) -> str:
    """The table of a breakdown: projects, aid, investment, jobs and the two main ratios with
    their interval under them; every value annotated with its cell."""
    data: dict[str, list[str]] = {header: frame["label"].to_list()}
    cells: dict[str, list[Any]] = {}
    subs: dict[str, list[str | None]] = {}
    keys = frame["cell_key"].to_list()
    for measure, title in TABLE_COLUMNS:
        data[title] = frame[measure].to_list() if measure in frame.columns else ["0"] * frame.height
        cells[title] = [(k, measure) if k else None for k in keys]
        if measure in MAIN_RATIOS:
            subs[title] = [
                c if c is not None else (None if m or v == "—" else f"IC {fmt.NOT_AVAILABLE}")
                for c, m, v in zip(
                    frame[f"{measure}__ci"], frame["is_masked"], data[title], strict=True
                )
            ]
    return page.table(
        pl.DataFrame(data),
        caption,
        source=describe_fund_source(page.metadata),
        champ=champ,
        reading=reading,
        note=DESCRIPTIVE_NOTE + " Sous chaque ratio : son intervalle de confiance à 95 %.",
        cells=cells,
        links={header: list(links)} if links else None,
        subtexts=subs,
    )


def ranked(frame: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Rows that may be ranked on ``measure``: published, with a printed interval."""
    if frame.height == 0 or f"{measure}__ci" not in frame.columns:
        return frame.head(0)
    return frame.filter(~pl.col("is_masked") & pl.col(f"{measure}__ci").is_not_null()).sort(
        f"{measure}__shown", descending=True
    )


def describe_ranking(
    frame: pl.DataFrame, measure: str, reference: tuple[str, str] | None = None
) -> str:
    """Reading line of a breakdown: highest and lowest among the rows with an interval (only
    when there are at least two), the reference value, and how many rows have no interval."""
    unit = "€ d'investissement par € d'aide" if measure == HEADLINE_METRIC else "emplois par M€"
    rows = ranked(frame, measure)
    ref = f" ; {reference[0]} : {reference[1]}" if reference else ""
    others = frame.height - rows.height
    apart = (
        f" {others} ligne(s) sans intervalle publié (peu de projets ou secret) ne sont pas classées."
        if others
        else ""
    )
    if rows.height < 2:
        return (
            f"Lecture : trop peu de lignes ont un intervalle publié pour les comparer{ref}.{apart}"
        )
    top, bottom = rows.row(0, named=True), rows.row(-1, named=True)
    return (
        f"Lecture : parmi les {rows.height} lignes dont l'intervalle est publié, {top['label']} a "
        f"le ratio le plus élevé ({top[measure]} {unit}, IC {top[measure + '__ci']}), "
        f"{bottom['label']} le plus faible ({bottom[measure]}){ref}. Des intervalles qui se "
        f"chevauchent ne permettent pas de conclure à une différence.{apart}"
    )


def render_unranked(frame: pl.DataFrame, measure: str) -> str:
    """The rows left out of a chart (no interval), with the reason, as a short list."""
    rows = frame.filter(pl.col("is_masked") | pl.col(f"{measure}__ci").is_null())
    if rows.height == 0:
        return ""
    items = []
    for r in rows.iter_rows(named=True):
        why = "secret statistique" if r["is_masked"] else explain_ci(r.get(f"{measure}__ci_reason"))
        items.append(f"{esc(r['label'])} ({esc(r.get(measure) or 's')} ; {esc(why)})")
    return (
        '<p class="analyse-nd-list">Non représentés faute d\'intervalle publié : '
        + " ; ".join(items)
        + ".</p>"
    )


def show_breakdown_chart(
    page: Page,
    frame: pl.DataFrame,
    measure: str,
    title: str,
    *,
    reference: tuple[str, float | None, str] | None = None,
    champ: str = CHAMP_FUND,
) -> None:
    """Bars of ``measure`` with intervals for the rows that have one (ranked), the others
    listed under the chart; data-table alternative with the printed values."""
    from IPython.display import HTML, display

    from analyse import charts

    rows = ranked(frame, measure)
    ref_label, ref_value, ref_text = reference or (None, None, None)
    reading = describe_ranking(frame, measure, (ref_label, ref_text) if reference else None)
    if rows.height < 2:
        display(
            HTML(
                f"<p class='analyse-note'>Pas de graphique « {esc(title)} » : moins de deux lignes "
                "ont un intervalle de confiance publié (il faut au moins 7 intercommunalités "
                "porteuses de projets) ; le tableau donne toutes les valeurs.</p>"
            )
        )
        return
    lo_hi = rows[f"{measure}__ci"].str.extract_groups(r"^\[(.+)\u00a0; (.+)\]$")
    data = rows.with_columns(
        lo_hi.struct.field("1").map_elements(fmt.printed_value, return_dtype=pl.Float64).alias("lo"),
        lo_hi.struct.field("2").map_elements(fmt.printed_value, return_dtype=pl.Float64).alias("hi"),
    )  # fmt: skip
    chart = charts.chart_leverage_bars(
        data,
        "label",
        f"{measure}__shown",
        "lo",
        "hi",
        title=title,
        reading=reading,
        source=describe_fund_source(page.metadata),
        masked="is_masked",
        axis_title="€ d'investissement par € d'aide"
        if measure == HEADLINE_METRIC
        else "emplois à créer par M€ d'aide",
        reference_value=ref_value,
        reference_label=ref_label or "France",
        cell="cell_key",
        measure=measure,
    )
    table = pl.DataFrame(
        {
            "Ligne": rows["label"],
            MEASURE_LABELS_FR[measure]: rows[measure],
            "IC 95 %": rows[f"{measure}__ci"],
        }
    )
    show_figure(
        page,
        chart,
        title,
        champ=champ,
        reading=reading,
        source=describe_fund_source(page.metadata),
        note=DESCRIPTIVE_NOTE,
        data=table,
        data_cells={MEASURE_LABELS_FR[measure]: [(k, measure) for k in rows["cell_key"]]},
    )
    display(HTML(render_unranked(frame, measure)))


# ------------------------------------------------------------------------ comparisons


def render_scope_comparison(
    page: Page,
    scopes: Sequence[tuple[str, Mapping[str, str]]],
    caption: str,
    *,
    links: Sequence[str | None] | None = None,
) -> str:
    """One row per (label, scope) — e.g. a territory, its région and France."""
    cells = cells_of(page)
    rows = []
    for label, scope in scopes:
        key = cell_key(scope)
        row: dict[str, Any] = {"label": label, "cell_key": key}
        masked = False
        for measure, _ in TABLE_COLUMNS:
            cell = cells.get(scope, measure)
            row[measure] = cells.printed(scope, measure)
            masked = masked or bool(cell and cell.is_masked)
            if measure in MAIN_RATIOS:
                row[f"{measure}__ci"] = cell.printed_ci if cell else None
        row["is_masked"] = masked
        rows.append(row)
    return render_breakdown_table(
        page, pl.DataFrame(rows, infer_schema_length=None), "Périmètre", caption, links=links
    )


# ------------------------------------------------------------------------ national frames


def render_sensitivity(page: Page) -> str:
    """National ratios under each sensitivity variant."""
    sens = page.figures["fund_sensitivity"]
    wide = sens.pivot(on="metric", index=["variant_label_fr", "n_projects"], values="estimate")
    table = pl.DataFrame(
        {
            "Variante": wide["variant_label_fr"],
            "Projets": [fmt.format_int(v) for v in wide["n_projects"]],
            "€ investis par € d'aide": [fmt.format_ratio(v) for v in wide[HEADLINE_METRIC]],
            "Emplois par M€ d'aide": [
                fmt.format_ratio(v) for v in wide["jobs_created_per_meur_aid"]
            ],
        }
    )
    return page.table(
        table,
        "Sensibilité des ratios nationaux aux grands projets et aux montants réalisés",
        source=describe_fund_source(page.metadata),
        champ=CHAMP_FUND,
        note="« n.d. » : variante impossible faute de montants réalisés renseignés.",
    )


MODEL_TERMS_FR = {
    ("investment", "log_aid_eur"): "Élasticité de l'investissement à l'aide (log-log)",
    ("jobs", "log_aid_eur"): "Élasticité des emplois à créer à l'aide",
    ("jobs", "semi_elasticity_per_meur"): (
        "Variation en % des emplois à créer associée à 1 M€ d'aide en plus"
    ),
    ("jobs", "jobs_per_meur_at_mean"): (
        "Emplois à créer associés à 1 M€ d'aide en plus, au projet moyen"
    ),
    ("jobs", "alpha"): "Surdispersion (binomiale négative)",
}


def _planted_values(page: Page) -> dict[tuple[str, str], str]:
    """On demonstration data, the elasticities the generator planted (what the models should
    recover): investment to aid, and jobs to aid as the product of the two planted ones."""
    fund = (page.metadata.get("planted_effects") or {}).get("fund") or {}
    inv = (fund.get("log_investment_model") or {}).get("elasticity_aid")
    jobs = (fund.get("jobs_model") or {}).get("elasticity_investment")
    if inv is None or jobs is None:
        return {}
    return {
        ("investment", "log_aid_eur"): fmt.format_ratio(inv, 2),
        ("jobs", "log_aid_eur"): f"{fmt.format_ratio(inv * jobs, 2)} (= {fmt.format_ratio(inv, 1)} × {fmt.format_ratio(jobs, 1)})",
    }  # fmt: skip


def render_models(page: Page) -> str:
    """Associations between aid, investment and jobs (not causal), with their reconciliation
    to the descriptive ratio and, on demonstration data, the planted values."""
    from analyse.review.label import format_p_value

    res = page.figures["fund_models"]
    keys = list(zip(res["model"], res["term"], strict=True))
    res = res.filter(pl.Series([k in MODEL_TERMS_FR for k in keys]))
    keys = [k for k in keys if k in MODEL_TERMS_FR]
    model_fr = {
        "investment": "Investissement (MCO log-log ; effets fixes région, secteur, taille)",
        "jobs": "Emplois à créer (GLM de Poisson ; mêmes contrôles)",
    }
    data = {
        "Modèle": [model_fr.get(m, m) for m, _ in keys],
        "Terme": [MODEL_TERMS_FR[k] for k in keys],
        "Estimation": [fmt.format_ratio(v, 2) for v in res["estimate"]],
        "IC 95 %": [
            fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 2))
            for lo, hi in zip(res["ci_low"], res["ci_high"], strict=True)
        ],
        "p": [format_p_value(v) for v in res["p_value"]],
        "Projets (grappes)": [
            f"{fmt.format_int(n)} ({fmt.format_int(g)})"
            for n, g in zip(res["n_obs"], res["n_clusters"], strict=True)
        ],
    }
    planted = _planted_values(page)
    if planted:
        data["Valeur plantée (démonstration)"] = [planted.get(k, "—") for k in keys]
    ratio = cells_of(page).printed({}, "jobs_created_per_meur_aid")
    return page.table(
        pl.DataFrame(data),
        "Associations entre aide, investissement et emplois déclarés (non causales)",
        source=describe_fund_source(page.metadata),
        champ=CHAMP_FUND,
        note=(
            "Associations statistiques, pas des effets de l'aide : les projets ont été "
            "sélectionnés et les montants sont déclarés. Erreurs types robustes groupées par "
            "intercommunalité (grappes). Les emplois « associés à 1 M€ d'aide en plus » sont une "
            "pente au projet moyen, à ne pas confondre avec le ratio descriptif moyen "
            f"({ratio} emplois par M€ d'aide) : la pente décrit l'écart entre projets plus ou "
            "moins aidés, le ratio la moyenne."
            + (
                " Sur les données de démonstration, la colonne « Valeur plantée » donne ce que le "
                "générateur a fixé : l'estimation doit s'en approcher."
                if planted
                else ""
            )
        ),
    )


MEASURE_LABELS_RECONCILIATION = {
    "n_projects": "Projets",
    "aid_eur": "Aide",
    "investment_eur": "Investissement",
    "jobs_created": "Emplois créés / à créer",
    "jobs_maintained": "Emplois maintenus",
}


def render_reconciliation(page: Page) -> str:
    """Our aggregates against each published figure (identical statements merged), with a
    warning on demonstration data."""
    if "fund_reconciliation" not in page.figures:
        return (
            "<p class='analyse-note'>Rapprochement non disponible : chiffres publiés absents.</p>"
        )
    rec = page.figures["fund_reconciliation"]
    merged = (
        rec.group_by("date", "region", "measure", "published_value", maintain_order=True)
        .agg(
            pl.col("our_value_at_date").first(),
            pl.col("gap_pct").first(),
            pl.col("source").unique(maintain_order=True).str.join(" ; "),
            pl.col("definition_note").first(),
        )  # fmt: skip
        .sort("date")
    )

    def value(measure: str, v: Any) -> str:
        if v is None:
            return fmt.NOT_AVAILABLE
        return fmt.format_eur(v) if measure.endswith("_eur") else fmt.format_int(v)

    heads = [str(n).split(" Date d'arrêt", 1)[0].strip() for n in merged["definition_note"]]
    numbers = {h: i for i, h in enumerate(dict.fromkeys(heads), start=1)}
    sources = {x: chr(ord("a") + i) for i, x in enumerate(dict.fromkeys(merged["source"]))}
    table = pl.DataFrame(
        {
            "Date": [fmt.format_date_fr(d) for d in merged["date"]],
            "Périmètre": [r or "France" for r in merged["region"].to_list()],
            "Grandeur": [MEASURE_LABELS_RECONCILIATION.get(m, m) for m in merged["measure"]],
            "Publié": [value(m, v) for m, v in zip(merged["measure"], merged["published_value"], strict=True)],
            "Nos données à la date": [value(m, v) for m, v in zip(merged["measure"], merged["our_value_at_date"], strict=True)],
            "Écart": [fmt.NOT_AVAILABLE if g is None else fmt.format_pct(g, 0) for g in merged["gap_pct"]],
            "Explication": [f"({numbers[h]})" for h in heads],
            "Source": [f"[{sources[x]}]" for x in merged["source"]],
        }
    )  # fmt: skip
    demo = page.mode in ("demo", "synthetic")
    note = (
        "Écart = (nos données à la date − publié) ÷ publié ; nos données ne comptent que les "
        "projets décidés au plus tard à la date de la publication."
    )
    if demo:
        note += (
            " DONNÉES DE DÉMONSTRATION : les projets sont simulés et calés sur les nombres de "
            "lauréats annoncés à chaque date ; les écarts ne mesurent donc rien."
        )
    items = "".join(f"<li>({n}) {esc(h)}</li>" for h, n in numbers.items())
    items += "".join(f"<li>[{k}] {esc(x)}</li>" for x, k in sources.items())
    return (
        page.table(
            table,
            "Rapprochement avec les chiffres annoncés publiquement",
            source="colonne « Source » (renvois sous le tableau) ; nos données : voir la provenance",
            champ="chiffres annoncés par le ministère, la presse et la Cour des comptes, 2020-2024",
            note=note,
        )
        + f'<ul class="analyse-notes">{items}</ul>'
    )


Linker = Callable[[str], str | None]


def explorer_frame(page: Page, phase: int) -> pl.DataFrame:
    """Published territories of a phase (whole territories, not masked) with the printed aid,
    investment and project counts, for the exploration notebook's linked views."""
    frame = breakdown(page, [f"ti_p{phase}"]).filter(~pl.col("is_masked"))
    names = territory_names(page, phase)
    region = dict(
        page.core("territories")
        .filter(pl.col("ti_phase") == phase)
        .select("ti_id", "region_code")
        .iter_rows()
    )
    return frame.select(
        pl.col(f"ti_p{phase}").replace_strict(names, default=None).alias("ti_name"),
        pl.col(f"ti_p{phase}").replace_strict(region, default=None).alias("region_code"),
        pl.col("aid_eur__shown").alias("aid_eur"),
        pl.col("investment_eur__shown").alias("investment_eur"),
        pl.col("n_projects__shown").alias("n_projects"),
    ).drop_nulls()


def render_microdata_warning(page: Page) -> str:
    """The warning shown above project-level rows."""
    nature = (
        "simulées (démonstration)"
        if page.mode in ("demo", "synthetic")
        else "CONFIDENTIELLES (extrait opérateur)"
    )
    return (
        '<div role="alert" style="border:3px solid #E1000F;padding:.75rem">'
        f"<strong>Microdonnées {esc(nature)}</strong> : lignes par projet, non protégées par le "
        "secret statistique. Ne les publiez pas, ne les copiez pas dans un rapport ; ce carnet "
        "n'enregistre pas ses sorties dans git.</div>"
    )


def with_empty_scopes(frame: pl.DataFrame, dim: str, labels: Mapping[str, str]) -> pl.DataFrame:
    """A breakdown completed with the values of ``dim`` that hold no project (``labels``: value
    -> French label): "0" project, "—" elsewhere, no cell key (nothing published to protect)."""
    present = set(frame[dim].to_list()) if frame.height else set()
    missing = [(v, lab) for v, lab in labels.items() if v not in present]
    if not missing:
        return frame
    empty: dict[str, Any] = {dim: [v for v, _ in missing], "label": [lab for _, lab in missing]}
    empty["cell_key"] = [None] * len(missing)
    empty["is_masked"] = [False] * len(missing)
    for measure, _ in TABLE_COLUMNS:
        empty[measure] = ["0" if measure == "n_projects" else "—"] * len(missing)
    out = pl.concat([frame, pl.DataFrame(empty)], how="diagonal_relaxed")
    return out.sort("label")
