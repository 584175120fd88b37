"""``run_clean`` on a minimal raw folder of small files in the real formats: every core table
written and valid, counts that add up, quarantine, optional sources, synthetic flag."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from test_clean_reference import write_csv, write_minimal_raw_dir

from analyse.clean import build_core_tables, run_clean
from analyse.cli import main
from analyse.schemas import CORE_TABLES, QUARANTINE, validate
from analyse.sources import SOURCE_PATHS
from analyse.tables import read_core_table, read_metadata, read_quality, read_quarantine_table


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("clean")
    raw = write_minimal_raw_dir(root / "raw")
    quality = run_clean(raw, root / "processed")
    return raw, root / "processed", quality


def test_every_core_and_quarantine_table_is_written_and_valid(cleaned) -> None:
    _, processed, quality = cleaned
    for name, schema in CORE_TABLES.items():
        table = read_core_table(name, processed)
        validate(table, schema, name=name)
        assert quality["tables"][name] == table.height
        validate(read_quarantine_table(name, processed), QUARANTINE, name=name)
    assert read_quality(processed) == json.loads(json.dumps(quality, default=str))


def test_counts_add_up_for_every_source(cleaned) -> None:
    _, processed, quality = cleaned
    # every data source is reported (the mapping is configuration, not data; published
    # figures and région outlines are copied into the snapshot, not cleaned)
    copied = {"published_announcements", "published_milestones", "outlines"}
    assert set(quality["sources"]) == set(SOURCE_PATHS) - {"fund_mapping"} - copied
    quarantined = pl.concat(read_quarantine_table(n, processed) for n in CORE_TABLES)
    for source_id, entry in quality["sources"].items():
        assert entry["rows_in"] == entry["rows_out"] + entry["rows_quarantined"], source_id
        assert sum(entry["by_reason"].values()) == entry["rows_quarantined"]
        on_disk = quarantined.filter(pl.col("source_id") == source_id).height
        assert on_disk == entry["rows_quarantined"], source_id


def test_expected_quarantine_reasons_and_attribution(cleaned) -> None:
    _, processed, quality = cleaned
    sources = quality["sources"]
    # the EPT listed by ti-9301 is resolved through etalab_ept (its commune 13002 attributed)
    assert sources["ti_phase1"]["by_reason"] == {"commune_siren": 1, "unknown_grouping": 1}
    assert sources["etalab_ept"]["rows_in"] == 2 and sources["etalab_communes"]["rows_in"] == 8
    assert sources["ti_phase2"]["by_reason"] == {"unknown_grouping": 1}
    assert sources["unemployment_ze"]["by_reason"] == {"missing_rate": 1, "non_numeric_rate": 1}
    assert sources["ti_phase1"]["unit"] == "territory x grouping link"
    ct = read_core_table("commune_territories", processed)
    phase1 = dict(ct.filter(pl.col("ti_phase") == 1).select("commune_insee", "ti_id").iter_rows())
    # EPCI members, Aix-en-Provence listed directly by its commune SIREN, Allauch by its EPT
    assert phase1 == {"01001": "ti-8401", "01002": "ti-8401", "01003": "ti-8401",
                      "13001": "ti-9301", "13002": "ti-9301"}  # fmt: skip
    derived = quality["derived"]
    assert derived["commune_territories"]["communes_via_ept_by_phase"] == {"1": 1}
    assert derived["communes_population"]["not_communes_in_2025_codes"] == ["01002"]
    population = read_core_table("communes", processed).select("commune_insee", "population")
    assert dict(population.iter_rows())["13001"] == 145000
    phase2 = ct.filter(pl.col("ti_phase") == 2)
    assert phase2.height == 5 and "22016" not in phase2["commune_insee"].to_list()
    shapes = read_core_table("territory_shapes", processed)
    assert shapes.height == 4 and shapes["geometry_geojson"].null_count() == 0


def test_optional_project_sources_absent_give_empty_tables(cleaned) -> None:
    _, processed, quality = cleaned
    for source_id, table in (("fund_projects", "projects"), ("mef_plan_de_relance",
                                                              "relance_projects")):  # fmt: skip
        assert quality["sources"][source_id]["status"].startswith("absent")
        assert read_core_table(table, processed).height == 0


def test_metadata_lists_sources_with_checksums(cleaned) -> None:
    raw, processed, _ = cleaned
    meta = read_metadata(processed)
    assert meta["synthetic"] is False
    assert meta["package_version"]
    by_id = {s["source_id"]: s for s in meta["sources"]}
    assert "fund_projects" not in by_id
    entry = by_id["cog_epci"]
    path = raw / SOURCE_PATHS["cog_epci"]
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["size_bytes"] == path.stat().st_size
    assert {"vintage", "publisher", "path"} <= set(entry)


def test_synthetic_manifest_flags_every_table(tmp_path: Path) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw", synthetic=True)
    quality = run_clean(raw, tmp_path / "processed")
    assert quality["synthetic"] is True
    assert read_metadata(tmp_path / "processed")["synthetic"] is True
    for name in CORE_TABLES:
        table = read_core_table(name, tmp_path / "processed")
        assert table["is_synthetic"].all(), name  # vacuous only for the empty project tables


def test_real_manifest_keeps_flag_false(tmp_path: Path) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw", synthetic=False)
    run_clean(raw, tmp_path / "processed")
    communes = read_core_table("communes", tmp_path / "processed")
    assert communes.height > 0 and not communes["is_synthetic"].any()


def test_phase1_grouping_csv_replaces_geojson_memberships(tmp_path: Path) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw")
    write_csv(
        raw / SOURCE_PATHS["ti_phase1_groupings"],
        ("id_ti", "lib_ti", "siren_groupement", "lib_groupement", "nature_juridique"),
        [
            ["ti-8401", "TI Un", "200000001", "CC Un", "CC"],
            ["ti-9301", "TI Aix", "211300017", "Aix-en-Provence", "COM"],
        ],
    )
    quality = run_clean(raw, tmp_path / "processed")
    csv_entry, geo_entry = (
        quality["sources"]["ti_phase1_groupings"],
        quality["sources"]["ti_phase1"],
    )
    assert (csv_entry["rows_in"], csv_entry["rows_out"]) == (2, 1)
    assert csv_entry["by_reason"] == {"commune_siren": 1}
    assert geo_entry["unit"].startswith("feature") and geo_entry["rows_out"] == 2
    members = read_core_table("territory_members", tmp_path / "processed")
    assert members.filter(pl.col("ti_phase") == 1)["epci_siren"].to_list() == ["200000001"]
    shapes = read_core_table("territory_shapes", tmp_path / "processed")
    assert shapes.filter(pl.col("ti_phase") == 1).height == 2


def test_missing_required_files_are_all_listed(tmp_path: Path) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw")
    (raw / SOURCE_PATHS["typo_ruralite"]).unlink()
    (raw / SOURCE_PATHS["ti_phase2"]).unlink()
    # run_clean first materialises the shipped reference files; the check itself names them all
    with pytest.raises(
        FileNotFoundError, match=r"2 required raw file\(s\).*ti_phase2.*typo_ruralite"
    ):
        build_core_tables(raw)


def test_bad_input_stops_the_pipeline_with_a_clear_error(tmp_path: Path, capsys) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw")
    write_csv(raw / SOURCE_PATHS["typo_densite"], ("insee_com", "lib_com"), [["01001", "A"]])
    code = main(["--raw-dir", str(raw), "--processed-dir", str(tmp_path / "p"), "clean"])
    assert code == 2
    assert "densite.csv, row 1, column 'niveau_densite'" in capsys.readouterr().err


def test_cli_clean_prints_counts(tmp_path: Path, capsys) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw")
    code = main(["--raw-dir", str(raw), "--processed-dir", str(tmp_path / "p"), "clean"])
    assert code == 0
    out = capsys.readouterr().out
    assert "ti_phase1" in out and "quarantined" in out
    from analyse.snapshots import resolve_snapshot

    assert (resolve_snapshot(tmp_path / "p") / "core_communes.parquet").is_file()


def test_operator_extract_may_be_a_workbook(demo_dirs, tmp_path) -> None:
    """An xlsx extract next to its mapping (format: xlsx) is cleaned like the CSV one."""
    import shutil

    import polars as pl
    import yaml

    from analyse.clean import run_clean
    from analyse.sources import SOURCE_PATHS

    raw, _ = demo_dirs
    copy = tmp_path / "raw"
    shutil.copytree(raw, copy)
    csv_path = copy / SOURCE_PATHS["fund_projects"]
    mapping_path = copy / SOURCE_PATHS["fund_mapping"]
    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    frame = pl.read_csv(
        csv_path,
        separator=mapping.get("delimiter", ";"),
        skip_rows=mapping.get("skip_rows", 0),
        infer_schema_length=0,
        encoding="utf8-lossy",
    )
    frame.write_excel(csv_path.with_suffix(".xlsx"), worksheet="Projets")
    csv_path.unlink()
    mapping.update({"format": "xlsx", "sheet": "Projets", "skip_rows": 0})
    mapping_path.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    quality = run_clean(copy, tmp_path / "processed")
    fund = quality["sources"]["fund_projects"]
    assert fund["file"] == "fund/projects.xlsx"
    assert fund["rows_in"] == frame.height == fund["rows_out"] + fund["rows_quarantined"]
    assert fund["rows_out"] > 1000
