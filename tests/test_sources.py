"""The source registry: complete, consistent with the path contract and with the real files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from analyse.errors import ParameterError
from analyse.fetch import materialise_reference
from analyse.refdata import load_reference
from analyse.sources import (
    SOURCE_PATHS,
    SOURCES,
    Source,
    get_header_row,
    get_sheet_columns,
    get_source,
    list_sources,
    render_sources_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
READERS = {
    "analyse.clean.territories.read_ti_phase1",
    "analyse.clean.territories.read_ti_phase2",
    "analyse.clean.territories.read_ti_groupings_csv",
    "analyse.clean.geography.read_cog_epci",
    "analyse.clean.geography.read_cog_ze2020",
    "analyse.clean.typologies.read_typology",
    "analyse.clean.labour.read_unemployment_ze",
    "analyse.clean.relance.read_relance_counts",
    "analyse.clean.projects.clean_relance_projects",
    "analyse.clean.projects.clean_fund_projects",
    "analyse.clean.geography.read_etalab_communes",
    "analyse.clean.geography.read_etalab_ept",
    "analyse.estimate.reconciliation.read_published_figures",
    "analyse.review.programme.read_milestones",
    "analyse.charts.maps.read_outlines",
}
OPTIONAL = {
    "mef_plan_de_relance",
    "fund_projects",
    "fund_mapping",
    "ti_phase1_groupings",
}
PINS = load_reference()


def test_registry_follows_the_path_contract() -> None:
    assert list(SOURCES) == list(SOURCE_PATHS)
    for source_id, source in SOURCES.items():
        assert source.id == source_id
        assert source.path == SOURCE_PATHS[source_id]


@pytest.mark.parametrize("source", SOURCES.values(), ids=list(SOURCES))
def test_every_source_is_described(source: Source) -> None:
    assert source.path and not source.path.startswith("/")
    assert source.publisher.strip() and source.title.strip() and source.vintage.strip()
    assert source.licence.strip()
    assert source.reader in READERS
    assert source.format in {"csv", "xlsx", "geojson", "json", "yaml"}
    assert Path(source.path).suffix.lstrip(".") in {source.format, "yml"}
    assert len(source.updated) in (0, 4, 7, 10) and source.updated[:2] in ("", "20")
    if source.required:
        assert source.id in PINS, "a required source must be in the reference snapshot"
        assert source.attribution_fr and source.updated
    if source.url is None:
        assert not source.required or source.id in PINS  # obtainable: shipped if not online
    else:
        assert source.url.startswith("https://")
        assert source.notes.startswith(("seen", "pattern"))  # how sure the address is
    if source.archive_member:
        assert source.url is not None and source.url.endswith(".zip")
        assert Path(source.archive_member).name == Path(source.path).name
    if source.format == "xlsx":
        assert source.sheet is not None and "header_row" in source.extra
    if source.format in {"csv", "geojson", "xlsx"} and source.url is not None:
        assert source.columns, "a public file must declare its columns"
    if any(p in source.publisher for p in ("INSEE", "ANCT", "DITP", "Économie")):
        assert source.licence == "Licence Ouverte / Etalab 2.0"


def test_optional_sources_and_operator_extract() -> None:
    assert {s.id for s in SOURCES.values() if not s.required} == OPTIONAL
    for source_id in ("fund_projects", "fund_mapping"):
        assert SOURCES[source_id].url is None
        assert SOURCES[source_id].licence.startswith("None")
    assert [s.id for s in list_sources(required_only=True)] == [
        s for s in SOURCE_PATHS if s not in OPTIONAL
    ]
    assert list_sources() == list(SOURCES.values())


def test_get_source_unknown_id_lists_valid_ids() -> None:
    assert get_source("cog_epci") is SOURCES["cog_epci"]
    with pytest.raises(KeyError) as info:
        get_source("cog_epic")
    assert isinstance(info.value, ParameterError)
    assert "cog_epic" in str(info.value)
    assert all(source_id in str(info.value) for source_id in SOURCES)


def test_sheet_columns_of_workbooks() -> None:
    sheets = get_sheet_columns(SOURCES["cog_epci"])
    assert sheets["EPCI"] == ("EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM")
    assert sheets["Composition_communale"] == SOURCES["cog_epci"].columns
    assert get_sheet_columns(SOURCES["relance_national"]) == {}
    assert get_header_row(SOURCES["unemployment_ze"]) == 5
    assert get_header_row(SOURCES["relance_national"]) == 0


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = fh.readline()
    return next(csv.reader([first]))


@pytest.fixture(scope="module")
def reference_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference snapshot decompressed (the real files, as shipped)."""
    folder = tmp_path_factory.mktemp("reference_raw")
    materialise_reference(folder)
    return folder


@pytest.mark.parametrize("source_id", sorted(PINS))
def test_declared_columns_match_the_real_file(reference_raw: Path, source_id: str) -> None:
    source = SOURCES[source_id]
    path = reference_raw / source.path
    if source.format == "csv":
        assert _csv_header(path) == list(source.columns)
    elif source.format == "geojson":
        data = json.loads(path.read_text(encoding="utf-8"))
        assert set(data["features"][0]["properties"]) == set(source.columns)
    elif source.format == "json":
        keys = set().union(*json.loads(path.read_text(encoding="utf-8")))
        assert keys == set(source.columns)
    elif source.format == "xlsx":
        for sheet, columns in get_sheet_columns(source).items():
            frame = pl.read_excel(
                path,
                sheet_name=sheet,
                read_options={"header_row": get_header_row(source), "n_rows": 1},
                infer_schema_length=0,
            )
            assert frame.columns == list(columns), f"sheet {sheet}"
    else:  # pragma: no cover - no pinned source has another format
        pytest.fail(f"no header check for format {source.format}")


def test_docs_page_is_generated_from_the_registry() -> None:
    page = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    assert page == render_sources_markdown(), "regenerate docs/sources.md from the registry"
