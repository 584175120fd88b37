"""The default demo: real public reference data, only the fund extract and the MEF list invented,
placed on real communes and calibrated to what was published."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analyse.demo import write_demo
from analyse.demo.placement import AID_TARGETS_EUR, PROJECT_TARGETS, SHARE_IN_TI, date_plan
from analyse.errors import ParameterError
from analyse.sources import SOURCE_PATHS
from analyse.tables import read_core_table, read_metadata, read_quality


@pytest.fixture(scope="module")
def demo(demo_dirs: tuple[Path, Path]) -> dict:
    raw, processed = demo_dirs
    return {
        "raw": raw,
        "processed": processed,
        "projects": read_core_table("projects", processed),
        "communes": read_core_table("communes", processed),
        "quality": read_quality(processed),
        "metadata": read_metadata(processed),
        "manifest": json.loads((raw / "manifest.json").read_text(encoding="utf-8")),
    }


def test_only_the_fund_files_are_synthetic(demo: dict) -> None:
    flagged = {f["source_id"] for f in demo["manifest"]["files"] if f.get("synthetic")}
    assert flagged == {"fund_projects", "fund_mapping", "mef_plan_de_relance"}
    assert demo["manifest"]["synthetic"] is False
    meta = demo["metadata"]
    assert meta["mode"] == "demo"
    assert set(meta["synthetic_sources"]) == flagged
    real = [s for s in meta["sources"] if not s["synthetic"]]
    assert {"cog_epci", "unemployment_ze", "ti_phase2"} <= {s["source_id"] for s in real}
    assert read_core_table("communes", demo["processed"])["is_synthetic"].any() is False
    assert demo["projects"]["is_synthetic"].all()


def test_every_project_sits_on_a_real_commune(demo: dict) -> None:
    fund = demo["quality"]["sources"]["fund_projects"]
    geography = {"unknown_commune", "ambiguous_commune", "commune_departement_mismatch"}
    assert not geography & set(fund["by_reason"]), fund["by_reason"]
    communes = demo["communes"]["commune_insee"].implode()
    assert demo["projects"]["commune_insee"].is_in(communes).all()
    names = read_core_table("territories", demo["processed"])["ti_name"]
    assert not names.str.contains("Démo").any()  # real territories, real names


def test_calibrated_to_the_published_figures(demo: dict) -> None:
    truth = demo["manifest"]["planted_effects"]["fund"]
    assert truth["extract"]["n_projects"] == 1416
    assert truth["totals"]["aid_eur"] == pytest.approx(573e6, rel=1e-3)
    projects = demo["projects"]
    in_ti = projects["ti_id_phase1"].is_not_null().mean()
    assert in_ti > 2 / 3 and abs(in_ti - SHARE_IN_TI) < 0.05  # Cour des comptes: over 2/3
    by_region = projects.group_by("region_code").agg(pl.len(), pl.col("aid_eur").sum())
    dirty = len(truth["extract"]["dirty_rows"])
    for code, n in PROJECT_TARGETS.items():
        row = by_region.filter(pl.col("region_code") == code).row(0, named=True)
        assert n - dirty <= row["len"] <= n  # a planted dirty row may be quarantined
        assert row["aid_eur"] == pytest.approx(AID_TARGETS_EUR[code], rel=0.08)


def test_decision_dates_follow_the_published_counts(demo: dict) -> None:
    plan = date_plan(demo["raw"])
    assert plan is not None and sum(k for *_, k in plan) == 1416
    dates = demo["projects"]["decision_date"]
    for _first, last, _k in plan:
        expected = sum(k for _, end, k in plan if end <= last)
        got = int((dates <= last).sum())
        assert abs(got - expected) <= 10, (last, got, expected)


def test_same_seed_same_fund_files(demo: dict, tmp_path: Path) -> None:
    other = tmp_path / "raw"
    other.mkdir()
    write_demo(other, seed=2018)
    for source_id in ("fund_projects", "mef_plan_de_relance"):
        path = SOURCE_PATHS[source_id]
        assert (other / path).read_bytes() == (demo["raw"] / path).read_bytes(), source_id


def test_demo_never_overwrites_an_operator_extract(tmp_path: Path) -> None:
    extract = tmp_path / SOURCE_PATHS["fund_projects"]
    extract.parent.mkdir(parents=True)
    extract.write_text("N° dossier;Montant\nA;1\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="operator"):
        write_demo(tmp_path)
    assert extract.read_text(encoding="utf-8").startswith("N° dossier")


def test_planted_truths_survive_a_later_materialisation(demo: dict, tmp_path: Path) -> None:
    import shutil

    from analyse.clean import run_clean

    raw = tmp_path / "raw"
    shutil.copytree(demo["raw"], raw)
    (raw / SOURCE_PATHS["outlines"]).unlink()  # clean will take it from the snapshot again
    run_clean(raw, tmp_path / "processed")
    manifest = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["planted_effects"] == demo["manifest"]["planted_effects"]
    planted = read_metadata(tmp_path / "processed")["planted_effects"]["fund"]
    assert planted["log_investment_model"]["elasticity_aid"] == 0.9


def test_the_default_demo_replaces_an_earlier_synthetic_world(tmp_path: Path) -> None:
    from analyse.clean import run_clean

    raw = tmp_path / "raw"
    write_demo(raw, seed=2018, world="synthetic")
    write_demo(raw, seed=2018)  # the default demo over it: real public files come back
    run_clean(raw, tmp_path / "processed")
    meta = read_metadata(tmp_path / "processed")
    assert meta["mode"] == "demo"
    assert set(meta["synthetic_sources"]) == {
        "fund_projects",
        "fund_mapping",
        "mef_plan_de_relance",
    }
    names = read_core_table("territories", tmp_path / "processed")["ti_name"]
    assert not names.str.contains("Démo").any()
    manifest = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
    assert "summary" not in manifest and "unemployment" not in manifest["planted_effects"]
