"""French rendering of the causal analysis follows the evidence (issue 11): decision headline,
natures, no English or code names, charts with reading and source lines."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analyse.charts import causal as charts_causal
from analyse.charts import chart_to_dict
from analyse.estimate import did, synth
from analyse.review import label
from analyse.tables import read_core_table

ENGLISH = re.compile(
    r"intensity|binary|_x_|causal under|not causal|mixed|pooled|diagnostic \(|label quarter|"
    r"parallel trends|smoothness|relative_magnitude|labelled_after|poor_fit|no_data",
)


def _bundle(slope: float, seed: int = 4) -> dict[str, pl.DataFrame]:
    """A counterfactual bundle on core-table-shaped synthetic inputs (see test_did)."""
    from tests.test_did import _synthetic_inputs

    labour, communes, territories, typologies = _synthetic_inputs(seed, n_zones=90, slope=slope)
    return did.run_label_counterfactual(labour, communes, territories, typologies)


@pytest.fixture(scope="module")
def doubtful() -> dict[str, pl.DataFrame]:
    return _bundle(slope=0.08)


@pytest.fixture(scope="module")
def clean() -> dict[str, pl.DataFrame]:
    return _bundle(slope=0.0, seed=11)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_headline_follows_the_decision(doubtful, clean):
    assert label.headline(doubtful)["parallel_trends_doubtful"]
    text = label.describe_decision(doubtful)
    assert text.startswith("Tendances parallèles douteuses : pas de conclusion causale")
    # both diagnostics are reported, with their numbers; plain text safe inside HTML
    assert "test joint des coefficients avant le label" in text and "placebo" in text
    assert not set("<>&") & set(text)
    body = label.render_decision(doubtful)
    assert body.startswith("<p><strong>Tendances parallèles douteuses")
    assert "Règle de décision" in body and "Tests multiples" in body and "Motif" in body
    assert "part des communes" in body  # exposure stated
    assert not label.headline(clean)["parallel_trends_doubtful"]
    clean_text = label.describe_decision(clean)
    assert clean_text.startswith("Effet estimé sous hypothèses")
    assert "sans prouver" in clean_text
    for t in (text, body, clean_text, label.describe_pretrend(doubtful)):
        assert not ENGLISH.search(_text(t)), ENGLISH.search(_text(t))


def test_did_table_natures_are_french_and_follow_the_decision(doubtful, clean):
    html = label.render_did_table(doubtful, {})
    body = _text(html)
    natures = set(re.findall(r"<td>([^<]*)</td>\s*</tr>", html))  # last cell of each row
    assert natures == {
        "Pas de conclusion causale (tendances parallèles douteuses)",
        "Label + fonds + COVID, non séparables",
        "Diagnostic",
    }
    assert "p (p ajustée)" in body and "méthode de Holm" in body
    assert not ENGLISH.search(body), ENGLISH.search(body)
    clean_natures = set(re.findall(r"<td>([^<]*)</td>\s*</tr>", label.render_did_table(clean, {})))
    assert "Causal sous hypothèses" in clean_natures


def test_demo_note_states_each_rows_planted_target(clean):
    metadata = {"synthetic": True, "planted_effects": {"unemployment": {
        "effect_pp_per_unit_intensity": -0.3, "ramp_quarters": 4, "start_period": "2018-T4"}}}  # fmt: skip
    with_target = {**clean, "did": clean["did"].with_columns(pl.lit(-0.24).alias("planted_target"))}
    body = _text(label.render_did_table(with_target, metadata))
    assert "Valeur plantée" in body and "sa propre fenêtre" in body
    assert "doit s'en approcher" not in body


def test_event_study_and_honest_readings(doubtful):
    reading = label.describe_event_study(doubtful)
    assert reading.startswith("Lecture :") and "moyenne des trimestres" in reading
    honest = label.describe_honest(doubtful)
    assert honest.startswith("Lecture :") and "ligne droite" in honest
    for t in (reading, honest):
        assert not ENGLISH.search(t)
    chart = charts_causal.chart_event_study_natures(
        label.select_event_study(doubtful), title="Écart", reading=reading,
        source=label.SOURCE_CAUSAL)  # fmt: skip
    spec = chart_to_dict(chart)
    subtitle = spec["title"]["subtitle"]
    assert subtitle[0].startswith("Lecture") and any(s.startswith("Source") for s in subtitle)
    bounds, breakdown = label.select_honest(doubtful)
    spec = chart_to_dict(charts_causal.chart_honest_bounds(
        bounds, breakdown=breakdown, title="Sensibilité", reading=honest,
        source=label.SOURCE_CAUSAL))  # fmt: skip
    assert len(spec["hconcat"]) == 2


def test_synthetic_control_sentences_and_chart():
    labour, _ = synth.simulate_synthetic_world(n_treated=2, gap_pp=(-0.5, 0.0), seed=2)
    zones = labour["ze2020_code"].unique().sort().to_list()
    communes = pl.DataFrame({"commune_insee": [f"C{z}" for z in zones], "ze2020_code": zones})
    ct = pl.DataFrame({"commune_insee": ["CT000", "CT001", "CX"], "ti_id": ["a", "b", "c"],
                       "ti_phase": pl.Series([1, 1, 2], dtype=pl.Int8)})  # fmt: skip
    out = synth.run_synthetic_controls(labour, communes, ct, ct.select("ti_id", "ti_phase"),
                                       min_donors=5)  # fmt: skip
    paths, row = label.select_synthetic_control(out, "a", 1)
    text = label.describe_synthetic_control(row)
    assert "inférieur de 0,5" in text and "zones témoins" in text and "p = " in text
    assert "hors Territoires d'industrie" in label.synthetic_control_note(row)
    assert "n.d." in label.describe_synthetic_control(
        label.select_synthetic_control(out, "c", 2)[1]
    )
    assert "après le dernier trimestre publié" in label.describe_synthetic_control(
        label.select_synthetic_control(out, "c", 2)[1]
    )
    spec = chart_to_dict(charts_causal.chart_synthetic_control(
        paths, title="Contrefactuel", reading=text, source=label.SOURCE_CAUSAL,
        note=label.synthetic_control_note(row)))  # fmt: skip
    assert spec["title"]["subtitle"][0].startswith("Lecture")
    assert not ENGLISH.search(text)


@pytest.mark.real_data
def test_real_panel_page_text(real_processed: Path):
    labour, communes, territories, typologies = (
        read_core_table(name, real_processed)
        for name in ("labour_panel", "communes", "commune_territories", "commune_typologies")
    )
    out = did.run_label_counterfactual(labour, communes, territories, typologies)
    text = label.describe_decision(out)
    head = label.headline(out)
    # the page's headline is whatever the rule decides, and says so in French
    expected = "Tendances parallèles douteuses" if head["parallel_trends_doubtful"] else "Effet"
    assert text.startswith(expected)
    page = _text(label.render_decision(out) + label.render_did_table(out, {}))
    assert not ENGLISH.search(text + page)
    assert np.isfinite(out["honest"]["ci_low"].to_numpy()).all()


def test_show_functions_display_numbered_figures_and_nd(doubtful, monkeypatch):
    import IPython.display

    from analyse.review.page import Page

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs: shown.extend(objs))
    page = Page(name="t", figures={}, metadata={}, quality={}, processed_dir=Path("."))
    label.show_decision(page, doubtful)
    label.show_event_study(page, doubtful)
    label.show_honest(page, doubtful)
    labour, _ = synth.simulate_synthetic_world(n_treated=1, gap_pp=-0.4, seed=5)
    zones = labour["ze2020_code"].unique().sort().to_list()
    communes = pl.DataFrame({"commune_insee": [f"C{z}" for z in zones], "ze2020_code": zones})
    ct = pl.DataFrame({"commune_insee": ["CT000", "CX"], "ti_id": ["a", "b"],
                       "ti_phase": pl.Series([1, 2], dtype=pl.Int8)})  # fmt: skip
    out = synth.run_synthetic_controls(labour, communes, ct, ct.select("ti_id", "ti_phase"),
                                       min_donors=5)  # fmt: skip
    for ti, phase in (("a", 1), ("b", 2)):
        _, row = label.select_synthetic_control(out, ti, phase)
        label.show_synthetic_control(page, row, out["synth_series"])
    assert page.n_figures == 3  # event study, sensitivity, one synthetic control
    html_parts = " ".join(
        getattr(o, "data", "") or "" for o in shown if isinstance(o, IPython.display.HTML)
    )
    assert "Figure 3" in html_parts and "n.d." in html_parts
    assert not ENGLISH.search(_text(html_parts))


@pytest.fixture(scope="module")
def synthetic_world(tmp_path_factory):
    """The fully synthetic demo world (planted label effect on unemployment), cleaned."""
    from analyse.clean import run_clean
    from analyse.demo import write_demo
    from analyse.schemas import CORE_TABLES
    from analyse.tables import read_core_table, read_metadata

    root = tmp_path_factory.mktemp("synthetic_world")
    write_demo(root / "raw", seed=2018, world="synthetic")
    run_clean(root / "raw", root / "processed")
    tables = {name: read_core_table(name, root / "processed") for name in CORE_TABLES}
    return tables, read_metadata(root / "processed")


def test_synthetic_world_every_row_states_and_recovers_its_planted_target(synthetic_world):
    from analyse.figures.labour import compute_counterfactual

    tables, metadata = synthetic_world
    frames = compute_counterfactual(tables, metadata)  # what the figures stage computes
    out = {name.removeprefix("causal_"): frame for name, frame in frames.items()}
    planted = metadata["planted_effects"]["unemployment"]
    val = out["validation"]
    main = val.filter((pl.col("block") != "event_study") & (pl.col("spec") != "placebo"))
    assert main.height >= 10 and main["target_in_ci"].all()
    assert np.abs(main["z_score"].to_numpy()).max() < 3
    # the targets are window averages of the ramp, not the final effect
    final = planted["effect_pp_per_unit_intensity"]
    commune_main = main.filter((pl.col("spec") == "main") & (pl.col("exposure") == "communes")
                               & (pl.col("treatment") == "intensity"))  # fmt: skip
    ramp = [min(1.0, (k + 1) / planted["ramp_quarters"]) for k in range(1, 5)]  # 2019-T1..T4
    # (the manifest rounds intensities to 6 decimals)
    assert commune_main["planted_target"][0] == pytest.approx(final * np.mean(ramp), abs=1e-6)
    assert not label.headline(out)["parallel_trends_doubtful"]
    text = label.describe_validation(out, metadata)
    assert "sa propre fenêtre" in text and "du 1er" in text
    table = _text(label.render_did_table(out, metadata))
    assert "Valeur plantée" in table
