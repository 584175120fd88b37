"""Report parameters and run files: validated before anything runs, codes stay strings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from analyse.cli import main
from analyse.errors import ParameterError
from analyse.report.params import (
    NationalParams,
    RegionParams,
    ReportSelection,
    TerritoryParams,
    TerritorySelection,
    build_params,
    list_region_codes,
    read_run_file,
)
from analyse.tables import write_core_table, write_json

ROOT = Path(__file__).resolve().parents[1]


def write_processed(folder: Path) -> Path:
    """A tiny processed layer: régions 01 and 84; territories ti-8401 (phases 1 and 2) and
    ti-0101 (phase 2 only). Also used by the runner and CLI tests."""
    write_core_table(
        pl.DataFrame(
            {
                "commune_insee": ["97101", "01001"],
                "commune_name": ["Les Abymes", "L'Abergement-Clémenciat"],
                "epci_siren": ["249710047", "200069193"],
                "departement_code": ["971", "01"],
                "region_code": ["01", "84"],
                "ze2020_code": ["0101", "8401"],
                "population": pl.Series([158_000, 860], dtype=pl.Int64),
                "is_synthetic": [True, True],
            }
        ),
        "communes",
        folder,
    )
    write_core_table(
        pl.DataFrame(
            {
                "ti_id": ["ti-8401", "ti-8401", "ti-0101"],
                "ti_phase": [1, 2, 2],
                "ti_name": ["Dombes", "Dombes-Côtière", "Cap Excellence"],
                "region_code": ["84", "84", "01"],
                "n_groupings": [1, 1, 1],
                "n_epci_resolved": [1, 1, 1],
                "is_synthetic": [True, True, True],
            },
            schema_overrides={
                "ti_phase": pl.Int8,
                "n_groupings": pl.Int32,
                "n_epci_resolved": pl.Int32,
            },
        ),
        "territories",
        folder,
    )
    write_json(
        {
            "synthetic": True,
            "cleaned_at": "2024-11-22T04:00:00+00:00",
            "package_version": "0.1.0",
            "sources": {
                "cog": {"file": "cog/communes.csv", "sha256": "ab" * 32, "vintage": "2023"}
            },
        },
        folder / "metadata.json",
    )
    return folder


@pytest.fixture()
def processed(tmp_path: Path) -> Path:
    return write_processed(tmp_path / "processed")


def test_region_code_stays_a_string(processed: Path) -> None:
    params = RegionParams(region_code="01", processed_dir=processed)
    assert params.region_code == "01"
    injected = params.to_parameters()
    assert injected["region_code"] == "01"
    assert injected["processed_dir"] == str(processed) and injected["published_dir"] is None
    assert params.job_name == "regions/01"


def test_region_code_given_as_a_number_is_refused(processed: Path) -> None:
    with pytest.raises(ValidationError, match="must be a string.*quote"):
        RegionParams(region_code=1, processed_dir=processed)


def test_unknown_region_lists_the_regions_present_in_the_data(processed: Path) -> None:
    with pytest.raises(ValidationError) as info:
        RegionParams(region_code="99", processed_dir=processed)
    message = str(info.value)
    assert "unknown région code '99'" in message
    assert "01 (Guadeloupe)" in message and "84 (Auvergne-Rhône-Alpes)" in message
    assert "11 (" not in message  # Île-de-France is not in this data


def test_without_data_regions_come_from_the_reference(tmp_path: Path) -> None:
    assert len(list_region_codes(tmp_path)) == 18
    with pytest.raises(ValidationError, match=r"11 \(Île-de-France\)"):
        RegionParams(region_code="1", processed_dir=tmp_path)
    assert RegionParams(region_code="11", processed_dir=tmp_path).region_code == "11"


def test_territory_is_checked_in_its_phase(processed: Path) -> None:
    assert TerritoryParams(ti_id="ti-0101", processed_dir=processed).ti_phase == 2
    sheet = TerritoryParams(ti_id="ti-8401", ti_phase=1, processed_dir=processed)
    assert sheet.job_name == "territoires/phase1/ti-8401"
    assert "Dombes" in sheet.title
    with pytest.raises(ValidationError, match="unknown territory 'ti-0101' in phase 1"):
        TerritoryParams(ti_id="ti-0101", ti_phase=1, processed_dir=processed)
    with pytest.raises(ValidationError):
        TerritoryParams(ti_id="ti-8401", ti_phase=3, processed_dir=processed)


def test_territory_without_data_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="core_territories.parquet is missing.*analyse clean"):
        TerritoryParams(ti_id="ti-8401", processed_dir=tmp_path)


def test_unknown_parameter_is_refused(processed: Path) -> None:
    with pytest.raises(ValidationError, match="extra"):
        NationalParams(processed_dir=processed, region="84")


def test_all_expands_to_national_regions_and_territories_of_the_phase(processed: Path) -> None:
    selection = ReportSelection(
        national=True, regions="all", territories=TerritorySelection(phase=2, ids="all")
    )
    names = [p.job_name for p in build_params(selection, processed_dir=processed)]
    assert names == [
        "national",
        "regions/01",
        "regions/84",
        "territoires/ti-0101",
        "territoires/ti-8401",
    ]


def test_run_file_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    run_file = tmp_path / "run.yml"
    run_file.write_text(
        "reports:\n  regions: [01, '84']\n  territoriez: all\nworkers: 0\n", encoding="utf-8"
    )
    with pytest.raises(ParameterError) as info:
        read_run_file(run_file)
    lines = str(info.value).splitlines()
    assert any(
        line.startswith(f"{run_file}: reports.regions[0]:") and "quote" in line for line in lines
    )
    assert any(line.startswith(f"{run_file}: reports.territoriez:") for line in lines)
    assert any(line.startswith(f"{run_file}: workers:") for line in lines)


def test_run_file_codes_are_checked_against_the_data(tmp_path: Path, processed: Path) -> None:
    run_file = tmp_path / "run.yml"
    run_file.write_text(
        "reports:\n  regions: ['84', '99']\n  territories: {phase: 1, ids: [ti-0101]}\n",
        encoding="utf-8",
    )
    spec = read_run_file(run_file)
    with pytest.raises(ParameterError) as info:
        build_params(spec.reports, processed_dir=processed, source=str(run_file))
    message = str(info.value)
    assert f"{run_file}: reports.regions[1]: unknown région code '99'" in message
    assert f"{run_file}: reports.territories.ids[0]: unknown territory 'ti-0101'" in message


def test_run_file_parameters_reach_the_right_reports(tmp_path: Path, processed: Path) -> None:
    run_file = tmp_path / "run.yml"
    run_file.write_text(
        "reports: {national: true, regions: ['84'], territories: {ids: [ti-0101]}}\n"
        "parameters: {n_boot: 199, seed: 7, phase: 2}\n",
        encoding="utf-8",
    )
    spec = read_run_file(run_file)
    national, region, territory = build_params(
        spec.reports, processed_dir=processed, options=spec.parameters
    )
    assert national.to_parameters()["phase"] == region.to_parameters()["phase"] == 2
    assert "phase" not in territory.to_parameters()  # a sheet has ti_phase, not phase
    assert {p.to_parameters()["n_boot"] for p in (national, region, territory)} == {199}
    assert territory.to_parameters()["seed"] == 7


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    run_file = tmp_path / "run.yml"
    run_file.write_text("reports:\n  national: true\n   regions: [\n", encoding="utf-8")
    with pytest.raises(ParameterError, match=rf"{run_file}: line \d+"):
        read_run_file(run_file)


def test_example_run_file_is_valid(processed: Path) -> None:
    spec = read_run_file(ROOT / "config" / "run.example.yml")
    params = build_params(spec.reports, processed_dir=processed)
    assert [p.kind for p in params].count("territory") == 2
    assert spec.workers == 2


def test_cli_unknown_region_fails_before_running(
    processed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    code = main(
        [
            "--processed-dir",
            str(processed),
            "report",
            "region",
            "99",
            "--out",
            str(out),
            "--notebooks-dir",
            str(ROOT / "tests" / "notebooks"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown région code '99'" in err and "84 (Auvergne-Rhône-Alpes)" in err
    assert not out.exists()
    code = main(["--processed-dir", str(processed), "report", "national", "--n-boot", "5"])
    assert code == 2
    assert "n_boot" in capsys.readouterr().err
