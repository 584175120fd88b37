"""What is true of the real public files (the shipped reference snapshot), checked through
``run_clean`` (run once per session into a temporary folder).

Figures asserted here are facts of the files as documented in their SOURCE.md (counts of
territories, EPCI, communes...); anything derived is recomputed from the raw files in the test.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analyse.clean.territories import MGP_EPT_SIRENS
from analyse.reference import REGION_NAMES, RELANCE_FIRMS_INDICATOR
from analyse.schemas import CORE_TABLES, validate
from analyse.sources import SOURCE_PATHS
from analyse.tables import read_core_table, read_metadata, read_quality, read_quarantine_table

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="session")
def processed(real_processed: Path) -> Path:
    return real_processed


@pytest.fixture(scope="session")
def quality(processed: Path) -> dict:
    return read_quality(processed)  # of the current snapshot


def table(processed: Path, name: str) -> pl.DataFrame:
    return read_core_table(name, processed)


def raw_links(reference_raw: Path, phase: int) -> set[tuple[str, str]]:
    """(ti_id, SIREN) pairs parsed straight from the GeoJSON, independently of the reader."""
    doc = json.loads((reference_raw / SOURCE_PATHS[f"ti_phase{phase}"]).read_text(encoding="utf-8"))
    links = set()
    for f in doc["features"]:
        p = f["properties"]
        if phase == 1:
            sirens = [s.strip() for s in p["siren_groupement"].split(",")]
            links |= {(p["id_ti"], s) for s in sirens}
        else:
            links |= {(p["id_territoire"], s) for s in re.findall(r"\((\d{9})\)", p["liste_geo"])}
    return links


def test_quality_counts_add_up_for_every_source(processed: Path, quality: dict) -> None:
    quarantined = pl.concat(read_quarantine_table(n, processed) for n in CORE_TABLES)
    for source_id, entry in quality["sources"].items():
        assert entry["rows_in"] == entry["rows_out"] + entry["rows_quarantined"], source_id
        assert (
            quarantined.filter(pl.col("source_id") == source_id).height == entry["rows_quarantined"]
        )
    for name in ("fund_projects", "mef_plan_de_relance"):  # not in the mirror
        assert quality["sources"][name]["status"].startswith("absent")


def test_core_tables_conform_to_schemas(processed: Path) -> None:
    for name, schema in CORE_TABLES.items():
        validate(table(processed, name), schema, name=name)
    assert read_metadata(processed)["synthetic"] is False
    assert not table(processed, "communes")["is_synthetic"].any()


def test_cog_2023_geography(processed: Path, quality: dict) -> None:
    communes, epci = table(processed, "communes"), table(processed, "epci")
    assert communes.height == 34_945 and communes["commune_insee"].is_unique().all()
    assert epci.height == 1_256
    assert communes["departement_code"].n_unique() == 101
    assert set(communes["region_code"].unique()) == set(REGION_NAMES)
    natures = dict(epci.group_by("epci_nature").len().iter_rows())
    assert natures == {"CC": 992, "CA": 227, "ME": 21, "CU": 14, "METLYON": 1, "ZZ": 1}
    # NB_COM as published equals the composition's count, for every EPCI
    counted = communes.group_by("epci_siren").len()
    check = epci.join(counted, on="epci_siren", how="left")
    assert (check["n_communes"] == check["len"]).all()
    assert communes.filter(pl.col("epci_siren") == "ZZZZZZZZZ").height == 4
    assert quality["sources"]["cog_epci"]["rows_quarantined"] == 0


def test_zones_d_emploi(processed: Path) -> None:
    zones, communes = table(processed, "zones"), table(processed, "communes")
    assert zones.height == 306
    assert communes["ze2020_code"].null_count() == 0
    assert set(communes["ze2020_code"]) == set(zones["ze2020_code"])


def test_territories_per_phase(processed: Path) -> None:
    t = table(processed, "territories")
    assert dict(t.group_by("ti_phase").len().iter_rows()) == {1: 149, 2: 183}
    assert t.select(pl.struct("ti_id", "ti_phase").is_unique().all()).item()
    assert t["region_code"].null_count() == 0
    links = dict(t.group_by("ti_phase").agg(pl.col("n_groupings").sum()).iter_rows())
    assert links == {1: 588, 2: 641}


@pytest.mark.parametrize(
    ("phase", "n_links", "n_epci", "n_ept"), [(1, 588, 547, 3), (2, 641, 626, 3)]
)
def test_every_grouping_is_member_or_quarantined(
    reference_raw: Path,
    processed: Path,
    quality: dict,
    phase: int,
    n_links: int,
    n_epci: int,
    n_ept: int,
) -> None:
    expected = raw_links(reference_raw, phase)
    assert len(expected) == n_links
    members = table(processed, "territory_members").filter(pl.col("ti_phase") == phase)
    q = read_quarantine_table("territory_members", processed).filter(
        pl.col("source_id") == f"ti_phase{phase}"
    )
    got_members = set(zip(members["ti_id"], members["epci_siren"], strict=True))
    got_q = {(json.loads(r)["ti_id_raw"], json.loads(r)["siren_raw"]) for r in q["raw_json"]}
    assert not got_members & got_q
    assert got_members | got_q == expected
    kinds = dict(members.group_by("grouping_type").len().iter_rows())
    assert kinds == {"EPCI": n_epci, "EPT": n_ept}
    entry = quality["sources"][f"ti_phase{phase}"]
    assert (entry["rows_in"], entry["rows_out"]) == (n_links, n_epci + n_ept)
    # the EPTs (Métropole du Grand Paris) now resolve through etalab_ept; what stays in
    # quarantine is single communes (SIREN 21...), attributed directly when matched by name
    ept = members.filter(pl.col("grouping_type") == "EPT")
    assert set(ept["epci_siren"]) <= MGP_EPT_SIRENS
    assert all(json.loads(r)["siren_raw"].startswith("21") for r in q["raw_json"])
    assert set(q["reason"]) == {"commune_siren"}


def test_phase1_names_align_with_sirens(processed: Path) -> None:
    members = table(processed, "territory_members")
    assert members["grouping_name"].null_count() == 0


def test_no_epci_in_two_territories_of_a_phase(processed: Path, quality: dict) -> None:
    members = table(processed, "territory_members")
    assert members.select(pl.struct("ti_phase", "epci_siren").is_unique().all()).item()
    assert (
        quality["derived"]["commune_territories"]["links_set_aside_commune_in_several_territories"]
        == 0
    )


def test_commune_territories(processed: Path, reference_raw: Path) -> None:
    ct, communes = table(processed, "commune_territories"), table(processed, "communes")
    assert ct.select(pl.struct("commune_insee", "ti_phase").is_unique().all()).item()
    assert ct["commune_insee"].is_in(communes["commune_insee"].implode()).all()
    # communes listed directly: the single-commune territories of phase 1 get their communes
    by_ti = ct.filter(pl.col("ti_phase") == 1).group_by("ti_id").len()
    sizes = dict(by_ti.iter_rows())
    assert sizes["ti-9301"] == 19 and sizes["ti-9307"] == 5 and sizes["ti-9303"] == 1
    fos = ct.filter(pl.col("commune_insee") == "13039", pl.col("ti_phase") == 1)
    assert fos["ti_id"].to_list() == ["ti-9301"]  # Fos-sur-Mer, listed by its commune SIREN
    # every territory has communes: those made of Grand Paris EPTs only get the EPTs' communes
    t = table(processed, "territories")
    without = t.join(ct.select("ti_id", "ti_phase").unique(), on=["ti_id", "ti_phase"],
                     how="anti")  # fmt: skip
    assert without.height == 0


def _ept_communes_from_raw(reference_raw: Path) -> dict[str, set[str]]:
    """EPT SIREN -> member commune codes (COG 2025), read straight from ept.json."""
    path = reference_raw / SOURCE_PATHS["etalab_ept"]
    if not path.is_file():
        pytest.skip("etalab_ept not in the raw folder")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {e["code"]: {m["code"] for m in e["membres"]} for e in doc}


def test_ept_members_bring_their_communes(
    processed: Path, quality: dict, reference_raw: Path
) -> None:
    ept = _ept_communes_from_raw(reference_raw)
    members = table(processed, "territory_members").filter(pl.col("grouping_type") == "EPT")
    ct = table(processed, "commune_territories")
    for phase, ti_id, siren in members.select("ti_phase", "ti_id", "epci_siren").iter_rows():
        got = set(ct.filter(pl.col("ti_phase") == phase, pl.col("ti_id") == ti_id)["commune_insee"])
        assert ept[siren] <= got, (phase, ti_id)  # the territory may hold EPCIs too
    # Boucle Nord de Seine (EPT 200057990) is territory ti-1101 of both phases, by itself
    for phase in (1, 2):
        boucle = ct.filter(pl.col("ti_phase") == phase, pl.col("ti_id") == "ti-1101")
        assert set(boucle["commune_insee"]) == ept["200057990"]
    derived = quality["derived"]
    via_ept = sum(len(ept[s]) for s in members.filter(pl.col("ti_phase") == 1)["epci_siren"])
    assert derived["commune_territories"]["communes_via_ept_by_phase"]["1"] == via_ept
    assert derived["ept_communes"]["members_without_cog_2023_commune"] == []
    assert quality["sources"]["etalab_ept"]["rows_quarantined"] == 0


def test_population_from_etalab(processed: Path, quality: dict, reference_raw: Path) -> None:
    path = reference_raw / SOURCE_PATHS["etalab_communes"]
    if not path.is_file():
        pytest.skip("etalab_communes not in the raw folder")
    records = json.loads(path.read_text(encoding="utf-8"))
    population = {r["code"]: r.get("population") for r in records
                  if r["type"] == "commune-actuelle"}  # fmt: skip
    communes = table(processed, "communes")
    got = dict(communes.select("commune_insee", "population").iter_rows())
    assert all(got[c] == population.get(c) for c in got)
    coverage = quality["derived"]["communes_population"]
    missing = sorted(c for c in got if c not in population)
    assert coverage["not_communes_in_2025_codes"] == missing
    assert coverage["with_population"] == communes.height - len(missing)
    assert len(missing) < 100  # communes merged since the COG 2023
    assert got["75056"] == population["75056"] and got["93059"] is None
    assert quality["sources"]["etalab_communes"]["rows_quarantined"] == 0


def test_territory_shapes_are_light_and_well_formed(processed: Path) -> None:
    shapes = table(processed, "territory_shapes")
    assert dict(shapes.group_by("ti_phase").len().iter_rows()) == {1: 149, 2: 183}
    for phase in (1, 2):
        size = shapes.filter(pl.col("ti_phase") == phase)["geometry_geojson"].str.len_bytes()
        assert size.sum() < 800_000
    for text in shapes["geometry_geojson"]:
        geometry = json.loads(text)
        for polygon in _polygons(geometry):
            for k, ring in enumerate(polygon):
                assert len(ring) >= 4 and ring[0] == ring[-1]
                area = sum(
                    x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)
                )
                assert (area < 0) == (k == 0)  # exterior clockwise (d3-geo / Altair)
                assert all(-62 < x < 56 and -22 < y < 52 for x, y in ring)


def _polygons(geometry: dict) -> list:
    kind = geometry["type"]
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return geometry["coordinates"]
    if kind == "GeometryCollection":
        return [p for g in geometry["geometries"] for p in _polygons(g)]
    return []


def test_unemployment_panel(processed: Path, quality: dict) -> None:
    panel = table(processed, "labour_panel")
    assert panel["ze2020_code"].n_unique() == 302
    assert (panel["period"].min(), panel["period"].max()) == ("2003-T1", "2023-T3")
    n_quarters = (2023 - 2003) * 4 + 3
    assert panel["quarter_index"].n_unique() == n_quarters
    assert panel["unemployment_rate_pct"].is_between(0, 100).all()
    assert quality["sources"]["unemployment_ze"]["rows_in"] == 302 * n_quarters
    # only the 15 overseas zones lack rates, before 2014
    q = read_quarantine_table("labour_panel", processed)
    assert set(q["reason"]) == {"missing_rate"}
    assert {d.split()[0][:2] for d in q["detail"]} <= {"01", "02", "04"}
    assert max(d.split()[1] for d in q["detail"]) == "2013-T4"
    counts = panel.group_by("ze2020_code").len()
    assert set(counts["len"]) == {n_quarters, n_quarters - 44}


def test_relance_counts(processed: Path) -> None:
    counts = table(processed, "relance_counts")
    firms = counts.filter(pl.col("indicator_id") == RELANCE_FIRMS_INDICATOR)
    end = firms.filter(pl.col("date") == pl.date(2022, 12, 31))
    by_scale = dict(end.group_by("scale").agg(pl.col("value").sum()).iter_rows())
    assert by_scale == {"national": 8_972.0, "region": 9_640.0, "departement": 9_640.0}
    assert end.filter(pl.col("scale") == "region")["geo_code"].n_unique() == 18
    assert end.filter(pl.col("scale") == "departement")["geo_code"].n_unique() == 101
    national = firms.filter(pl.col("scale") == "national")
    assert national.height == 36
    assert (national["date"].min(), national["date"].max()) == (
        date(2020, 1, 31),
        date(2022, 12, 31),
    )
    # every indicator of every file is kept
    assert counts.filter(pl.col("scale") == "national")["indicator_id"].n_unique() == 9
    assert counts.filter(pl.col("scale") == "national").height == 234
    assert counts.filter(pl.col("scale") == "region").height == 4_087


def test_commune_typologies(processed: Path) -> None:
    typo = table(processed, "commune_typologies")
    assert typo.height == 34_875
    assert typo["centralite_level"].null_count() == 129  # " - undefined"
    assert typo["densite_level"].n_unique() == 7
    assert not typo["ruralite_level"].str.starts_with(" ").any()
    others = typo.drop("centralite_level")
    assert others.null_count().sum_horizontal().item() == 0
