"""Readers of the reference sources on small hand-made files in the real formats: clean output,
quarantine reasons, and clear errors on bad input.

The writers below (INSEE-like workbooks, ANCT-like GeoJSON, baromètre CSV...) are reused by
``test_clean_pipeline.py`` to build a minimal raw folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import xlsxwriter

from analyse.clean import geography, labour, relance, territories, typologies
from analyse.clean.territories import (
    build_commune_territories,
    simplify_geometry,
    split_grouping_names,
)
from analyse.errors import InputFileError
from analyse.schemas import (
    COMMUNE_TERRITORIES,
    COMMUNE_TYPOLOGIES,
    COMMUNES,
    EPCI,
    LABOUR_PANEL,
    QUARANTINE,
    RELANCE_COUNTS,
    TERRITORIES,
    TERRITORY_MEMBERS,
    TERRITORY_SHAPES,
    ZONES,
    validate,
)
from analyse.sources import SOURCE_PATHS

# ------------------------------------------------------------------------------------------
# Writers of small files in the real formats
# ------------------------------------------------------------------------------------------

COG_EPCI_ROWS = [
    ["200000001", "CC Un", "CC", 2],
    ["200000002", "CA Deux", "CA", 1],
    ["200000003", "ME Trois", "ME", 2],
    ["ZZZZZZZZZ", "Sans objet", "ZZ", 1],
]
#: CODGEO, LIBGEO, EPCI, LIBEPCI, DEP, REG
COG_COMMUNE_ROWS = [
    ["01001", "L'Abergement", "200000001", "CC Un", "01", "84"],
    ["01002", "Bâgé", "200000001", "CC Un", "01", "84"],
    ["01003", "Ceyzériat", "200000002", "CA Deux", "01", "84"],
    ["13001", "Aix-en-Provence", "200000003", "ME Trois", "13", "93"],
    ["13002", "Allauch", "200000003", "ME Trois", "13", "93"],
    ["22016", "Île-de-Bréhat", "ZZZZZZZZZ", "Sans objet", "22", "53"],
]
ZE_ROWS = [["8401", "Zone A", 3], ["9301", "Zone B", 2], ["5301", "Zone C", 1]]
ZE_OF = {"01001": "8401", "01002": "8401", "01003": "8401", "13001": "9301", "13002": "9301",
         "22016": "5301"}  # fmt: skip


def write_insee_workbook(
    path: Path,
    sheets: dict[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
    *,
    codes_row: int = 6,
) -> Path:
    """An INSEE-style workbook: title block, labels on ``codes_row - 1``, codes on ``codes_row``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(path)
    for name, (codes, rows) in sheets.items():
        ws = wb.add_worksheet(name)
        ws.write(0, 0, "Titre du fichier")
        ws.write(1, 0, "France - Liste")
        if codes_row > 4:
            ws.write(codes_row - 3, 0, "@Insee   Source(s) : Insee")
        for j, code in enumerate(codes):
            if codes_row > 1:
                ws.write(codes_row - 2, j, f"Libellé {code}")
            ws.write(codes_row - 1, j, code)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value is not None:
                    ws.write(codes_row + i, j, value)
    wb.add_worksheet("Documentation").write(0, 0, "Documentation")
    wb.close()
    return path


def write_cog_epci(path: Path, communes: Sequence[Sequence[Any]] = COG_COMMUNE_ROWS) -> Path:
    return write_insee_workbook(
        path,
        {
            "EPCI": (("EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM"), COG_EPCI_ROWS),
            "Composition_communale": (("CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG"),
                                      communes),
        },
    )  # fmt: skip


def write_cog_ze(path: Path) -> Path:
    composition = [
        [c[0], c[1], ZE_OF[c[0]], f"Zone {ZE_OF[c[0]]}", None, c[4], c[5]] for c in COG_COMMUNE_ROWS
    ]
    return write_insee_workbook(
        path,
        {
            "ZE2020": (("ZE2020", "LIBZE2020", "NB_COM"), ZE_ROWS),
            "Composition_communale": (
                ("CODGEO", "LIBGEO", "ZE2020", "LIBZE2020", "ZE2020_PARTIE_REG", "DEP", "REG"),
                composition,
            ),
        },
    )


PERIODS = ["2018-T1", "2018-T2", "2018-T3", "2018-T4", "2019-T1", "2019-T2"]


def write_unemployment(path: Path, cells: dict[tuple[str, str], Any] | None = None) -> Path:
    """``txcho_ze`` with 3 zones x 6 quarters; ``cells`` overrides (zone, period) values."""
    cells = cells or {}
    regions = {"8401": ("84", "AUVERGNE RHONE ALPES"), "9301": ("00", "INTERRÉGIONAL"),
               "5301": ("53", "BRETAGNE")}  # fmt: skip
    rows = []
    for k, (code, name, _) in enumerate(ZE_ROWS):
        values = [cells.get((code, p), round(5.0 + k + 0.1 * i, 1)) for i, p in enumerate(PERIODS)]
        rows.append([code, name, *regions[code], *values])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Documentation").write(0, 0, "Taux de chômage localisés")
    ws = wb.add_worksheet("txcho_ze")
    ws.write(0, 0, "Taux de chômage localisés par zone d'emploi")
    ws.write(1, 0, "Source : Insee")
    ws.write(3, 4 + len(PERIODS) - 1, "en %")  # row 3 left empty, as in the real file
    codes = ["ZE2020", "LIBZE2020", "REG", "LIBREG", *PERIODS]
    for j, code in enumerate(codes):
        ws.write(4, j, f"Libellé {code}")
        ws.write(5, j, code)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if value is not None:
                ws.write(6 + i, j, value)
    wb.close()
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
              bom: bool = False, encoding: str = "utf-8") -> Path:  # fmt: skip
    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        return f'"{s}"' if any(c in s for c in ',"\n') else s

    lines = [",".join(header), *(",".join(cell(v) for v in row) for row in rows)]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


