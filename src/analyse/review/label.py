"""The label's counterfactual for reports (DiD, event study, diagnostics, sensitivity, synthetic
controls) and unemployment trends, rendered in French from the estimate frames.

What the page concludes follows the evidence: the headline and the "Nature" of every row come
from the decision rule of :mod:`analyse.estimate.decision` (pre-trend test and placebo both
reported), post-2020 rows read "label + fonds + COVID, non séparables", pooled event-study bins
read "regroupé", and the exposure measure is stated. Functions take the plain frames of
:func:`analyse.estimate.did.run_label_counterfactual` and
:func:`analyse.estimate.synth.run_synthetic_controls` (as read back from a figures bundle) and
return French strings or HTML; no English label or code name reaches the page.
"""

from __future__ import annotations

import html
import math
from typing import Any

import polars as pl

from analyse import formatting as fmt

#: French nature of an estimate, by prefix of its ``kind`` (first match wins).
KIND_FR: tuple[tuple[str, str], ...] = (
    ("causal under assumptions, label quarter", "Causal sous hypothèses (trimestre du label)"),
    ("causal", "Causal sous hypothèses"),
    ("not causal", "Pas de conclusion causale (tendances parallèles douteuses)"),
    ("mixed", "Label + fonds + COVID, non séparables"),
    ("pooled", "Regroupé (moyenne de plusieurs trimestres)"),
    ("diagnostic", "Diagnostic"),
    ("descriptive", "Descriptif"),
    ("reference", "Référence"),
)
EXPOSURE_FR = {
    "population": "part de la population",
    "communes": "part des communes",
}
SPEC_FR = {
    "main": "Principal",
    "timing_label_quarter_treated": "Ancienne datation (4e trimestre 2018 compté traité)",
    "imputation": "Imputation (Borusyak, Jaravel, Spiess)",
    "full_window": "Jusqu'à 2023, sans traitement de la crise sanitaire",
    "covid_excluded": "Jusqu'à 2023, trimestres 2020-2021 exclus",
    "covid_baseline": "Jusqu'à 2023, crise sanitaire × niveau de chômage avant le label",
    "placebo": "Placebo (label fictif)",
    "matched": "Zones appariées (typologies ANCT)",
}
TERM_FR = {
    "x_post": "Après le label",
    "x_label_quarter": "Trimestre du label",
    "x_covid": "Trimestres 2020-2021",
    "imputation": "Après le label",
}
ND_REASON_FR = {
    "labelled_after_panel": (
        "territoire labellisé en phase 2 (à partir de novembre 2023), après le dernier "
        "trimestre publié (3e trimestre 2023)"
    ),
    "no_data": "pas de taux de chômage publié par l'INSEE pour les zones d'emploi du territoire",
    "few_donors": "trop peu de zones d'emploi hors Territoires d'industrie pour le construire",
    "poor_fit": ("le contrefactuel ne suit pas assez bien le chômage du territoire avant le label"),
}
SOURCE_CAUSAL = (
    "Source : INSEE, taux de chômage localisés par zone d'emploi ; ANCT, périmètres des "
    "Territoires d'industrie ; INSEE, population légale (si disponible) ; calculs analyse."
)


def kind_fr(kind: str | None) -> str:
    """French nature of an estimate's ``kind``."""
    for prefix, label in KIND_FR:
        if kind is not None and kind.startswith(prefix):
            return label
    return fmt.NOT_AVAILABLE


def treatment_fr(treatment: str, exposure: str | None = None) -> str:
    """``intensité (part de la population)``, ``binaire (≥ 50 % des communes)``..."""
    what = EXPOSURE_FR.get(exposure or "communes", EXPOSURE_FR["communes"])
    if treatment == "intensity":
        return f"intensité ({what})"
    return f"binaire ({what} ≥ 50 %)"


def term_fr(term: str) -> str:
    """French name of a DiD term (``intensity_x_post`` -> ``Après le label``)."""
    for suffix, label in TERM_FR.items():
        if term.endswith(suffix):
            return label
    return term.replace("_", " ")


