"""Blocks every page carries: the banner saying which data are real and which synthetic, the
data-quality table, and the provenance block (sources with their attribution, snapshot, code).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from analyse import __version__
from analyse import formatting as fmt

BANNER_STYLE = (
    "border:4px solid #E1000F;background:#FEECEC;color:#161616;padding:1rem 1.25rem;"
    "margin:0 0 1.5rem 0;font-size:1.05rem;"
)
INFO_STYLE = (
    "border:2px solid #000091;background:#F5F5FE;color:#161616;padding:.75rem 1.25rem;"
    "margin:0 0 1.5rem 0;"
)
#: What is real in every mode but the fully synthetic world.
REAL_PARTS_FR = (
    "les périmètres des Territoires d'industrie (ANCT), la géographie et les taux de chômage "
    "(INSEE), les populations légales (INSEE, via Etalab), le baromètre France Relance et les "
    "chiffres annoncés publiquement"
)

SOURCE_LABELS_FR: dict[str, str] = {
    "ti_phase1": "Périmètres des Territoires d'industrie, phase 1 (ANCT)",
    "ti_phase2": "Périmètres des Territoires d'industrie, phase 2 (ANCT)",
    "ti_phase1_groupings": "Territoires et groupements, phase 1 (ANCT)",
    "cog_epci": "Intercommunalités au 1er janvier 2023 (INSEE, COG)",
    "cog_ze2020": "Zones d'emploi 2020 au 1er janvier 2023 (INSEE)",
    "typo_densite": "Grille communale de densité (INSEE, copie ANCT)",
    "typo_centralite": "Centralités (ANCT, INRAE)",
    "typo_ruralite": "Typologie des ruralités (ANCT)",
    "unemployment_ze": "Taux de chômage localisés par zone d'emploi (INSEE)",
    "relance_national": "Baromètre de l'action publique, relance : détail national (DITP)",
    "relance_regional": "Baromètre de l'action publique, relance : détail régional (DITP)",
    "relance_departemental": "Baromètre de l'action publique, relance : synthèse départementale (DITP)",
    "etalab_communes": "Communes et populations légales (INSEE, via Etalab)",
    "etalab_ept": "Établissements publics territoriaux du Grand Paris (INSEE, via Etalab)",
    "published_announcements": "Chiffres annoncés du fonds (communiqués, presse, Cour des comptes)",
    "published_milestones": "Jalons du programme (communiqués, ANCT)",
    "outlines": "Contours des régions (Natural Earth)",
    "mef_plan_de_relance": "Liste des projets du plan de relance (ministère de l'Économie)",
    "fund_projects": "Extrait des projets du fonds d'accélération (opérateur)",
    "fund_mapping": "Correspondance des colonnes de l'extrait",
}

UNIT_LABELS_FR: dict[str, str] = {
    "spreadsheet row": "ligne de tableur",
    "CSV line": "ligne CSV",
    "zone x quarter cell": "case zone × trimestre",
    "territory x grouping link": "lien territoire × groupement",
    "data row": "ligne de données",
    "row": "ligne",
    "feature": "entité géographique",
    "JSON record": "enregistrement JSON",
    "EPT x member commune": "lien EPT × commune membre",
}

REASON_LABELS_FR: dict[str, str] = {
    "aid_exceeds_investment": "aide supérieure à l'investissement",
    "ambiguous_commune": "commune ambiguë",
    "commune_departement_mismatch": "commune et département incohérents",
    "commune_siren": "groupement désigné par le SIREN d'une commune",
    "duplicate_commune": "commune en double",
    "duplicate_project": "projet en double",
    "duplicate_row": "ligne en double",
    "duplicate_territory": "territoire en double",
    "duplicate_zone": "zone en double",
    "ept_grand_paris": "établissement public territorial du Grand Paris non rattaché",
    "invalid_commune_insee": "code commune invalide",
    "invalid_date": "date invalide",
    "invalid_departement_code": "code département invalide",
    "invalid_epci_siren": "SIREN d'intercommunalité invalide",
    "invalid_firm_size": "taille d'entreprise inconnue",
    "invalid_n_communes": "nombre de communes invalide",
    "invalid_region_code": "code région invalide",
    "invalid_siren": "SIREN invalide (clé de contrôle)",
    "invalid_ti_id": "identifiant de territoire invalide",
    "invalid_ze2020_code": "code de zone d'emploi invalide",
    "missing_amount": "montant manquant",
    "missing_date": "date manquante",
    "missing_geometry": "contour manquant",
    "missing_indicator": "indicateur manquant",
    "missing_property": "propriété manquante",
    "missing_rate": "taux non publié",
    "missing_value": "valeur manquante",
    "negative_amount": "montant négatif",
    "negative_number": "nombre négatif",
    "non_numeric_rate": "taux non numérique",
    "non_numeric_value": "valeur non numérique",
    "rate_out_of_range": "taux hors bornes",
    "unidentified_firm": "entreprise non identifiée",
    "unknown_commune": "commune inconnue du COG",
    "unknown_departement": "département inconnu",
    "unknown_epci": "intercommunalité inconnue du COG",
    "unknown_grouping": "groupement inconnu du COG",
    "unknown_territory": "territoire inconnu",
    "unknown_zone": "zone d'emploi inconnue",
    "unparsable_amount": "montant illisible",
    "unparsable_date": "date illisible",
    "unparsable_number": "nombre illisible",
    "commune_in_several_territories": "commune rattachée à plusieurs territoires",
}


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def label_reason(code: str) -> str:
    """French label of a quarantine reason (the code itself only for an unknown one)."""
    return REASON_LABELS_FR.get(code, f"autre motif ({code.replace('_', ' ')})")


def render_banner(metadata: Mapping[str, Any]) -> str:
    """The banner at the top of every page: which parts are synthetic, which are real."""
    mode = metadata.get("mode") or ("synthetic" if metadata.get("synthetic") else "operator")
    if mode == "synthetic":
        return (
            f'<div class="analyse-synthetic-banner" role="note" style="{BANNER_STYLE}">'
            "<strong>⚠ DONNÉES ENTIÈREMENT SYNTHÉTIQUES</strong> — toutes les données de cette "
            "page (géographie, territoires, chômage, projets) sont inventées par "
            "<code>analyse demo --world synthetic</code> pour valider les méthodes contre un "
            "effet connu. Aucun chiffre ne décrit la réalité.</div>"
        )
    if mode == "demo":
        return (
            f'<div class="analyse-synthetic-banner" role="note" style="{BANNER_STYLE}">'
            "<strong>⚠ DONNÉES EN PARTIE SYNTHÉTIQUES</strong> — les projets du fonds "
            "d'accélération (entreprises, montants, emplois, localisation) sont "
            "<strong>simulés</strong> par <code>analyse demo</code> : aucun chiffre du fonds sur "
            "cette page ne décrit la réalité. Sont <strong>réels</strong> : "
            f"{_esc(REAL_PARTS_FR)}.</div>"
        )
    if mode == "public":
        return (
            f'<div class="analyse-data-banner" role="note" style="{INFO_STYLE}">'
            "<strong>Données publiques uniquement</strong> — aucun extrait par projet du fonds "
            "n'a été fourni : les sections sur le fonds reposent sur le baromètre France Relance "
            "et les chiffres annoncés publiquement ; celles qui exigent l'extrait le disent. "
            f"Toutes les données sont réelles : {_esc(REAL_PARTS_FR)}.</div>"
        )
    return (
        f'<div class="analyse-data-banner" role="note" style="{INFO_STYLE}">'
        "<strong>Extrait opérateur confidentiel</strong> — les chiffres du fonds proviennent de "
        "l'extrait par projet de l'opérateur ; les cellules couvertes par le secret statistique "
        "sont masquées (« s ») sur l'ensemble de la publication. Les autres données sont "
        f"publiques et réelles : {_esc(REAL_PARTS_FR)}.</div>"
    )


def render_quality(quality: Mapping[str, Any], *, number: int | None = None) -> str:
    """Data-quality table: rows read, kept and set aside per source, with the reasons."""
    rows = []
    for source_id, counts in quality.get("sources", {}).items():
        if not counts.get("rows_in"):
            continue
        reasons = ", ".join(
            f"{label_reason(reason)} ({fmt.format_int(n)})"
            for reason, n in sorted(counts.get("by_reason", {}).items(), key=lambda kv: -kv[1])
        )
        unit = str(counts.get("unit") or "row")
        rows.append(
            {
                "Source": SOURCE_LABELS_FR.get(source_id, source_id),
                "Unité": UNIT_LABELS_FR.get(unit.split(" (")[0], "ligne"),
                "Lues": fmt.format_int(counts["rows_in"]),
                "Retenues": fmt.format_int(counts["rows_out"]),
                "Mises de côté": fmt.format_int(counts["rows_quarantined"]),
                "Motifs": reasons or "—",
            }
        )
    table = (
        pl.DataFrame(rows) if rows else pl.DataFrame({"Source": []}, schema={"Source": pl.String})
    )
    title = "Qualité des données : aucune ligne perdue"
    return fmt.to_html_table(
        table,
        title,
        number=number,
        source="Source : contrôles d'analyse clean (quality.json du jeu de données).",
        champ="toutes les sources lues pour ce rapport",
        note=(
            "Chaque ligne lue est soit retenue, soit mise de côté (quarantaine) avec son motif : "
            "lues = retenues + mises de côté."
        ),
    )


PARAMETER_LABELS_FR = {
    "processed_dir": "jeu de données",
    "figures_dir": "chiffres publiés",
    "published_dir": "chiffres annoncés",
    "region_code": "région",
    "ti_id": "territoire",
    "ti_phase": "phase",
    "phase": "phase",
    "n_boot": "réplications bootstrap",
    "seed": "graine",
}


def render_provenance(
    metadata: Mapping[str, Any],
    parameters: Mapping[str, Any],
    *,
    figures: Mapping[str, Any] | None = None,
    run_at: datetime | None = None,
) -> str:
    """Provenance: sources (title, vintage, checksum, synthetic or real), attribution, snapshot,
    figures bundle, code version, parameters and run time."""
    run_at = run_at or datetime.now(UTC)
    rows = []
    for src in metadata.get("sources", []):
        sha = str(src.get("sha256") or "")
        nature = "synthétique" if src.get("synthetic") else "réelle"
        label = SOURCE_LABELS_FR.get(str(src.get("source_id")), str(src.get("source_id")))
        rows.append(
            "<tr>"
            f"<th scope='row'>{_esc(label)}</th><td>{_esc(nature)}</td>"
            f"<td>{_esc(src.get('vintage_fr') or src.get('vintage') or '')}</td>"
            f"<td><code title='{_esc(sha)}'>{_esc(sha[:12])}</code></td></tr>"
        )
    shown = {k: v for k, v in parameters.items() if k not in ("processed_dir", "figures_dir")}
    params = "".join(
        f"<li>{_esc(PARAMETER_LABELS_FR.get(k, k))} : <code>{_esc(v)}</code></li>"
        for k, v in shown.items()
    )
    attribution = _attribution()
    figures_line = ""
    if figures:
        figures_line = (
            f" ; chiffres calculés une fois pour toute la publication (lot "
            f"<code>{_esc(figures.get('key', ''))}</code>)"
        )
    cleaned = str(metadata.get("cleaned_at", ""))[:10]
    return (
        '<section class="analyse-provenance"><h2>Provenance</h2>'
        f"<p>Jeu de données <code>{_esc(metadata.get('snapshot_id', 'n.d.'))}</code> (nettoyé le "
        f"{_esc(fmt.format_date_fr(cleaned) if cleaned else 'n.d.')}){figures_line} ; code "
        f"<code>analyse</code> {_esc(__version__)} ; page produite le "
        f"{_esc(fmt.format_date_fr(run_at.date()))} à {run_at.strftime('%H:%M')} UTC.</p>"
        f"<p>Paramètres :</p><ul>{params}</ul>"
        "<table class='analyse-provenance-sources'><caption>Sources et millésimes</caption>"
        "<thead><tr><th scope='col'>Source</th><th scope='col'>Nature</th>"
        "<th scope='col'>Millésime</th><th scope='col'>Empreinte SHA-256</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{attribution}</section>"
    )


def _attribution() -> str:
    try:
        from analyse.refdata import attribution_fr
    except ImportError:  # pragma: no cover - reference snapshot module missing
        return ""
    lines = attribution_fr()
    if isinstance(lines, str):
        lines = [lines]
    items = "".join(f"<li>{_esc(line)}</li>" for line in lines)
    return f"<p>Attribution (Licence Ouverte 2.0) :</p><ul class='analyse-attribution'>{items}</ul>"