FIRMS = "nb-entreprises-industrielles-agricoles"
FIRMS_LABEL = "Nombre d'entreprises industrielles bénéficiaires"


def write_relance(raw_dir: Path) -> dict[str, Path]:
    national = write_csv(
        raw_dir / SOURCE_PATHS["relance_national"],
        relance.NATIONAL_COLUMNS,
        [
            ["Aide", FIRMS_LABEL, FIRMS, "national", "2022-11-30", "8500.0", "entreprises"],
            ["Aide", FIRMS_LABEL, FIRMS, "national", "2022-12-31", "8972.0", "entreprises"],
            ["Apprentissage", "Contrats", "nombre-contrats", "national", "2021-12-31", "7.0", "c"],
        ],
    )
    regional = write_csv(
        raw_dir / SOURCE_PATHS["relance_regional"],
        relance.REGIONAL_COLUMNS,
        [
            ["Aide", FIRMS_LABEL, FIRMS, "84", "Auvergne-Rhône-Alpes", "2022-12-31", "5000.0", "e"],
            ["Aide", FIRMS_LABEL, FIRMS, "93", "Provence-Alpes-Côte d'Azur", "2022-12-31",
             "4640.0", "e"],
        ],
    )  # fmt: skip
    departemental = write_csv(
        raw_dir / SOURCE_PATHS["relance_departemental"],
        (*relance.DEPARTEMENTAL_COLUMNS, "progression", "cible"),
        [
            ["Aide", FIRMS_LABEL, FIRMS, "01", "Ain", "240.0", "2022-12-31", "0.0", "2020-10-31",
             "e", "240.0", ""],
            ["Aide", FIRMS_LABEL, FIRMS, "13", "Bouches-du-Rhône", "300.0", "2022-12-31", "", "",
             "e", "", ""],
        ],
    )  # fmt: skip
    return {"national": national, "regional": regional, "departemental": departemental}


TYPOLOGY_LABELS = {
    "densite": ["Rural à habitat dispersé"] * 5 + ["Bourgs ruraux"],
    "centralite": ["Communes non centre"] * 4 + [" - undefined", "Centre local"],
    "ruralite": [" Les ruralités productives"] * 5 + [" Hors champ : DOM ou commune urbaine"],
}


def write_typologies(raw_dir: Path) -> dict[str, Path]:
    out = {}
    for kind, labels in TYPOLOGY_LABELS.items():
        rows = [[c[0], c[1], label] for c, label in zip(COG_COMMUNE_ROWS, labels, strict=True)]
        out[kind] = write_csv(
            raw_dir / SOURCE_PATHS[f"typo_{kind}"], typologies.typology_columns(kind), rows,
            bom=True,
        )  # fmt: skip
    return out


def square(lon: float, lat: float, size: float = 0.1, *, ccw: bool = True) -> list[list[float]]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return ring if ccw else ring[::-1]


def feature(props: dict[str, Any], geometry: dict[str, Any] | None = None) -> dict[str, Any]:
    geometry = geometry or {"type": "Polygon", "coordinates": [square(5.0, 45.0)]}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(path: Path, features: Sequence[dict[str, Any]]) -> Path:
    doc = {
        "type": "FeatureCollection",
        "name": path.stem,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": list(features),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


PHASE1_FEATURES = [
    feature({"id_ti": "ti-8401", "lib_ti": "TI Un", "lib_groupement": "CC Un, CA Deux",
             "siren_groupement": "200000001, 200000002"}),
    feature({"id_ti": "ti-9301", "lib_ti": "TI Aix",
             "lib_groupement": "Aix-en-Provence, EPT Boucle Nord de Seine, Syndicat X",
             "siren_groupement": "211300017, 200057990, 251200016"},
            {"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [5.4474, 43.5297]},
                {"type": "Polygon", "coordinates": [square(5.2, 43.3)]}]}),
]  # fmt: skip
PHASE2_FEATURES = [
    feature({"id_territoire": "ti-8401", "lib_territoire": "TI Un bis",
             "liste_geo": "CC Un (CCU) (200000001); CA Deux (200000002)"}),
    feature({"id_territoire": "ti-9301", "lib_territoire": "TI Trois",
             "liste_geo": "ME Trois (200000003); Inconnu (123456789)"},
            {"type": "MultiPolygon", "coordinates": [[square(5.2, 43.3, ccw=False)],
                                                      [square(5.4, 43.3, ccw=False)]]}),
]  # fmt: skip