def window_fr(start: str | None, end: str | None) -> str:
    """``"2014-T1", "2019-T4"`` -> ``1er trimestre 2014 – 4e trimestre 2019``."""
    return f"{fmt.format_period(start)} – {fmt.format_period(end)}"


def format_p_value(p: float | None) -> str:
    """French p-value: three decimals, ``< 0,001`` below that."""
    if p is None or p != p:
        return fmt.NOT_AVAILABLE
    return "< 0,001" if p < 0.001 else fmt.format_ratio(p, 3)


def format_small(value: float | None) -> str:
    """French number with enough decimals for two significant digits (``0,0027``)."""
    if value is None or value != value:
        return fmt.NOT_AVAILABLE
    v = abs(float(value))
    digits = 2 if v >= 0.1 or v == 0 else min(6, 1 - math.floor(math.log10(v)))
    return fmt.format_ratio(value, digits)


def _p_eq(p: float | None) -> str:
    """``p = 0,074`` (``p inférieure à 0,001`` below that): plain text safe inside HTML."""
    if p is not None and p == p and p < 0.001:
        return "p inférieure à 0,001"
    return f"p = {format_p_value(p)}"


def _pp(value: float | None, digits: int = 2) -> str:
    return f"{fmt.format_ratio(value, digits)}{fmt.NBSP}point"


# ---------------------------------------------------------------------------- estimation


