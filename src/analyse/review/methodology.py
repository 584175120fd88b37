"""The methodology section of the national review: data, ratios, intervals (with the Monte
Carlo study behind the choice), secrecy, unemployment and the causal decision rule."""

from __future__ import annotations

import polars as pl

from analyse import formatting as fmt
from analyse.figures.fund import CLUSTER_LABEL_FR
from analyse.review.page import Page, esc


def _interval_table(page: Page, study: pl.DataFrame | None) -> str:
    if study is None or study.height == 0:
        return ""
    cols = [
        c for c in ("amounts", "n_clusters", "method", "coverage", "printed") if c in study.columns
    ]
    shown = study.select(cols)
    labels = {
        "amounts": "Montants simulés",
        "n_clusters": "Grappes",
        "method": "Méthode",
        "coverage": "Couverture de l'IC 95 %",
        "printed": "Publié",
    }
    table = pl.DataFrame(
        {
            labels[c]: [
                fmt.format_ratio(v, 3)
                if c == "coverage"
                else ("oui" if v is True else "non" if v is False else str(v))
                for v in shown[c]
            ]
            for c in cols
        }
    )
    return page.table(
        table,
        "Couverture des intervalles de confiance : étude de Monte-Carlo",
        source="Source : simulations analyse (benchmarks/bench_intervals.py).",
        champ="ratios de sommes simulés (montants log-normaux ou de Pareto, grappes de tailles inégales)",
        note="Un intervalle n'est publié que dans les configurations où sa couverture est comprise entre 0,93 et 0,97.",
    )


def render_methodology(page: Page, study: pl.DataFrame | None) -> str:
    """The methodology section (HTML)."""
    manifest = page.figures.manifest
    options = manifest.get("options", {})
    items = [
        "<strong>Données du fonds</strong> : extrait par projet (aide, investissement, emplois "
        "déclarés), nettoyé et rattaché aux communes, intercommunalités, départements, régions et "
        "Territoires d'industrie ; les lignes rejetées sont conservées avec leur motif (tableau "
        "de qualité ci-dessous).",
        "<strong>Ratios</strong> : ratio des sommes (investissement total ÷ aide totale) en "
        "chiffre principal ; la moyenne des ratios par projet est donnée à titre secondaire.",
        f"<strong>Intervalles</strong> : bootstrap par grappes d'{esc(CLUSTER_LABEL_FR)} (les "
        "projets d'une même intercommunalité ne sont pas indépendants), même définition à tous "
        f"les niveaux, {esc(fmt.format_int(options.get('n_boot', 0)))} réplications, graine "
        f"{esc(options.get('seed', ''))} ; la méthode et le nombre minimal de grappes sont "
        "choisis par l'étude de Monte-Carlo ci-dessous.",
        "<strong>Secret statistique</strong> : une case de moins de trois entreprises, ou dont "
        "une entreprise représente plus de 85 % de l'aide ou de l'investissement, est masquée "
        "(« s ») ; un masquage secondaire, résolu une fois pour toutes les pages, empêche de la "
        "retrouver ou de l'encadrer à ±25 % en combinant tout ce qui est publié.",
        "<strong>Chômage</strong> : taux localisés trimestriels de l'INSEE par zone d'emploi "
        "2020 ; les taux d'un ensemble de communes pondèrent les zones par leur population "
        "légale (approximation des taux de l'INSEE, pondérés par la population active).",
        "<strong>Un chiffre, une fois</strong> : chaque chiffre est calculé une seule fois par "
        f"exécution (lot <code>{esc(manifest.get('key', ''))}</code>) et imprimé à l'identique "
        "sur toutes les pages qui le montrent.",
    ]
    body = "".join(f"<li>{item}</li>" for item in items)
    return f"<ul>{body}</ul>" + _interval_table(page, study)