#: Etalab communes.json records (COG 2025) for the tiny COG 2023 above: 01002 was absorbed by
#: 01001 since, 01003 has a former code, 01004 is new, 98411 (COM) has no population.
ETALAB_COMMUNES = [
    {"code": "01001", "nom": "L&#39;Abergement", "type": "commune-actuelle", "departement": "01",
     "region": "84", "population": 1300, "anciensCodes": ["01002"]},
    {"code": "01002", "nom": "Bâgé", "type": "commune-deleguee", "departement": "01",
     "region": "84", "chefLieu": "01001"},
    {"code": "01003", "nom": "Ceyzériat", "type": "commune-actuelle", "departement": "01",
     "region": "84", "population": 1200, "anciensCodes": ["01999"]},
    {"code": "01004", "nom": "Nouvelle", "type": "commune-actuelle", "departement": "01",
     "region": "84", "population": 10},
    {"code": "13001", "nom": "Aix-en-Provence", "type": "commune-actuelle", "departement": "13",
     "region": "93", "population": 145000},
    {"code": "13002", "nom": "Allauch", "type": "commune-actuelle", "departement": "13",
     "region": "93", "population": 21000},
    {"code": "22016", "nom": "Île-de-Bréhat", "type": "commune-actuelle", "departement": "22",
     "region": "53", "population": 380},
    {"code": "98411", "nom": "Îles Saint-Paul", "type": "commune-actuelle", "departement": "984",
     "region": "984"},
]  # fmt: skip
#: Etalab ept.json: the EPT listed by territory ti-9301 (PHASE1_FEATURES), with a (fictitious)
#: member commune of the tiny COG, and an EPT absent from the territories.
ETALAB_EPT = [
    {"code": "200057990", "nom": "Boucle Nord de Seine", "type": "EPT",
     "membres": [{"code": "13002", "nom": "Allauch"}]},
    {"code": "200057867", "nom": "Plaine Commune", "type": "EPT",
     "membres": [{"code": "01002", "nom": "Bâgé"}]},
]  # fmt: skip


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_minimal_raw_dir(raw_dir: Path, *, synthetic: bool | None = None) -> Path:
    """Every required source in its real format, tiny; ``manifest.json`` when ``synthetic``."""
    write_cog_epci(raw_dir / SOURCE_PATHS["cog_epci"])
    write_cog_ze(raw_dir / SOURCE_PATHS["cog_ze2020"])
    write_geojson(raw_dir / SOURCE_PATHS["ti_phase1"], PHASE1_FEATURES)
    write_geojson(raw_dir / SOURCE_PATHS["ti_phase2"], PHASE2_FEATURES)
    write_unemployment(
        raw_dir / SOURCE_PATHS["unemployment_ze"],
        {("5301", "2018-T1"): None, ("5301", "2018-T2"): "nd"},
    )
    write_relance(raw_dir)
    write_typologies(raw_dir)
    write_json(raw_dir / SOURCE_PATHS["etalab_communes"], ETALAB_COMMUNES)
    write_json(raw_dir / SOURCE_PATHS["etalab_ept"], ETALAB_EPT)
    if synthetic is not None:
        (raw_dir / "manifest.json").write_text(json.dumps({"synthetic": synthetic, "files": []}))
    return raw_dir


# ------------------------------------------------------------------------------------------
# Geography
# ------------------------------------------------------------------------------------------


@pytest.fixture
def geo(tmp_path: Path) -> dict[str, pl.DataFrame]:
    ze = geography.read_cog_ze2020(write_cog_ze(tmp_path / "ze.xlsx"))
    cog = geography.read_cog_epci(write_cog_epci(tmp_path / "epci.xlsx"), ze["commune_ze2020"])
    return {"communes": cog["communes"], "epci": cog["epci"], "zones": ze["zones"]}


def test_cog_readers_build_schema_conforming_tables(geo: dict[str, pl.DataFrame]) -> None:
    validate(geo["communes"], COMMUNES, name="communes")
    validate(geo["epci"], EPCI, name="epci")
    validate(geo["zones"], ZONES, name="zones")
    communes = geo["communes"]
    assert communes["commune_insee"].to_list() == [c[0] for c in COG_COMMUNE_ROWS]
    assert dict(zip(communes["commune_insee"], communes["ze2020_code"], strict=True)) == ZE_OF
    assert geo["epci"].filter(pl.col("epci_siren") == "ZZZZZZZZZ")["epci_nature"].item() == "ZZ"
    assert geo["epci"]["n_communes"].to_list() == [2, 1, 2, 1]


def test_cog_codes_stored_as_numbers_get_their_zeros_back(tmp_path: Path) -> None:
    rows = [[1001, "L'Abergement", 200000001, "CC Un", 1, 84], *COG_COMMUNE_ROWS[1:]]
    cog = geography.read_cog_epci(write_cog_epci(tmp_path / "epci.xlsx", rows))
    first = cog["communes"].row(0, named=True)
    assert (first["commune_insee"], first["epci_siren"], first["departement_code"]) == (
        "01001", "200000001", "01",
    )  # fmt: skip


def test_cog_bad_commune_rows_are_quarantined_with_reason_and_row(tmp_path: Path) -> None:
    rows = [
        *COG_COMMUNE_ROWS,
        ["01001", "Doublon", "200000001", "CC Un", "01", "84"],  # row 13
        ["1X001", "Mauvais code", "200000001", "CC Un", "01", "84"],  # row 14
        ["01009", "EPCI inconnu", "299999999", "CC ?", "01", "84"],  # row 15
    ]
    cog = geography.read_cog_epci(write_cog_epci(tmp_path / "epci.xlsx", rows))
    q = cog.quarantine["communes"]
    validate(q, QUARANTINE, name="quarantine")
    got = {(r["source_row"], r["reason"], r["column"]) for r in q.iter_rows(named=True)}
    assert got == {
        (13, "duplicate_commune", "CODGEO"),
        (14, "invalid_commune_insee", "CODGEO"),
        (15, "unknown_epci", "EPCI"),
    }
    assert q["source_file"].unique().to_list() == ["epci.xlsx#Composition_communale"]
    assert json.loads(q.filter(pl.col("source_row") == 14)["raw_json"].item())["LIBGEO"] == (
        "Mauvais code"
    )
    stats = cog.stats[0]
    assert stats.rows_in == len(COG_EPCI_ROWS) + len(rows)
    assert stats.rows_in == stats.rows_out + q.height


def test_missing_column_error_names_file_sheet_row_and_column(tmp_path: Path) -> None:
    path = write_insee_workbook(
        tmp_path / "epci.xlsx",
        {
            "EPCI": (("EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM"), COG_EPCI_ROWS),
            "Composition_communale": (("CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP"),
                                      [r[:5] for r in COG_COMMUNE_ROWS]),
        },
    )  # fmt: skip
    with pytest.raises(InputFileError) as err:
        geography.read_cog_epci(path)
    message = str(err.value)
    for part in ("epci.xlsx", "sheet 'Composition_communale'", "row 6", "column 'REG'", "DEP"):
        assert part in message
    assert err.value.column == "REG" and err.value.row == 6