def headline(results: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """The decision row of the headline specification (intensity × exposure used)."""
    return results["decision"].filter(pl.col("is_headline")).row(0, named=True)


def select_event_study(
    results: dict[str, pl.DataFrame],
    treatment: str | None = None,
    exposure: str | None = None,
) -> pl.DataFrame:
    """The event-study coefficients of one specification (default: the headline)."""
    head = headline(results)
    return results["event_study"].filter(
        (pl.col("treatment") == (treatment or head["treatment"]))
        & (pl.col("exposure") == (exposure or head["exposure"]))
    )


def describe_event_study(results: dict[str, pl.DataFrame], treatment: str | None = None) -> str:
    """Reading line of the event-study chart, computed from the estimates."""
    es = select_event_study(results, treatment)
    causal = es.filter(
        (pl.col("rel_quarter") > 0) & ~pl.col("is_binned") & (pl.col("period_first") < "2020-T1")
    )
    unit = " par unité d'intensité" if es["treatment"][0] == "intensity" else ""
    ref = es.filter(pl.col("in_reference"))
    ref_text = (
        "à la moyenne des trimestres "
        + window_fr(ref["period_first"].min(), ref["period_last"].max())  # fmt: skip
        if ref.height > 1
        else "au trimestre précédant le label"
    )
    return (
        f"Lecture : chaque point est l'écart de taux de chômage (en points{unit}) entre zones "
        f"plus et moins couvertes par les Territoires d'industrie, rapporté {ref_text} ; "
        f"en 2019 l'écart moyen est de {_pp(causal['estimate'].mean())}. Les trimestres à partir "
        "de 2020 mêlent le label, le fonds d'accélération et la crise sanitaire ; les deux "
        "extrémités regroupent plusieurs trimestres. Traits : intervalles de confiance à 95 %."
    )


# ---------------------------------------------------------------------------- decision text


def _exposure_sentence(exposure: str) -> str:
    if exposure == "population":
        return (
            "Exposition d'une zone d'emploi : part de sa population (population légale INSEE) "
            "qui vit dans une commune d'un territoire de la phase 1."
        )
    return (
        "Exposition d'une zone d'emploi : part de ses communes situées dans un territoire de la "
        "phase 1 (la population communale n'est pas disponible dans ces données ; une zone dont "
        "le chef-lieu est hors territoire peut paraître plus exposée qu'elle ne l'est)."
    )


def _pretrend_text(row: dict[str, Any]) -> str:
    dist = row["pretrend_distribution"].replace(", ", f" ;{fmt.NBSP}")
    return (
        f"test joint des coefficients avant le label : {dist} = "
        f"{fmt.format_ratio(row['pretrend_statistic'], 2)}, {_p_eq(row['pretrend_p_value'])}"
    )


def _placebo_text(row: dict[str, Any]) -> str:
    return (
        f"placebo (label fictif au {fmt.format_period(row['placebo_period'])}, données "
        f"antérieures au label) : {_pp(row['placebo_estimate'], 3)}, "
        f"{_p_eq(row['placebo_p_value'])}"
    )


def describe_decision(results: dict[str, pl.DataFrame]) -> str:
    """Short French text of the decision (headline wording, pre-trend test AND placebo), plain
    text that is also safe inside HTML (no ``<``, ``>`` or ``&``): a page's key message."""
    row = headline(results)
    unit = " par unité d'intensité" if row["treatment"] == "intensity" else ""
    diag = f"{_pretrend_text(row)} ; {_placebo_text(row)}"
    if row["parallel_trends_doubtful"]:
        return (
            "Tendances parallèles douteuses : pas de conclusion causale sur l'effet du label "
            "sur le chômage. Avant le label, les zones plus couvertes par les Territoires "
            f"d'industrie n'évoluaient pas comme les autres ({diag}) ; l'écart estimé après le "
            f"label ({_pp(row['estimate'], 3)}{unit}) est donné à titre descriptif."
        )
    signif = "significatif" if row["p_value"] < 0.05 else "non significatif"
    return (
        f"Effet estimé sous hypothèses : {_pp(row['estimate'], 3)}{unit} ({signif} à 5 %, "
        f"{_p_eq(row['p_value'])}). Les diagnostics ne signalent pas d'écart de "
        f"tendance avant le label ({diag}), sans prouver pour autant les tendances parallèles."
    )


def render_decision(results: dict[str, pl.DataFrame]) -> str:
    """HTML of the decision for the page body: headline, why, both diagnostics, the rule, the
    other specifications, exposure, timing and the multiple-testing caution."""
    row = headline(results)
    a = fmt.format_ratio(row["diagnostic_alpha"], 2)
    reasons = []
    if row["fails_pretrend"]:
        reasons.append(f"le test joint des coefficients avant le label rejette au seuil de {a}")
    if row["fails_placebo"]:
        reasons.append(f"le placebo est significatif au seuil de {a}")
    if row["fails_lead_size"]:
        reasons.append(
            f"un écart avant le label ({_pp(row['max_abs_lead'])}) est au moins aussi grand que "
            f"l'effet estimé ({_pp(row['estimate'])})"
        )
    head = html.escape(describe_decision(results))
    title, _, rest = head.partition(". ")
    paragraphs = [f"<strong>{title}.</strong> {rest}"]
    if reasons:
        paragraphs.append(html.escape("Motif : " + " ; ".join(reasons) + "."))
    for o in results["decision"].filter(~pl.col("is_headline")).iter_rows(named=True):
        verdict = (
            "conclut aussi à des tendances douteuses"
            if o["parallel_trends_doubtful"]
            else "ne relève pas d'écart de tendance"
        )
        paragraphs.append(
            html.escape(
                f"Avec le traitement {treatment_fr(o['treatment'], o['exposure'])}, la même "
                f"règle {verdict} ({_pretrend_text(o)} ; {_placebo_text(o)})."
            )
        )
    rule = (
        "Règle de décision : les tendances parallèles sont jugées douteuses, et aucune ligne "
        "n'est lue comme causale, si le test joint des coefficients avant le label a une "
        f"p-value inférieure à {a}, si le placebo a une p-value inférieure à {a}, ou si l'effet "
        "principal est significatif à 5 % alors qu'un coefficient avant le label est au moins "
        "aussi grand en valeur absolue. Sous des tendances parallèles, cette règle se déclenche "
        "à tort dans environ un cas sur cinq : elle penche vers la prudence."
    )
    timing = (
        "Le label ayant été annoncé le 22 novembre 2018, le 4e trimestre 2018 n'est traité "
        "qu'en partie : il est exclu, et la période « après » commence au 1er trimestre 2019."
    )
    paragraphs += [
        html.escape(t)
        for t in (
            rule,
            _exposure_sentence(row["exposure"]),
            timing,
            describe_multiple_testing(results),
        )  # fmt: skip
    ]
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def describe_pretrend(results: dict[str, pl.DataFrame]) -> str:
    """HTML list: for each specification, the joint pre-trend test and the placebo."""
    items = []
    for row in results["decision"].iter_rows(named=True):
        verdict = (
            "signalent un écart de tendance avant le label : prudence"
            if row["fails_pretrend"] or row["fails_placebo"]
            else f"ne signalent pas d'écart de tendance au seuil de "
            f"{fmt.format_ratio(row['diagnostic_alpha'], 2)} (ce qui ne prouve pas les "
            "tendances parallèles)"
        )
        text = (
            f"{treatment_fr(row['treatment'], row['exposure']).capitalize()} : "
            f"{_pretrend_text(row)} ; {_placebo_text(row)} ; ces diagnostics {verdict}."
        )
        items.append(f"<li>{html.escape(text)}</li>")
    return f"<ul class='analyse-diagnostics'>{''.join(items)}</ul>"


def describe_multiple_testing(results: dict[str, pl.DataFrame]) -> str:
    """French caution on multiple testing (Holm-adjusted p-values of the table and the event
    studies)."""
    table = pl.concat(
        [results[k].select("p_value", "p_value_holm") for k in
         ("did", "imputation", "covid_windows", "placebo", "matched") if k in results]
    ).drop_nulls("p_value")  # fmt: skip
    es = results["event_study"].drop_nulls("p_value")
    raw = int((table["p_value"] < 0.05).sum())
    adjusted = int((table["p_value_holm"] < 0.05).sum())
    es_raw = int((es["p_value"] < 0.05).sum())
    es_adj = int((es["p_value_holm"] < 0.05).sum())
    return (
        f"Tests multiples : le tableau présente {table.height} estimations et les études "
        f"d'événement {es.height} coefficients. Une p-value inférieure à 5 % sur tant d'essais "
        "peut être un faux positif : la colonne « p ajustée » applique la méthode de Holm, qui "
        "contrôle le risque d'au moins un faux positif dans chaque famille. Significatives à "
        f"5 % : {raw} estimation(s) du tableau avant ajustement, {adjusted} après ; "
        f"{es_raw} coefficient(s) d'étude d'événement avant ajustement, {es_adj} après."
    )


# ---------------------------------------------------------------------------- table


def _planted_note(results: dict[str, pl.DataFrame], metadata: dict[str, Any]) -> str:
    planted = (metadata.get("planted_effects") or {}).get("unemployment")
    if not (metadata.get("synthetic") and planted):
        return ""
    effect = fmt.format_ratio(planted["effect_pp_per_unit_intensity"], 2)
    ramp = planted.get("ramp_quarters")
    note = (
        f" DONNÉES SYNTHÉTIQUES : l'effet planté atteint {effect} point par unité d'intensité "
        f"en {ramp} trimestres à partir du {fmt.format_period(planted['start_period'])}. Chaque "
        "ligne estime la moyenne de l'effet planté sur sa propre fenêtre (colonne « Valeur "
        "plantée ») : c'est à cette valeur, et non à l'effet final, que l'estimation doit se "
        "comparer."
    )
    return note if "planted_target" in results["did"].columns else note.split(" Chaque")[0]


def render_did_table(
    results: dict[str, pl.DataFrame], metadata: dict[str, Any], *, number: int | None = None
) -> str:
    """HTML table of every DiD-type estimate with its nature (decision rule), window, Holm
    p-value and, on the synthetic demo, the planted value it should recover."""
    frames = []
    for key in ("did", "imputation", "covid_windows", "placebo", "matched"):
        frame = results.get(key)
        if frame is None or frame.height == 0:
            continue
        extra = ["planted_target"] if "planted_target" in frame.columns else []
        frames.append(
            frame.select("spec", "treatment", "exposure", "window_start", "window_end",
                         "post_start", "term", "estimate", "ci_low", "ci_high", "p_value",
                         "p_value_holm", "n_clusters", "kind", *extra)
        )  # fmt: skip
    res = pl.concat(frames, how="diagonal_relaxed")
    spec = []
    for s, post in res.select("spec", "post_start").rows():
        label = SPEC_FR.get(s, s)
        if s == "placebo":
            label = f"Placebo (label fictif au {fmt.format_period(post)})"
        spec.append(label)
    out = {
        "Spécification": spec,
        "Traitement et fenêtre": [
            f"{treatment_fr(t, e)}, {window_fr(a, b)}"
            for t, e, a, b in res.select("treatment", "exposure", "window_start", "window_end").rows()
        ],
        "Effet après le label (points de chômage)": [fmt.format_ratio(v, 3) for v in res["estimate"]],
        "p (p ajustée)": [
            f"{format_p_value(p)} ({format_p_value(h)})"
            for p, h in res.select("p_value", "p_value_holm").rows()
        ],
        "Nature": [kind_fr(k) for k in res["kind"]],
    }  # fmt: skip
    intervals = [
        "IC " + fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 3))
        for lo, hi in res.select("ci_low", "ci_high").rows()
    ]
    if "planted_target" in res.columns:
        out["Valeur plantée"] = [fmt.format_ratio(v, 3) for v in res["planted_target"]]
    row = headline(results)
    note = (
        "Différence de différences à effets fixes zone et trimestre, erreurs types groupées par "
        "zone d'emploi ; imputation de Borusyak, Jaravel et Spiess (2024) en contrôle, robuste "
        "à des effets hétérogènes. « Causal sous hypothèses » : tendances parallèles, pas "
        "d'anticipation, pas de débordement entre zones, date du label ; la nature de chaque "
        "ligne suit la règle de décision (voir le texte). "
        + _exposure_sentence(row["exposure"])
        + _planted_note(results, metadata)
    )
    zones = ", ".join(sorted({fmt.format_int(v) for v in res["n_clusters"]}))
    note += (
        f" Zones d'emploi : {zones}. p ajustée : méthode de Holm sur la famille des lignes du "
        "tableau. Sous chaque effet : son intervalle de confiance à 95 %."
    )
    return fmt.to_html_table(
        pl.DataFrame(out),
        caption="Effet du label sur le taux de chômage des zones d'emploi",
        source=SOURCE_CAUSAL,
        champ="zones d'emploi 2020 publiées par l'INSEE (hors Mayotte et Guyane), trimestres 2014-2023",
        note=note,
        number=number,
        subtexts={"Effet après le label (points de chômage)": intervals},
    )


