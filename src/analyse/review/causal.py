"""The label's counterfactual on a page: shows what :mod:`analyse.review.label` renders from the
frames the figures stage computed (national DiD, diagnostics, sensitivity; per territory)."""

from __future__ import annotations

import polars as pl

from analyse.review import label
from analyse.review.page import Page


def _display(html_text: str) -> None:
    from IPython.display import HTML, display

    if html_text:
        display(HTML(html_text))


def headline_message(results: dict[str, pl.DataFrame]) -> str | None:
    """The causal key message (its wording follows the diagnostics)."""
    if not results or "decision" not in results:
        return None
    return label.describe_decision(results)


def show_counterfactual(page: Page, results: dict[str, pl.DataFrame]) -> None:
    """Decision (headline, diagnostics, rule), event study, DiD table, sensitivity bounds."""
    if not results:
        _display("<p class='analyse-note'>Contrefactuel non disponible.</p>")
        return
    label.show_decision(page, results)
    label.show_event_study(page, results)
    _display(label.render_did_table(results, page.metadata, number=page.next_table()))
    label.show_honest(page, results)


def _synth(page: Page, ti_id: str, phase: int) -> dict | None:
    """The territory's row of the per-territory counterfactual (None when not computed)."""
    if "synth_summary" not in page.figures:
        return None
    rows = page.figures["synth_summary"].filter(
        (pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == phase)
    )
    return rows.row(0, named=True) if rows.height else None


def territory_message(page: Page, ti_id: str, phase: int) -> str | None:
    """The key message of a sheet's counterfactual (None when none is printed)."""
    row = _synth(page, ti_id, phase)
    if row is None or not hasattr(label, "describe_synthetic_control"):
        return None
    return label.describe_synthetic_control(row)


def show_territory_counterfactual(page: Page, ti_id: str, phase: int) -> None:
    """The territory's synthetic control (chart, fit, gap, placebo p-value) or why there is none."""
    row = _synth(page, ti_id, phase)
    if row is None or not hasattr(label, "show_synthetic_control"):
        _display(
            "<p class='analyse-note'>Contrefactuel du territoire non disponible dans ce lot de "
            "chiffres.</p>"
        )
        return
    label.show_synthetic_control(page, row, page.figures["synth_series"])