def test_header_on_another_row_is_reported(tmp_path: Path) -> None:
    path = write_insee_workbook(
        tmp_path / "ze.xlsx",
        {"ZE2020": (("ZE2020", "LIBZE2020", "NB_COM"), ZE_ROWS),
         "Composition_communale": (("CODGEO", "LIBGEO", "ZE2020", "LIBZE2020", "DEP", "REG"), [])},
        codes_row=5,
    )  # fmt: skip
    with pytest.raises(InputFileError, match=r"sheet 'ZE2020', row 6.*codes are on row 5"):
        geography.read_cog_ze2020(path)


def test_wrong_sheet_lists_sheets_present(tmp_path: Path) -> None:
    path = write_insee_workbook(tmp_path / "x.xlsx", {"Feuil1": (("A",), [["1"]])})
    with pytest.raises(InputFileError, match=r"sheet named 'EPCI'.*\['Feuil1', 'Documentation'\]"):
        geography.read_cog_epci(path)


def test_not_an_xlsx_file(tmp_path: Path) -> None:
    path = tmp_path / "epci.xlsx"
    path.write_text("CODGEO;LIBGEO\n01001;A\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"epci\.xlsx: expected a readable \.xlsx workbook"):
        geography.read_cog_epci(path)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        geography.read_cog_epci(tmp_path / "absent.xlsx")


# ------------------------------------------------------------------------------------------
# Territories
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "n", "expected"),
    [
        ("CC Un, CA Deux", 2, ["CC Un", "CA Deux"]),
        ("CC de la Cléry, du Betz et de l'Ouanne, CC Giennoises", 2,
         ["CC de la Cléry, du Betz et de l'Ouanne", "CC Giennoises"]),
        ("CC Pays de Fontenay, CC Vendée, Sèvre, Autise, CC des Herbiers", 3,
         ["CC Pays de Fontenay", "CC Vendée, Sèvre, Autise", "CC des Herbiers"]),
        ("Ardenne Métropole, CC Ardenne, Rives de Meuse", 2,
         ["Ardenne Métropole", "CC Ardenne, Rives de Meuse"]),
        ("CC A, CC B, CC C", 2, [None, None]),  # cannot align: names left null
        (None, 2, [None, None]),
    ],
)  # fmt: skip
def test_split_grouping_names(names: str | None, n: int, expected: list[str | None]) -> None:
    assert split_grouping_names(names, n) == expected