def describe_validation(results: dict[str, pl.DataFrame], metadata: dict[str, Any]) -> str:
    """HTML, on the fully synthetic world: each main estimate next to the planted value it
    should recover over its own window (``""`` when there is no planted effect)."""
    val = results.get("validation")
    planted = (metadata.get("planted_effects") or {}).get("unemployment")
    if val is None or val.height == 0 or not planted:
        return ""
    rows = val.filter(pl.col("spec").is_in(["main", "imputation", "timing_label_quarter_treated"]))
    ramp = planted.get("ramp_quarters")
    lines = [
        f"Validation sur données synthétiques : l'effet planté atteint "
        f"{fmt.format_ratio(planted['effect_pp_per_unit_intensity'], 2)} point par unité "
        f"d'intensité en {ramp} trimestres ; chaque estimation doit retrouver la moyenne de "
        "l'effet planté sur sa propre fenêtre, pondérée comme le fait l'estimateur."
    ]
    for r in rows.iter_rows(named=True):
        unit = " par unité d'intensité" if r["treatment"] == "intensity" else ""
        lines.append(
            f"- {SPEC_FR.get(r['spec'], r['spec'])}, {treatment_fr(r['treatment'], r['exposure'])}"
            f" : du {fmt.format_period(r['post_start'])} au {fmt.format_period(r['window_end'])}, "
            "l'effet planté vaut "
            f"{_pp(r['planted_target'], 3)}{unit} ; estimation {_pp(r['estimate'], 3)}, écart "
            f"{fmt.format_ratio(r['difference'], 3)} ({fmt.format_ratio(r['z_score'], 1)} "
            "erreur type)."
        )
    items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines[1:])
    return f"<p>{html.escape(lines[0])}</p><ul>{items}</ul>"


