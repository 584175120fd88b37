"""The "Ce qu'il faut retenir" messages of each kind of page, computed from the figures.

Each message is one HTML sentence (data-borne text escaped), says whether it is descriptive or
causal, and is left out when its figure is not published (masked, no project, no data).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from analyse import formatting as fmt
from analyse.reference import REGION_NAMES
from analyse.review.fund import HEADLINE_METRIC, breakdown, cells_of, ranked
from analyse.review.page import Page, esc


def _synthetic_warning(page: Page) -> str | None:
    if page.mode == "demo":
        return (
            "<strong>Démonstration</strong> : les chiffres du fonds sont simulés ; seuls les "
            "périmètres, la géographie, le chômage et le baromètre sont réels."
        )
    if page.mode == "synthetic":
        return "<strong>Démonstration</strong> : toutes les données de cette page sont inventées."
    return None


def fund_message(page: Page, scope: Mapping[str, str], name: str) -> str | None:
    """Projects, aid and investment per euro of aid of a scope (descriptive)."""
    if not page.has_fund_extract:
        return None
    cells = cells_of(page)
    n = cells.get(scope, "n_projects")
    if n is None:
        return f"Aucun projet du fonds d'accélération n'est situé dans {esc(name)}."
    if n.is_masked:
        return f"Les chiffres du fonds pour {esc(name)} sont couverts par le secret statistique."
    ratio = cells.get(scope, HEADLINE_METRIC)
    ci = f" (IC 95 % {esc(ratio.printed_ci)})" if ratio and ratio.printed_ci else ""
    return (
        f"{esc(name)} : {esc(n.printed)} projets du fonds, {esc(cells.printed(scope, 'aid_eur'))} "
        f"d'aide ; <strong>{esc(ratio.printed if ratio else fmt.NOT_AVAILABLE)} €</strong> "
        f"d'investissement annoncé par euro d'aide{ci} — un rapport entre montants déclarés, "
        "pas un effet de l'aide."
    )


def in_ti_message(page: Page, phase: int = 1, where: Mapping[str, str] | None = None) -> str | None:
    """Share of projects inside a territory against the share of population there."""
    if not page.has_fund_extract:
        return None
    cells = cells_of(page)
    scope = dict(where or {})
    inside = cells.get({**scope, f"in_ti_p{phase}": "oui"}, "n_projects")
    total = cells.get(scope, "n_projects")
    if inside is None or total is None or inside.is_masked or total.is_masked:
        return None
    share = 100 * inside.shown / total.shown if total.shown else None
    cov = page.figures["public_ti_coverage"].filter(
        (pl.col("phase") == phase)
        & (pl.col("region_code").is_null() if "region_code" not in scope else pl.col("region_code") == scope["region_code"])
    )  # fmt: skip
    pop = cov["share_population"][0] if cov.height else None
    pop_text = (
        f", qui rassemblent {fmt.format_pct(100 * pop, 0)} de la population"
        if pop is not None
        else ""
    )
    return (
        f"{esc(fmt.format_pct(share, 0))} des projets sont situés dans un Territoire d'industrie "
        f"(périmètre de la phase {phase}){esc(pop_text)} : une concentration décrite, pas un "
        "effet du label."
    )


def ranking_message(page: Page) -> str | None:
    """Which régions stand out, only among those with an interval (never on one)."""
    frame = breakdown(page, ["region_code"])
    rows = ranked(frame, HEADLINE_METRIC)
    if rows.height < 3:
        return None
    top, bottom = rows.row(0, named=True), rows.row(-1, named=True)
    return (
        f"Entre régions dont l'intervalle est publié ({rows.height}), l'investissement par euro "
        f"d'aide va de {esc(bottom[HEADLINE_METRIC])} ({esc(bottom['label'])}) à "
        f"{esc(top[HEADLINE_METRIC])} ({esc(top['label'])}) ; des intervalles qui se chevauchent "
        "ne permettent pas de conclure à un écart."
    )


def public_message(page: Page, region_code: str | None = None) -> str | None:
    """Supported industrial firms (baromètre), always real."""
    if region_code is None:
        series = page.figures["public_barometre_national"]
        if series.height == 0:
            return None
        last = series.row(-1, named=True)
        where = "en France"
    else:
        frame = page.figures["public_barometre_regions"].filter(
            pl.col("region_code") == region_code
        )
        if frame.height == 0:
            return None
        last = frame.row(0, named=True)
        where = f"en {REGION_NAMES.get(region_code, region_code)}"
    return (
        f"{esc(fmt.format_int(last['value']))} entreprises industrielles bénéficiaires des aides à "
        f"l'investissement de France Relance {esc(where)} au {esc(fmt.format_date_fr(last['date']))} "
        "(baromètre, toutes mesures, données réelles)."
    )


def messages(*items: str | None, page: Page) -> list[str]:
    """The non-empty messages, the demonstration warning first, at most five."""
    out = [m for m in (_synthetic_warning(page), *items) if m]
    return out[:5]
