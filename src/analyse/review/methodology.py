"""The methodology section of the national review: data, ratios, intervals (with the Monte
Carlo study behind the choice), secrecy, unemployment and the causal decision rule."""

from __future__ import annotations

import polars as pl

from analyse import formatting as fmt
from analyse.figures.fund import CLUSTER_LABEL_FR
from analyse.review.page import Page, esc

#: Methods compared on the page: the one used and the percentile bootstrap it replaced.
STUDY_METHODS = {"jackknife_log": "Jackknife par grappes (log, ddl corrigés) : retenue",
                 "percentile": "Bootstrap par grappes, percentiles : écartée"}  # fmt: skip
STUDY_DESIGNS = {"heavy": "très inégales (type EPCI)", "moderate": "modérément inégales",
                 "firms": "une grappe par entreprise ou presque"}  # fmt: skip
STUDY_CLUSTERS = (7, 15, 40, 100, 500, 1250)


def _interval_table(page: Page, study: pl.DataFrame | None) -> str:
    """Coverage of the 95 % interval of investment per euro of aid, by amounts, cluster design
    and number of clusters, for the method used and the one it replaced (Monte Carlo)."""
    if study is None or study.height == 0:
        return ""
    rows = study.filter(
        (pl.col("metric") == "investment_per_aid_eur")
        & pl.col("method").is_in(list(STUDY_METHODS))
        & pl.col("n_clusters").is_in(list(STUDY_CLUSTERS))
    )
    wide = rows.pivot(on="n_clusters", index=["method", "amounts", "cluster_sizes"],
                      values="coverage").sort("method", "amounts", "cluster_sizes", descending=[True, False, False])  # fmt: skip
    table = pl.DataFrame(
        {
            "Méthode": [STUDY_METHODS[m] for m in wide["method"]],
            "Montants simulés": ["log-normaux (σ 1,3)" if a == "lognormal" else "Pareto (1,3)" for a in wide["amounts"]],
            "Grappes": [STUDY_DESIGNS.get(c, c) for c in wide["cluster_sizes"]],
            **{f"{n} grappes": [fmt.format_ratio(v, 3) for v in wide[str(n)]] for n in STUDY_CLUSTERS},
        }
    )  # fmt: skip
    n_reps = int(rows.filter(pl.col("method") == "jackknife_log")["n_reps"].min())
    return page.table(
        table,
        "Couverture des intervalles de confiance à 95 % : étude de Monte-Carlo",
        source="simulations analyse (benchmarks/bench_intervals.py, docs/intervals.md)",
        champ=(
            "investissement par euro d'aide simulé avec effets de grappe ; "
            f"{fmt.format_int(n_reps)} échantillons par case pour la méthode retenue"
        ),
        note=(
            "Part des intervalles qui contiennent la vraie valeur (cible 0,95). La méthode "
            "retenue reste entre 0,93 et 0,97 dès 7 grappes (30 pour la moyenne des ratios par "
            "projet) ; en deçà, aucun intervalle n'est publié."
        ),
    )


def render_methodology(page: Page, study: pl.DataFrame | None) -> str:
    """The methodology section (HTML)."""
    manifest = page.figures.manifest
    items = [
        "<strong>Données du fonds</strong> : extrait par projet (aide, investissement, emplois "
        "déclarés), nettoyé et rattaché aux communes, intercommunalités, départements, régions et "
        "Territoires d'industrie ; les lignes rejetées sont conservées avec leur motif (tableau "
        "de qualité ci-dessous).",
        "<strong>Ratios</strong> : ratio des sommes (investissement total ÷ aide totale) en "
        "chiffre principal ; la moyenne des ratios par projet est donnée à titre secondaire.",
        f"<strong>Intervalles</strong> : jackknife par grappes d'{esc(CLUSTER_LABEL_FR)} (les "
        "projets d'une même intercommunalité ne sont pas indépendants) sur le logarithme du "
        "ratio, avec des degrés de liberté de petit échantillon (Bell-McCaffrey et empiriques) : "
        "même définition à tous les niveaux, aucun tirage aléatoire, donc le même intervalle sur "
        "chaque page et à chaque exécution. Cette méthode a été choisie, contre le bootstrap par "
        "grappes, par l'étude de Monte-Carlo ci-dessous ; aucun intervalle n'est publié sous "
        "7 grappes (30 pour la moyenne des ratios par projet).",
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