# ---------------------------------------------------------------------------- sensitivity


def select_honest(
    results: dict[str, pl.DataFrame], treatment: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rambachan–Roth bounds and breakdown rows of one treatment (default: the headline's)."""
    t = treatment or headline(results)["treatment"]
    return (
        results["honest"].filter(pl.col("treatment") == t),
        results["honest_breakdown"].filter(pl.col("treatment") == t),
    )


def describe_honest(results: dict[str, pl.DataFrame], treatment: str | None = None) -> str:
    """Reading line of the sensitivity chart with both breakdown values, in French."""
    bounds, breakdown = select_honest(results, treatment)
    t = bounds["treatment"][0]
    unit = " par unité d'intensité" if t == "intensity" else ""
    conv = bounds.filter(pl.col("restriction") == "conventional").row(0, named=True)
    sd0 = bounds.filter((pl.col("restriction") == "smoothness") & (pl.col("m") == 0))
    brk = {r["restriction"]: r for r in breakdown.iter_rows(named=True)}
    interval = fmt.format_interval(
        conv["ci_low"], conv["ci_high"], lambda x: fmt.format_ratio(x, 2)
    )
    text = (
        "Lecture : chaque barre est l'intervalle de confiance à 95 % de l'effet moyen du 1er au "
        f"4e trimestre 2019{unit}, si l'on admet qu'après le label les tendances s'écartent du "
        f"parallélisme dans la limite portée en abscisse ; la bande rouge est l'intervalle usuel "
        f"{interval} (tendances exactement parallèles, référence : 3e trimestre 2018). "
    )
    if conv["ci_low"] <= 0 <= conv["ci_high"]:
        text += (
            "L'intervalle usuel contient déjà 0 : l'effet n'est pas distinguable de zéro, même "
            "avec des tendances exactement parallèles. "
        )
    rm = brk.get("relative_magnitude")
    if rm is not None and rm["status"] == "found":
        text += (
            "Il suffit qu'après le label les écarts d'un trimestre à l'autre atteignent "
            f"{format_small(rm['breakdown_m'])} fois le plus grand écart observé avant le label "
            "pour que l'intervalle contienne 0. "
        )
    elif (
        rm is not None
        and rm["status"] == "includes_zero_at_0"
        and not conv["ci_low"] <= 0 <= conv["ci_high"]
    ):
        text += (
            "L'intervalle robuste contient 0 dès R = 0 : sans tendances exactement parallèles, "
            "l'effet n'est plus distinguable de zéro. "
        )
    elif rm is not None and rm["status"] == "not_found":
        text += "L'intervalle robuste exclut 0 même avec des écarts bien plus grands qu'avant. "
    sd = brk.get("smoothness")
    if sd is not None and sd0.height:
        r0 = sd0.row(0, named=True)
        lin = fmt.format_interval(r0["ci_low"], r0["ci_high"], lambda x: fmt.format_ratio(x, 2))
        text += (
            "En prolongeant en ligne droite la tendance d'avant le label (M = 0), l'intervalle "
            f"est {lin}"
        )
        if sd["status"] == "found":
            text += (
                f" ; il contient 0 dès que la pente de l'écart peut varier de "
                f"{format_small(sd['breakdown_m'])} point par trimestre d'un trimestre à "
                "l'autre."
            )
        else:
            text += "."
    return text.strip()


# ---------------------------------------------------------------------------- synthetic control


def select_synthetic_control(
    synth: dict[str, pl.DataFrame], ti_id: str, phase: int
) -> tuple[pl.DataFrame, dict[str, Any] | None]:
    """Paths and summary row of one territory sheet (summary None when absent)."""
    key = (pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == phase)
    summary = synth["synth_summary"].filter(key)
    return synth["synth_series"].filter(key), (
        summary.row(0, named=True) if summary.height else None
    )


def describe_synthetic_control(row: dict[str, Any] | None) -> str:
    """Short French sentence of a territory's synthetic control, or ``n.d.`` with the reason
    (plain text safe inside HTML: a sheet's key message)."""
    if row is None:
        return "Contrefactuel du territoire : n.d. (territoire absent des données)."
    if not row["is_printed"]:
        reason = ND_REASON_FR.get(row["nd_reason"], row["nd_reason"])
        if row["nd_reason"] == "poor_fit":
            reason += (
                f" (écart quadratique moyen de {_pp(row['rmspe_pre_pp'])} avant le label, "
                f"au-delà du seuil de {_pp(row['max_rmspe_pp'])})"
            )
        return f"Contrefactuel du territoire : n.d. ({reason})."
    gap = row["gap_post_pp"]
    p = row["p_value_placebo"]
    return (
        f"Contrefactuel du territoire : du {fmt.format_period(row['post_start'])} au "
        f"{fmt.format_period(row['post_end'])}, son taux de chômage a été en moyenne "
        f"{'supérieur' if gap > 0 else 'inférieur'} de {_pp(abs(gap))} à celui de son contrôle "
        f"synthétique ; un écart {'rare' if p <= 0.10 else 'courant'} parmi les "
        f"{row['n_placebos']} zones témoins ({_p_eq(p)})."
    )


def synthetic_control_note(row: dict[str, Any] | None) -> str:
    """How the counterfactual is built and read (plain text): weighting, donors, fit, printing
    rule, causal assumption, post-2020 caveat."""
    if row is None:
        return ""
    weight = "sa population" if row["weighting"] == "population" else "son nombre de communes"
    text = (
        "Taux du territoire : moyenne de ses zones d'emploi pondérée par "
        f"{weight} dans chaque zone. Contrôle synthétique : combinaison pondérée de zones "
        "d'emploi hors Territoires d'industrie qui reproduit l'évolution de ce taux du "
        f"{fmt.format_period(row['pre_start'])} au {fmt.format_period(row['pre_end'])} (à un "
        "écart de niveau près) ; le 4e trimestre 2018, partiellement traité, est exclu. Il n'est "
        "publié que si l'écart quadratique moyen avant le label ne dépasse pas "
        f"{_pp(row['max_rmspe_pp'])}"
    )
    if row.get("rmspe_pre_pp") is not None:
        text += f" (ici {_pp(row['rmspe_pre_pp'])})"
    text += (
        ". Test placebo : chaque zone témoin est traitée comme si elle avait été labellisée ; la "
        "p-value est la part de ces zones dont l'écart après le label, rapporté à l'écart "
        "avant, est au moins aussi grand. Lecture causale sous l'hypothèse que, sans le label, "
        "le territoire aurait suivi son contrôle synthétique ; à partir de 2020, les écarts "
        "mêlent le label, le fonds d'accélération et la crise sanitaire."
    )
    if row["ti_phase"] == 2 and row["continues_phase1"]:
        text += (
            " Territoire de la phase 2 prolongeant la phase 1 : contrefactuel de la "
            "labellisation de 2018."
        )
    return text


# ---------------------------------------------------------------------------- on a page


def _display_html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(text))


def _series_table(series: pl.DataFrame) -> pl.DataFrame:
    """The chart's data as printed (accessible alternative of the synthetic-control chart)."""
    return pl.DataFrame(
        {
            "Trimestre": [fmt.format_period(p) for p in series["period"]],
            "Territoire (%)": [fmt.format_ratio(v, 1) for v in series["observed_pct"]],
            "Contrôle synthétique (%)": [fmt.format_ratio(v, 1) for v in series["synthetic_pct"]],
            "Écart (points)": [fmt.format_ratio(v, 2) for v in series["gap_pp"]],
        }
    )


def show_synthetic_control(page: Any, row: dict[str, Any] | None, series: pl.DataFrame) -> None:
    """A sheet's counterfactual: numbered chart with its reading, note and data table when the
    fit is good enough, else the ``n.d.`` sentence with its reason."""
    from analyse.charts.causal import chart_synthetic_control
    from analyse.review.page import show_figure

    sentence = describe_synthetic_control(row)
    if row is None or not row["is_printed"]:
        _display_html(f"<p class='analyse-note'>{html.escape(sentence)}</p>")
        return
    part = series.filter(
        (pl.col("ti_id") == row["ti_id"]) & (pl.col("ti_phase") == row["ti_phase"])
    ).sort("quarter_index")
    title = "Chômage du territoire et de son contrôle synthétique"
    note = synthetic_control_note(row)
    chart = chart_synthetic_control(
        part, title=title, reading=sentence, source=SOURCE_CAUSAL, note=note,
        label_period=row["label_period"],
    )  # fmt: skip
    show_figure(page, chart, title, reading=sentence, source=SOURCE_CAUSAL, note=note,
                data=_series_table(part))  # fmt: skip


def show_event_study(page: Any, results: dict[str, pl.DataFrame]) -> None:
    """The headline event study, each point shaped by its nature (reference window shaded)."""
    from analyse.charts.causal import chart_event_study_natures
    from analyse.review.page import show_figure

    es = select_event_study(results)
    title = "Écart de taux de chômage des zones couvertes, par trimestre autour du label"
    reading = describe_event_study(results)
    chart = chart_event_study_natures(es, title=title, reading=reading, source=SOURCE_CAUSAL)
    data = pl.DataFrame(
        {
            "Trimestre(s)": [
                fmt.format_period(a) if a == b else window_fr(a, b)
                for a, b in es.select("period_first", "period_last").rows()
            ],
            "Écart (points)": [fmt.format_ratio(v, 3) for v in es["estimate"]],
            "IC 95 %": [
                fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 3))
                for lo, hi in es.select("ci_low", "ci_high").rows()
            ],
            "p ajustée (Holm)": [format_p_value(v) for v in es["p_value_holm"]],
            "Nature": [kind_fr(k) for k in es["kind"]],
        }
    )
    show_figure(page, chart, title, reading=reading, source=SOURCE_CAUSAL, data=data)