def test_phase1_links_resolved_or_quarantined_with_reasons(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    path = write_geojson(tmp_path / "ti1.geojson", PHASE1_FEATURES)
    res = territories.read_ti_phase1(path, geo["epci"], geo["communes"])
    validate(res["territories"], TERRITORIES, name="territories")
    validate(res["territory_members"], TERRITORY_MEMBERS, name="territory_members")
    validate(res["territory_shapes"], TERRITORY_SHAPES, name="territory_shapes")
    members = res["territory_members"]
    assert sorted(zip(members["ti_id"], members["epci_siren"], members["grouping_name"],
                      strict=True)) == [("ti-8401", "200000001", "CC Un"),
                                        ("ti-8401", "200000002", "CA Deux")]  # fmt: skip
    q = res.quarantine["territory_members"]
    reasons = dict(zip(q["reason"], q["source_row"], strict=True))
    assert reasons == {"commune_siren": 2, "ept_grand_paris": 2, "unknown_grouping": 2}
    commune_detail = q.filter(pl.col("reason") == "commune_siren")["detail"].item()
    assert "attributed directly to commune 13001" in commune_detail
    assert res["commune_members"].rows() == [("13001", "ti-9301", 1, "commune")]
    t = res["territories"].sort("ti_id")
    assert t["n_groupings"].to_list() == [2, 3]
    assert t["n_epci_resolved"].to_list() == [2, 0]
    assert t["region_code"].to_list() == ["84", "93"]
    stats = res.stats[0]
    assert (stats.rows_in, stats.rows_out) == (5, 2)


def test_ept_members_resolve_and_bring_their_communes(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    path = write_geojson(tmp_path / "ti1.geojson", PHASE1_FEATURES)
    ept = pl.DataFrame({"ept_siren": ["200057990", "200057990"],
                        "commune_insee": ["13002", "13001"]})  # fmt: skip
    res = territories.read_ti_phase1(path, geo["epci"], geo["communes"], ept_members=ept)
    members = res["territory_members"].filter(pl.col("grouping_type") == "EPT")
    assert members.select("ti_id", "epci_siren", "grouping_name").rows() == [
        ("ti-9301", "200057990", "EPT Boucle Nord de Seine")
    ]
    q = res.quarantine["territory_members"]
    assert sorted(q["reason"]) == ["commune_siren", "unknown_grouping"]
    # 13001 listed directly wins over its EPT; 13002 comes through the EPT
    assert sorted(res["commune_members"].rows()) == [
        ("13001", "ti-9301", 1, "commune"), ("13002", "ti-9301", 1, "EPT 200057990"),
    ]  # fmt: skip
    assert (res.stats[0].rows_in, res.stats[0].rows_out) == (5, 3)
    assert res["territories"].sort("ti_id")["n_epci_resolved"].to_list() == [2, 1]
    ct, dropped = build_commune_territories(
        geo["communes"], res["territory_members"], res["commune_members"]
    )
    assert ct.filter(pl.col("ti_id") == "ti-9301")["commune_insee"].sort().to_list() == [
        "13001", "13002",
    ]  # fmt: skip
    assert dropped.height == 0


def test_phase2_names_with_parentheses_and_unknown_grouping(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    path = write_geojson(tmp_path / "ti2.geojson", PHASE2_FEATURES)
    res = territories.read_ti_phase2(path, geo["epci"], geo["communes"])
    members = res["territory_members"].sort("epci_siren")
    assert members["grouping_name"].to_list() == ["CC Un (CCU)", "CA Deux", "ME Trois"]
    q = res.quarantine["territory_members"]
    assert q.select("reason", "detail").rows() == [("unknown_grouping", "123456789 Inconnu")]
    assert (res.stats[0].rows_in, res.stats[0].rows_out) == (4, 3)


def test_invalid_siren_duplicate_link_and_duplicate_territory(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    features = [
        feature({"id_territoire": "ti-8401", "lib_territoire": "A",
                 "liste_geo": "CC Un (200000001); CC Un (200000001); Sans code"}),
        feature({"id_territoire": "TI-8401", "lib_territoire": "A again",
                 "liste_geo": "CA Deux (200000002)"}),
        feature({"id_territoire": "", "lib_territoire": "No id",
                 "liste_geo": "CA Deux (200000002)"}),
    ]  # fmt: skip
    res = territories.read_ti_phase2(write_geojson(tmp_path / "t.geojson", features), geo["epci"])
    q = res.quarantine["territory_members"]
    assert sorted(zip(q["source_row"], q["reason"], strict=True)) == [
        (1, "duplicate_link"), (1, "invalid_siren"), (2, "duplicate_territory"),
        (3, "invalid_ti_id"),
    ]  # fmt: skip
    assert res["territories"]["ti_id"].to_list() == ["ti-8401"]
    assert res["territory_shapes"]["ti_id"].to_list() == ["ti-8401"]
    assert res.stats[0].rows_in == res.stats[0].rows_out + q.height == 5


def test_grouping_csv_uses_nature_juridique(tmp_path: Path, geo: dict[str, pl.DataFrame]) -> None:
    path = write_csv(
        tmp_path / "grpt.csv",
        territories.GROUPINGS_CSV_COLUMNS,
        [
            ["ti-8401", "TI Un", "200000001", "CC Un", "CC"],
            ["ti-8401", "TI Un", "200000002", "CA Deux", "CA"],
            ["ti-9301", "TI Aix", "200099999", "Territoire X", "EPT"],
            ["ti-9301", "TI Aix", "211300017", "Aix-en-Provence", "COM"],
        ],
    )
    res = territories.read_ti_groupings_csv(path, 1, geo["epci"], geo["communes"])
    assert res["territories"]["n_groupings"].to_list() == [2, 2]
    q = res.quarantine["territory_members"]
    assert sorted(zip(q["source_row"], q["reason"], strict=True)) == [
        (4, "ept_grand_paris"), (5, "commune_siren"),
    ]  # fmt: skip
    assert res["commune_members"]["commune_insee"].to_list() == ["13001"]


def test_corrupt_geojson_names_the_line(tmp_path: Path, geo: dict[str, pl.DataFrame]) -> None:
    path = tmp_path / "ti.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n {"type": "Feature",,}]}')
    with pytest.raises(InputFileError, match=r"ti\.geojson, row 3: expected valid GeoJSON"):
        territories.read_ti_phase1(path, geo["epci"])


def test_geojson_feature_without_a_property_is_quarantined_with_its_links(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    no_names = feature({"id_ti": "ti-8402", "lib_ti": "X",
                        "siren_groupement": "200000001, 200000003"})  # fmt: skip
    no_props = {"type": "Feature", "properties": None, "geometry": None}
    no_members = feature({"id_ti": "ti-8403", "lib_ti": "Y", "lib_groupement": "CC Un"})
    features = [no_names, PHASE1_FEATURES[0], no_props, no_members, PHASE1_FEATURES[1]]
    path = write_geojson(tmp_path / "ti.geojson", features)
    res = territories.read_ti_phase1(path, geo["epci"], geo["communes"])
    q = res.quarantine["territory_members"].filter(pl.col("reason") == "missing_property")
    assert q.select("source_row", "column").rows() == [
        (1, "lib_groupement"), (1, "lib_groupement"), (3, "properties"), (4, "siren_groupement"),
    ]  # fmt: skip
    assert q["detail"][0] == "feature 1 has no 'lib_groupement'; its links are set aside"
    # the complete features are read; no territory is left without its members
    assert res["territories"]["ti_id"].to_list() == ["ti-8401", "ti-9301"]
    assert res["territory_shapes"]["ti_id"].to_list() == ["ti-8401", "ti-9301"]
    assert res["territory_members"]["ti_id"].unique().to_list() == ["ti-8401"]
    stats = res.stats[0]
    n_quarantined = res.quarantine["territory_members"].height
    assert stats.rows_in == 4 + 5 and stats.rows_in == stats.rows_out + n_quarantined


def test_missing_property_features_do_not_define_a_territory(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    # a complete feature after an incomplete one with the same id defines the territory
    incomplete = feature({"id_ti": "ti-8401", "siren_groupement": "200000003"})
    path = write_geojson(tmp_path / "ti.geojson", [incomplete, PHASE1_FEATURES[0]])
    res = territories.read_ti_phase1(path, geo["epci"])
    assert res["territories"].select("ti_id", "ti_name").rows() == [("ti-8401", "TI Un")]
    assert sorted(res.quarantine["territory_members"]["reason"]) == ["missing_property"]


def test_geojson_in_latin1_is_an_encoding_error(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    path = write_geojson(tmp_path / "ti.geojson", PHASE2_FEATURES)
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1", errors="replace"))
    path.write_bytes(path.read_bytes().replace(b"TI Un bis", b"TI \xc9t\xe9"))
    with pytest.raises(InputFileError, match="expected UTF-8 text"):
        territories.read_ti_phase2(path, geo["epci"])


def test_commune_territories_conflicts_are_decided_and_set_aside(
    geo: dict[str, pl.DataFrame],
) -> None:
    members = pl.DataFrame(
        {
            "ti_id": ["ti-8402", "ti-8401", "ti-9301"],
            "ti_phase": [1, 1, 1],
            "epci_siren": ["200000001", "200000001", "200000003"],
            "grouping_name": ["CC Un", "CC Un", "ME Trois"],
            "grouping_type": ["EPCI"] * 3,
            "is_synthetic": [False] * 3,
        },
        schema=dict(TERRITORY_MEMBERS),
    )
    direct = pl.DataFrame(
        {"commune_insee": ["13001"], "ti_id": ["ti-9399"], "ti_phase": [1]},
        schema={"commune_insee": pl.String, "ti_id": pl.String, "ti_phase": pl.Int8},
    )
    ct, q = build_commune_territories(geo["communes"], members, direct)
    validate(ct, COMMUNE_TERRITORIES, name="commune_territories")
    got = dict(zip(ct["commune_insee"], ct["ti_id"], strict=True))
    # EPCI in two territories: smallest ti_id; commune listed directly: the direct listing wins
    assert got == {"01001": "ti-8401", "01002": "ti-8401", "13001": "ti-9399",
                   "13002": "ti-9301"}  # fmt: skip
    assert q.height == 3  # 01001 and 01002 in ti-8402, 13001 in ti-9301
    assert set(q["reason"]) == {"commune_in_several_territories"}
    assert ct.select(pl.struct("commune_insee", "ti_phase").is_unique().all()).item()


# ------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------


def _area(ring: list[list[float]]) -> float:
    a = np.asarray(ring)
    return float(np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1]) / 2)


def test_simplify_removes_collinear_points_and_winds_clockwise() -> None:
    # a counter-clockwise (RFC 7946) square with many collinear points, and a tiny hole
    side = np.linspace(0, 1, 50)
    ring = (
        [[x, 0.0] for x in side] + [[1.0, y] for y in side[1:]]
        + [[x, 1.0] for x in side[::-1][1:]] + [[0.0, y] for y in side[::-1][1:]]
    )  # fmt: skip
    hole = square(0.4, 0.4, 0.2, ccw=False)
    out = simplify_geometry({"type": "Polygon", "coordinates": [ring, hole]}, 0.001, 3)
    outer, inner = out["coordinates"]
    assert len(outer) == 5 and {tuple(p) for p in outer} == {(0, 0), (1, 0), (1, 1), (0, 1)}
    assert _area(outer) < 0 < _area(inner)  # d3-geo winding: exterior clockwise


def test_simplify_keeps_tiny_territories_and_rounds_points() -> None:
    tiny = {"type": "MultiPolygon", "coordinates": [[square(5.0, 45.0, 0.0001)]]}
    out = simplify_geometry(tiny, 0.01, 4)
    assert out["type"] == "Polygon" and len(out["coordinates"][0]) >= 4
    point = simplify_geometry({"type": "Point", "coordinates": [5.123456, 45.987654]}, 0.01, 3)
    assert point == {"type": "Point", "coordinates": [5.123, 45.988]}


def test_douglas_peucker_matches_a_recursive_reference() -> None:
    def reference(points: np.ndarray, tol: float) -> np.ndarray:
        keep = np.zeros(len(points), bool)
        keep[[0, -1]] = True
        stack = [(0, len(points) - 1)]
        while stack:
            i, j = stack.pop()
            if j <= i + 1:
                continue
            a, d = points[i], points[j] - points[i]
            seg = points[i + 1 : j] - a
            norm = np.hypot(*d)
            dist = (np.abs(d[0] * seg[:, 1] - d[1] * seg[:, 0]) / norm if norm
                    else np.hypot(seg[:, 0], seg[:, 1]))  # fmt: skip
            k = int(np.argmax(dist))
            if dist[k] > tol:
                keep[i + 1 + k] = True
                stack += [(i, i + 1 + k), (i + 1 + k, j)]
        return keep

    rng = np.random.default_rng(7)
    t = np.linspace(0, 2 * np.pi, 400)
    pts = np.c_[np.cos(t) + rng.normal(0, 0.02, t.size), np.sin(t) + rng.normal(0, 0.02, t.size)]
    pts[-1] = pts[0]
    got = territories._douglas_peucker(pts, 0.03)
    assert np.array_equal(got, reference(pts, 0.03))
    assert 4 < got.sum() < len(pts)


# ------------------------------------------------------------------------------------------
# Labour, relance, typologies
# ------------------------------------------------------------------------------------------


def test_unemployment_long_panel_and_cell_quarantine(tmp_path: Path) -> None:
    path = write_unemployment(
        tmp_path / "cho.xlsx",
        {("5301", "2018-T1"): None, ("5301", "2018-T2"): "nd", ("8401", "2019-T2"): 130},
    )
    res = labour.read_unemployment_ze(path)
    panel = res["labour_panel"]
    validate(panel, LABOUR_PANEL, name="labour_panel")
    q = res.quarantine["labour_panel"]
    got = {(r["source_row"], r["column"], r["reason"]) for r in q.iter_rows(named=True)}
    assert got == {
        (9, "2018-T1", "missing_rate"),
        (9, "2018-T2", "non_numeric_rate"),
        (7, "2019-T2", "rate_out_of_range"),
    }
    assert res.stats[0].rows_in == 3 * len(PERIODS) == panel.height + q.height
    zone_a = panel.filter(pl.col("ze2020_code") == "8401")
    assert zone_a["period"].to_list() == PERIODS[:-1]
    assert zone_a["quarter_index"].diff().drop_nulls().to_list() == [1] * 4
    assert zone_a.row(0, named=True)["quarter_index"] == 2018 * 4
    assert zone_a["unemployment_rate_pct"].to_list()[:2] == [5.0, 5.1]
    # "00" (interregional zone) is not a région code
    assert panel.filter(pl.col("ze2020_code") == "9301")["region_code"].null_count() == 6


def test_unemployment_missing_sheet_lists_sheets(tmp_path: Path) -> None:
    path = write_insee_workbook(tmp_path / "cho.xlsx", {"txcho_parties reg": (("ZER2020",), [])})
    with pytest.raises(InputFileError, match=r"txcho_ze.*txcho_parties reg"):
        labour.read_unemployment_ze(path)


def test_relance_keeps_every_indicator_and_scale(tmp_path: Path) -> None:
    paths = write_relance(tmp_path)
    res = relance.read_relance_counts(paths["national"], paths["regional"], paths["departemental"])
    counts = res["relance_counts"]
    validate(counts, RELANCE_COUNTS, name="relance_counts")
    assert counts.group_by("scale").len().sort("scale").rows() == [
        ("departement", 3), ("national", 3), ("region", 2),
    ]  # fmt: skip
    ain = counts.filter(pl.col("geo_code") == "01").sort("date")
    assert ain["value"].to_list() == [0.0, 240.0]
    nat = counts.filter(pl.col("scale") == "national", pl.col("indicator_id") == FIRMS)
    assert nat.filter(pl.col("date") == pl.date(2022, 12, 31))["value"].item() == 8972.0
    assert [s.rows_in for s in res.stats] == [3, 2, 2]


def test_relance_bad_values_are_quarantined(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "nat.csv",
        relance.NATIONAL_COLUMNS,
        [
            ["M", "I", FIRMS, "national", "2022-12-31", "8972.0", "e"],
            ["M", "I", FIRMS, "national", "31/12/2022", "1.0", "e"],
            ["M", "I", FIRMS, "national", "2022-11-30", "n.d.", "e"],
            ["M", "I", FIRMS, "national", "2022-12-31", "9000.0", "e"],
            ["M", "I", "", "national", "2022-10-31", "1.0", "e"],
        ],
    )
    res = relance.read_relance_national(path)
    q = res.quarantine["relance_counts"]
    assert sorted(zip(q["source_row"], q["reason"], strict=True)) == [
        (3, "invalid_date"), (4, "non_numeric_value"), (5, "duplicate_observation"),
        (6, "missing_indicator"),
    ]  # fmt: skip
    assert res["relance_counts"]["value"].to_list() == [8972.0]


def test_csv_in_another_encoding_names_the_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "nat.csv",
        relance.NATIONAL_COLUMNS,
        [
            ["Aide", "I", FIRMS, "national", "2022-12-31", "1.0", "e"],
            ["Développer", "I", FIRMS, "national", "2022-11-30", "1.0", "e"],
        ],
        encoding="cp1252",
    )
    with pytest.raises(InputFileError, match=r"nat\.csv, row 3: expected UTF-8 text"):
        relance.read_relance_national(path)


def test_csv_missing_column_names_header_line(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "densite.csv", ("insee_com", "lib_com", "densite"), [["01001", "A", "x"]]
    )
    with pytest.raises(InputFileError) as err:
        typologies.read_typology(path, "densite")
    assert "densite.csv, row 1, column 'niveau_densite'" in str(err.value)
    assert "['insee_com', 'lib_com', 'densite']" in str(err.value)


def test_typologies_labels_cleaned_and_undefined_is_null(tmp_path: Path) -> None:
    paths = write_typologies(tmp_path)
    res = typologies.read_typologies(paths["densite"], paths["centralite"], paths["ruralite"])
    table = res["commune_typologies"]
    validate(table, COMMUNE_TYPOLOGIES, name="commune_typologies")
    assert table.height == len(COG_COMMUNE_ROWS)
    assert table["centralite_level"].null_count() == 1  # " - undefined"
    assert table["ruralite_level"].str.starts_with(" ").sum() == 0
    assert table.filter(pl.col("commune_insee") == "22016")["ruralite_level"].item() == (
        "Hors champ : DOM ou commune urbaine"
    )
    assert all(s.rows_in == s.rows_out == len(COG_COMMUNE_ROWS) for s in res.stats)


def test_typology_bad_codes_quarantined(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "densite.csv",
        typologies.typology_columns("densite"),
        [["1001", "A", "x"], ["01001", "A", "y"], ["ABCDE", "B", "x"]],
        bom=True,
    )
    res = typologies.read_typology(path, "densite")
    assert res["typology"].rows() == [("01001", "x")]  # 1001 -> 01001 (lost zero)
    q = res.quarantine["commune_typologies"]
    assert sorted(zip(q["source_row"], q["reason"], strict=True)) == [
        (3, "duplicate_commune"), (4, "invalid_commune_insee"),
    ]  # fmt: skip


def test_shapes_only_reader_quarantines_unmatched_features(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    features = [
        *PHASE1_FEATURES,
        feature({"id_ti": "ti-9999", "lib_ti": "?", "lib_groupement": "", "siren_groupement": ""}),
        {"type": "Feature", "properties": {"id_ti": "ti-9301"}, "geometry": None},
    ]
    known = territories.read_ti_phase1(
        write_geojson(tmp_path / "a.geojson", PHASE1_FEATURES), geo["epci"]
    )["territories"]
    res = territories.read_ti_shapes(
        write_geojson(tmp_path / "b.geojson", features), known, phase=1
    )
    q = res.quarantine["territory_shapes"]
    assert sorted(zip(q["source_row"], q["reason"], strict=True)) == [
        (3, "unknown_territory"), (4, "duplicate_territory"),
    ]  # fmt: skip
    assert res["territory_shapes"]["ti_id"].to_list() == ["ti-8401", "ti-9301"]
    assert res.stats[0].rows_in == 4 and res.stats[0].rows_out == 2


def test_shapes_only_reader_quarantines_features_without_id(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    features = [{"type": "Feature", "properties": {"lib_ti": "?"}, "geometry": None},
                "not a feature", *PHASE1_FEATURES]  # fmt: skip
    known = territories.read_ti_phase1(
        write_geojson(tmp_path / "a.geojson", PHASE1_FEATURES), geo["epci"]
    )["territories"]
    res = territories.read_ti_shapes(
        write_geojson(tmp_path / "b.geojson", features), known, phase=1
    )
    q = res.quarantine["territory_shapes"]
    assert q.select("source_row", "reason", "column").rows() == [
        (1, "missing_property", "id_ti"), (2, "missing_property", "properties"),
    ]  # fmt: skip
    assert res["territory_shapes"].height == 2


# ------------------------------------------------------------------------------------------
# Etalab découpage administratif (population, EPT)
# ------------------------------------------------------------------------------------------


def test_etalab_communes_reader(tmp_path: Path) -> None:
    records = [*ETALAB_COMMUNES, "oops", {**ETALAB_COMMUNES[0]},
               {"code": "1A001", "type": "commune-actuelle"},
               {"code": "01005", "type": "village"},
               {"code": "01006", "type": "commune-actuelle", "population": -3}]  # fmt: skip
    res = geography.read_etalab_communes(write_json(tmp_path / "communes.json", records))
    table = res["etalab_communes"]
    assert table.height == len(ETALAB_COMMUNES)
    first = table.row(0, named=True)
    assert first["commune_name"] == "L'Abergement"  # entity decoded
    assert (first["parent_insee"], first["former_codes"], first["population"]) == (
        "01001", ["01002"], 1300,
    )  # fmt: skip
    assert table.row(1, named=True)["parent_insee"] == "01001"
    assert table.schema["population"] == pl.Int64
    q = res.quarantine["communes"]
    assert q.select("source_row", "reason").rows() == [
        (9, "invalid_record"), (10, "duplicate_record"), (11, "invalid_commune_insee"),
        (12, "unknown_type"), (13, "invalid_population"),
    ]  # fmt: skip
    assert res.stats[0].rows_in == len(records) == res.stats[0].rows_out + q.height


def test_etalab_files_that_are_not_arrays_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="a JSON array"):
        geography.read_etalab_communes(write_json(tmp_path / "c.json", {"code": "01001"}))
    (tmp_path / "e.json").write_text('[{"code": "200057990",\n "membres": [}]', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"e\.json, row 2"):
        geography.read_etalab_ept(tmp_path / "e.json")


def test_etalab_ept_reader(tmp_path: Path) -> None:
    records = [*ETALAB_EPT, {"code": "123", "membres": [{"code": "93001"}]},
               {"code": "200000009", "membres": []},
               {"code": "200000008", "membres": [{"code": "93001"}, {"nom": "?"}, {"code": "93001"}]}]  # fmt: skip
    res = geography.read_etalab_ept(write_json(tmp_path / "ept.json", records))
    assert res["ept_members"].rows() == [
        ("200057990", "Boucle Nord de Seine", "13002", "Allauch"),
        ("200057867", "Plaine Commune", "01002", "Bâgé"),
        ("200000008", None, "93001", None),
    ]
    q = res.quarantine["territory_members"]
    assert q.select("source_row", "reason").rows() == [
        (3, "invalid_ept_siren"), (4, "invalid_record"), (5, "invalid_member"),
        (5, "duplicate_member"),
    ]  # fmt: skip
    assert res.stats[0].rows_in == 7 == res.stats[0].rows_out + q.height


def test_population_matched_on_code_with_coverage(
    tmp_path: Path, geo: dict[str, pl.DataFrame]
) -> None:
    etalab = geography.read_etalab_communes(write_json(tmp_path / "c.json", ETALAB_COMMUNES))
    communes, coverage = geography.add_population(geo["communes"], etalab["etalab_communes"])
    validate(communes, COMMUNES, name="communes")
    assert dict(zip(communes["commune_insee"], communes["population"], strict=True)) == {
        "01001": 1300, "01002": None, "01003": 1200, "13001": 145000, "13002": 21000,
        "22016": 380,
    }  # fmt: skip
    assert coverage["with_population"] == 5 and coverage["not_communes_in_2025"] == 1
    assert coverage["not_communes_in_2025_codes"] == ["01002"]
    assert coverage["grown_since_2023"] == 1  # 01001 absorbed 01002
    assert communes.drop("population").equals(geo["communes"].drop("population"))


def test_ept_communes_follow_mergers(tmp_path: Path, geo: dict[str, pl.DataFrame]) -> None:
    etalab = geography.read_etalab_communes(write_json(tmp_path / "c.json", ETALAB_COMMUNES))
    ept = pl.DataFrame({"ept_siren": ["200057867", "200057867"],
                        "commune_insee": ["01001", "99999"]})  # fmt: skip
    members, coverage = geography.ept_communes(ept, geo["communes"], etalab["etalab_communes"])
    # 01002 (COG 2023) is part of 01001 in 2025: both are the EPT's
    assert sorted(members["commune_insee"]) == ["01001", "01002"]
    assert coverage["members_without_cog_2023_commune"] == ["99999"]


def test_csv_line_with_extra_fields_is_named(tmp_path: Path) -> None:
    path = tmp_path / "centralite.csv"
    path.write_text(
        "insee_com,lib_com,niveau_centralite\n01001,A,Centre\n01002,B,Centre, majeur\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match=r"centralite\.csv, row 3: expected 3 .* found 4"):
        typologies.read_typology(path, "centralite")