def show_decision(page: Any, results: dict[str, pl.DataFrame]) -> None:
    """The decision text (headline, both diagnostics, rule, exposure, timing, multiple tests)."""
    del page
    _display_html(f"<div class='analyse-decision'>{render_decision(results)}</div>")


def show_honest(page: Any, results: dict[str, pl.DataFrame]) -> None:
    """The Rambachan–Roth sensitivity chart of the headline specification."""
    from analyse.charts.causal import chart_honest_bounds
    from analyse.review.page import show_figure

    if "honest" not in results:
        return
    bounds, breakdown = select_honest(results)
    title = "Sensibilité de l'effet moyen à des écarts aux tendances parallèles"
    reading = describe_honest(results)
    chart = chart_honest_bounds(
        bounds, breakdown=breakdown, title=title, reading=reading, source=SOURCE_CAUSAL
    )
    data = pl.DataFrame(
        {
            "Restriction": [
                {"conventional": "Aucune (tendances parallèles)", "smoothness": "Lissage (M)",
                 "relative_magnitude": "Ampleur relative (R)"}[r]
                for r in bounds["restriction"]
            ],
            "Valeur": [format_small(m) if m is not None else "" for m in bounds["m"]],
            "IC 95 %": [
                fmt.format_interval(lo, hi, lambda x: fmt.format_ratio(x, 3))
                for lo, hi in bounds.select("ci_low", "ci_high").rows()
            ],
        }
    )  # fmt: skip
    show_figure(page, chart, title, reading=reading, source=SOURCE_CAUSAL, data=data)
