"""Cleaning of the fund's operator extract (canonical CSV, mappings, xlsx) and of the MEF list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from analyse.clean.extract_mapping import (
    CANONICAL_FIELDS,
    ExtractMapping,
    MappingError,
    load_mapping,
)
from analyse.clean.projects import (
    FUND_REASONS,
    RELANCE_COLUMNS,
    RELANCE_REASONS,
    clean_fund_frame,
    clean_fund_projects,
    clean_relance_projects,
    read_raw_projects,
)
from analyse.errors import InputFileError
from analyse.schemas import (
    COMMUNE_TERRITORIES,
    COMMUNES,
    PROJECTS,
    QUARANTINE,
    RELANCE_PROJECTS,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_MAPPING = ROOT / "config" / "fund_mapping.example.yml"

COMMUNES_DF = pl.DataFrame(
    [
        ("42218", "Saint-Étienne", "244200770", "42", "84", "8414"),
        ("01001", "L'Abergement-Clémenciat", "200069193", "01", "84", "8405"),
        ("69123", "Lyon", "200046977", "69", "84", "8411"),
        ("13055", "Marseille", "200054807", "13", "93", "9310"),
        ("2A004", "Ajaccio", "242010056", "2A", "94", "9401"),
        ("97101", "Les Abymes", "249710047", "971", "01", "0101"),
        ("19021", "Beaulieu-sur-Dordogne", "200066744", "19", "75", "7505"),
        # hand-made ambiguity: two communes with the same name in one département
        ("15990", "Beaulieu", "241500230", "15", "84", "8404"),
        ("15991", "Beaulieu", "241500230", "15", "84", "8404"),
    ],
    schema=[c for c in COMMUNES if c not in ("population", "is_synthetic")],
    orient="row",
).with_columns(pl.lit(None, pl.Int64).alias("population"), pl.lit(False).alias("is_synthetic"))

TERRITORIES_DF = pl.DataFrame(
    {
        "commune_insee": ["42218", "42218", "01001", "69123"],
        "ti_phase": [1, 2, 2, 1],
        "ti_id": ["ti-8401", "ti-8450", "ti-8451", "ti-8402"],
        "is_synthetic": [False] * 4,
    },
    schema=dict(COMMUNE_TERRITORIES),
)

HEADER = list(CANONICAL_FIELDS)
GOOD = {
    "project_id": "P-001",
    "firm_name": "Aciéries du Forez",
    "siren_or_siret": "55210055400013",
    "commune_insee": "42218",
    "commune_name": "",
    "departement_code": "",
    "postal_code": "",
    "decision_date": "2021-03-23",
    "sector": "Métallurgie",
    "firm_size": "PME",
    "aid_eur": "800000",
    "investment_eur": "4000000",
    "jobs_created": "12",
    "jobs_maintained": "40",
    "aid_paid_eur": "",
    "investment_realised_eur": "",
}


def write_canonical(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    """A canonical CSV (UTF-8, comma, quoted)."""
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(f'"{row.get(c, "")}"' for c in header))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean(path: Path, mapping=None):
    projects, quarantine = clean_fund_projects(path, mapping, COMMUNES_DF, TERRITORIES_DF)
    validate(projects, PROJECTS, name="projects")
    validate(quarantine, QUARANTINE, name="quarantine")
    rows_in = read_raw_projects(path, mapping).height
    assert rows_in == projects.height + quarantine.height  # nothing lost
    return projects, quarantine


def row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


# ---------------------------------------------------------------------------- canonical CSV


def test_canonical_csv_is_cleaned_and_attributed(tmp_path):
    path = write_canonical(
        tmp_path / "projects.csv",
        [
            GOOD,
            row(
                project_id="P-002",
                siren_or_siret="732 829 320",
                commune_insee="",
                commune_name="L'ABERGEMENT CLEMENCIAT",
                departement_code="1",
                decision_date="15/06/2021",
                firm_size="",
                aid_eur="1200000.5",
                investment_eur="2400000",
                jobs_created="",
            ),
            row(project_id="P-003", commune_insee="97101", aid_eur="0", investment_eur="1"),
        ],
    )
    projects, quarantine = clean(path)
    assert quarantine.height == 0
    p = projects.to_dicts()
    assert [r["project_id"] for r in p] == ["P-001", "P-002", "P-003"]
    first, second, third = p
    assert first["siren"] == "552100554" and first["siret"] == "55210055400013"
    assert first["decision_date"] == dt.date(2021, 3, 23) and first["decision_year"] == 2021
    assert first["aid_eur"] == 800_000.0 and first["investment_eur"] == 4_000_000.0
    assert first["jobs_created"] == 12.0 and first["aid_paid_eur"] is None
    assert (first["commune_insee"], first["epci_siren"], first["departement_code"]) == (
        "42218",
        "244200770",
        "42",
    )
    assert (first["region_code"], first["ze2020_code"]) == ("84", "8414")
    assert (first["ti_id_phase1"], first["ti_id_phase2"]) == ("ti-8401", "ti-8450")
    assert first["source_file"] == "projects.csv" and first["source_row"] == 2
    assert first["is_synthetic"] is False
    # matched by name in the département, phase-2 territory only
    assert second["siren"] == "732829320" and second["siret"] is None
    assert second["commune_insee"] == "01001" and second["departement_code"] == "01"
    assert (second["ti_id_phase1"], second["ti_id_phase2"]) == (None, "ti-8451")
    assert second["firm_size"] is None and second["jobs_created"] is None
    assert second["decision_date"] == dt.date(2021, 6, 15)
    # overseas, outside every territory
    assert (third["departement_code"], third["region_code"]) == ("971", "01")
    assert (third["ti_id_phase1"], third["ti_id_phase2"]) == (None, None)


def test_optional_columns_may_be_absent_and_ids_are_generated(tmp_path):
    header = ["siren_or_siret", "commune_insee", "decision_date", "aid_eur", "investment_eur"]
    path = write_canonical(tmp_path / "projects.csv", [GOOD, row(aid_eur="5")], header=header)
    projects, quarantine = clean_fund_projects(
        path, None, COMMUNES_DF, TERRITORIES_DF, source_id="fund_projects", is_synthetic=True
    )
    assert quarantine.height == 0
    assert projects["project_id"].to_list() == ["fund_projects-000002", "fund_projects-000003"]
    assert projects["is_synthetic"].to_list() == [True, True]
    assert projects["firm_name"].null_count() == 2


def test_identity_mapping_requires_canonical_headers(tmp_path):
    path = write_canonical(tmp_path / "projects.csv", [GOOD], header=["siren", "aid", "invest"])
    with pytest.raises(InputFileError) as err:
        clean_fund_projects(path, None, COMMUNES_DF, TERRITORIES_DF)
    message = str(err.value)
    assert "projects.csv" in message and "'siren_or_siret'" in message
    assert "['siren', 'aid', 'invest']" in message  # the headers found


# ---------------------------------------------------------------------------- quarantine reasons

REASON_CASES = [
    ("invalid_siren", {"siren_or_siret": "552100555"}, "siren_or_siret", "552100555"),
    ("invalid_siren", {"siren_or_siret": "5.52100554E+13"}, "siren_or_siret", "scientific"),
    ("invalid_siren", {"siren_or_siret": ""}, "siren_or_siret", "empty"),
    ("missing_amount", {"aid_eur": ""}, "aid_eur", "empty"),
    ("missing_amount", {"investment_eur": "NC"}, "investment_eur", "'NC': no-value marker"),
    ("missing_amount", {"aid_eur": "n.c."}, "aid_eur", "'n.c.': no-value marker"),
    ("missing_amount", {"aid_eur": "  "}, "aid_eur", "empty"),
    ("unparsable_amount", {"aid_eur": "environ 2 M"}, "aid_eur", "'environ 2 M'"),
    ("unparsable_amount", {"aid_paid_eur": "oui"}, "aid_paid_eur", "'oui'"),
    ("unparsable_number", {"jobs_created": "une dizaine"}, "jobs_created", "'une dizaine'"),
    ("negative_amount", {"aid_eur": "-5"}, "aid_eur", "'-5'"),
    ("negative_amount", {"investment_realised_eur": "(12)"}, "investment_realised_eur", "(12)"),
    ("negative_number", {"jobs_maintained": "-3"}, "jobs_maintained", "'-3'"),
    ("missing_date", {"decision_date": ""}, "decision_date", "empty"),
    ("missing_date", {"decision_date": "N/D"}, "decision_date", "'N/D': no-value marker"),
    ("invalid_siren", {"siren_or_siret": "n.c."}, "siren_or_siret", "'n.c.': no-value marker"),
    ("unparsable_date", {"decision_date": "31/02/2021"}, "decision_date", "'31/02/2021'"),
    ("unparsable_date", {"decision_date": "printemps 2021"}, "decision_date", "printemps"),
    (
        "aid_exceeds_investment",
        {"aid_eur": "5000000", "investment_eur": "4000000"},
        "aid_eur",
        "aid 5000000.0 EUR > investment 4000000.0 EUR",
    ),
    ("invalid_firm_size", {"firm_size": "Moyenne"}, "firm_size", "'Moyenne'"),
    ("unknown_commune", {"commune_insee": "99999"}, "commune_insee", "'99999' not in the COG"),
    ("unknown_commune", {"commune_insee": "ABC"}, "commune_insee", "invalid commune code 'ABC'"),
    (
        "unknown_commune",
        {"commune_insee": "", "commune_name": "Atlantis", "departement_code": "42"},
        "commune_insee",
        "no commune named 'Atlantis' in département 42",
    ),
    (
        "unknown_commune",
        {"commune_insee": "", "commune_name": "Lyon"},
        "commune_insee",
        "no commune name with a département",
    ),
    (
        "ambiguous_commune",
        {"commune_insee": "", "commune_name": "Beaulieu", "departement_code": "15"},
        "commune_name",
        "several communes named 'Beaulieu' in département 15",
    ),
    (
        "commune_departement_mismatch",
        {"departement_code": "69"},
        "departement_code",
        "département 69 given, but commune 42218 is in département 42",
    ),
]


@pytest.mark.parametrize(("reason", "changes", "column", "detail"), REASON_CASES)
def test_each_quarantine_reason(tmp_path, reason, changes, column, detail):
    bad = row(project_id="P-BAD", **changes)
    path = write_canonical(tmp_path / "projects.csv", [GOOD, bad])
    projects, quarantine = clean(path)
    assert projects["project_id"].to_list() == ["P-001"]
    assert quarantine.height == 1
    q = quarantine.row(0, named=True)
    assert q["reason"] == reason
    assert q["column"] == column
    assert detail in q["detail"]
    assert q["source_row"] == 3
    assert (q["source_id"], q["source_file"]) == ("fund_projects", "projects.csv")
    assert json.loads(q["raw_json"]) == bad  # the raw row, verbatim


def test_every_declared_reason_is_exercised():
    exercised = {case[0] for case in REASON_CASES} | {"duplicate_project"}
    assert exercised == set(FUND_REASONS)


def test_commune_code_unknown_falls_back_on_name(tmp_path):
    path = write_canonical(
        tmp_path / "projects.csv",
        [row(commune_insee="42999", commune_name="St-Etienne", departement_code="42")],
    )
    projects, quarantine = clean(path)
    assert quarantine.height == 0
    assert projects["commune_insee"].to_list() == ["42218"]


def test_postal_code_gives_the_departement(tmp_path):
    path = write_canonical(
        tmp_path / "projects.csv",
        [
            row(commune_insee="", commune_name="Ajaccio", postal_code="20000"),
            row(project_id="P-2", commune_insee="", commune_name="Ajaccio", departement_code="20",
                postal_code="20090"),
        ],
    )  # fmt: skip
    projects, quarantine = clean(path)
    assert quarantine.height == 0
    assert projects["commune_insee"].to_list() == ["2A004", "2A004"]


def test_duplicates_first_row_kept(tmp_path):
    rows = [
        GOOD,
        row(project_id="P-002", aid_eur="100"),
        dict(GOOD),  # exact duplicate of row 2
        row(siren_or_siret="552 100 554 00013", aid_eur="800 000"),  # same after normalisation
        row(project_id="P-002", aid_eur="200"),  # id reused with different content
        row(project_id="P-003"),  # same content, other id: a distinct project
    ]
    path = write_canonical(tmp_path / "projects.csv", rows)
    projects, quarantine = clean(path)
    assert projects["project_id"].to_list() == ["P-001", "P-002", "P-003"]
    assert quarantine["reason"].to_list() == ["duplicate_project"] * 3
    assert quarantine["source_row"].to_list() == [4, 5, 6]
    assert quarantine["detail"].to_list() == [
        "exact duplicate of row 2",
        "exact duplicate of row 2",
        "project_id 'P-002' already used by row 3 with different content",
    ]
    assert quarantine["column"].to_list() == [None, None, "project_id"]


def test_duplicate_of_a_quarantined_row_is_not_a_duplicate(tmp_path):
    rows = [row(aid_eur="abc"), row(aid_eur="100")]  # same project_id, first one is bad
    path = write_canonical(tmp_path / "projects.csv", rows)
    projects, quarantine = clean(path)
    assert projects["source_row"].to_list() == [3]
    assert quarantine["reason"].to_list() == ["unparsable_amount"]


def test_distinct_value_shortcut_gives_the_same_result(tmp_path, monkeypatch):
    import analyse.clean.projects as projects_module

    ids = ["552 100 554", "55210055400013", "552.100.554", "552100554.0", "73282932000074",
           "732 829 320", "005420120", "5420120"]  # fmt: skip
    rows = [row(project_id=f"P{i}", aid_eur=f"{1000 + i} €", siren_or_siret=s)
            for i, s in enumerate(ids)]  # fmt: skip
    rows += [
        row(project_id=f"B{i}", **changes) for i, (_, changes, _, _) in enumerate(REASON_CASES)
    ]
    path = write_canonical(tmp_path / "projects.csv", rows)
    by_distinct = clean(path)  # small file: every column normalised per distinct value
    monkeypatch.setattr(projects_module, "_DISTINCT_MIN_ROWS", 0)  # mostly distinct: direct
    direct = clean(path)
    assert by_distinct[0].equals(direct[0]) and by_distinct[1].equals(direct[1])
    assert by_distinct[0].height == 8
    assert by_distinct[0]["siren"].to_list()[-2:] == ["005420120", "005420120"]


@pytest.mark.parametrize("min_rows", [10_000, 0])
def test_categorical_reading_gives_the_same_result(tmp_path, monkeypatch, min_rows):
    import analyse.clean.projects as projects_module

    monkeypatch.setattr(projects_module, "_DISTINCT_MIN_ROWS", min_rows)
    # 400 distinct dates and job counts: with min_rows 0 they take the mostly-distinct path
    rows = [row(project_id=f"P{i}", aid_eur=str(1000 + i), jobs_created=str(i),
                decision_date=f"{1 + i % 28:02d}/{1 + i // 28 % 12:02d}/{2019 + i // 336}")
            for i in range(400)]  # fmt: skip
    rows += [
        row(project_id=f"B{i}", **changes) for i, (_, changes, _, _) in enumerate(REASON_CASES)
    ]
    rows += [dict(rows[0]), row(project_id="P1", aid_eur="999")]
    path = write_canonical(tmp_path / "projects.csv", rows)
    raw = read_raw_projects(path, categorical_fields=projects_module._REPEATED_FIELDS)
    assert raw.schema["commune_insee"] == pl.Categorical  # read as categories
    as_text = clean_fund_frame(
        read_raw_projects(path), None, COMMUNES_DF, TERRITORIES_DF
    )  # every cell as String
    as_categories = clean(path)
    assert as_text[0].equals(as_categories[0]) and as_text[1].equals(as_categories[1])
    assert as_categories[1].height == len(REASON_CASES) + 2


def test_counts_add_up_on_a_mixed_file(tmp_path):
    rows = [row(project_id=f"P{i}", aid_eur=str(1000 + i)) for i in range(30)]
    for i, (_, changes, _, _) in enumerate(REASON_CASES):
        rows.append(row(project_id=f"B{i}", **changes))
    rows += [dict(rows[0]), dict(rows[1])]
    path = write_canonical(tmp_path / "projects.csv", rows)
    projects, quarantine = clean(path)  # asserts rows_in == kept + quarantined
    assert projects.height == 30
    assert quarantine.height == len(REASON_CASES) + 2
    assert quarantine["source_row"].is_unique().all()
    assert set(projects["source_row"]).isdisjoint(set(quarantine["source_row"]))


# ---------------------------------------------------------------------------- mappings

FRENCH_HEADER = [
    "N° dossier",
    "Raison sociale",
    "N° SIRET",
    "Code commune",
    "Date de décision",
    "Montant de l'aide (k€)",
    "Investissement total",
    "Emplois créés",
    "Taille",
]


def write_mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


CP1252_MAPPING = """
format: csv
encoding: cp1252
delimiter: ";"
skip_rows: 2
decimal: ","
thousands: " "
date_formats: ["%d/%m/%Y"]
columns:
  project_id: "N° dossier"
  firm_name: "Raison sociale"
  siren_or_siret: "N° SIRET"
  commune_insee: "Code commune"
  decision_date: "Date de décision"
  aid_eur: "Montant de l'aide (k€)"
  investment_eur: "Investissement total"
  jobs_created: "Emplois créés"
  firm_size: "Taille"
units:
  aid_eur: kEUR
firm_size_values:
  "Moyenne entreprise (PME)": PME
"""


def test_cp1252_csv_with_french_headers_and_units(tmp_path):
    lines = [
        "Export Fonds d'accélération;;;;;;;;",
        "Extrait le 01/02/2022;;;;;;;;",
        ";".join(FRENCH_HEADER),
        "D-1;Société Générale d'Usinage;552 100 554 00013;42218;23/03/2021;"
        "1\u00a0234,5;4\u00a0500\u00a0000,00 €;12;Moyenne entreprise (PME)",
        "D-2;Forges de l'Ondaine;732829320.0;1001;05/07/2021;250;1,2 M€;;ETI",
        "D-3;Chaudronnerie;732829320;69123;05/07/2021;12 k€;;;GE",
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    mapping = load_mapping(write_mapping(tmp_path / "mapping.yml", CP1252_MAPPING))
    projects, quarantine = clean(path, mapping)
    assert projects["project_id"].to_list() == ["D-1", "D-2"]
    assert projects["firm_name"].to_list() == ["Société Générale d'Usinage", "Forges de l'Ondaine"]
    assert projects["aid_eur"].to_list() == [1_234_500.0, 250_000.0]
    assert projects["investment_eur"].to_list() == [4_500_000.0, 1_200_000.0]
    assert projects["firm_size"].to_list() == ["PME", "ETI"]
    assert projects["commune_insee"].to_list() == ["42218", "01001"]
    assert projects["source_row"].to_list() == [4, 5]  # two title rows and the header counted
    (q,) = quarantine.to_dicts()
    assert (q["reason"], q["column"], q["source_row"]) == (
        "missing_amount",
        "Investissement total",
        6,
    )
    assert json.loads(q["raw_json"])["Montant de l'aide (k€)"] == "12 k€"


def test_example_mapping_reads_an_xlsx_export_with_a_title_block(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    mapping = load_mapping(EXAMPLE_MAPPING)
    assert mapping.format == "xlsx" and mapping.sheet == "Projets"
    headers = list(mapping.columns.values())
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Notice").write(0, 0, "Lisez-moi")
    ws = wb.add_worksheet("Projets")
    date_format = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.write(0, 0, "Fonds d'accélération des investissements industriels - export opérateur")
    ws.write(1, 0, "Date d'extraction : 01/02/2022")
    ws.write_row(mapping.skip_rows, 0, headers)  # row 3 (0-based) = spreadsheet row 4
    values = {
        "N° dossier": ["FA-1", "FA-2", "FA-3", "FA-4"],
        "Raison sociale": ["Plasturgie Rhône", "Verrerie d'Ajaccio", "Mécanique", "Tôlerie"],
        "N° SIRET": [55210055400013, "732 829 320", "5.52100554E+13", 73282932000074],
        "Code commune": [42218, "2A004", "69123", 1001],
        "Commune du projet": ["Saint-Étienne", "Ajaccio", "Lyon", "L'Abergement-Clémenciat"],
        "Département": [42, "2A", 69, 1],
        "Code postal": [42000, "20000", 69003, 1400],
        "Date de décision": [dt.date(2021, 3, 23), "05/07/2021", "2021-07-05", 44400],
        "Secteur d'activité": ["Plasturgie", "Verre", "Mécanique", "Métal"],
        "Taille de l'entreprise": [
            "Petite ou moyenne entreprise",
            "ETI",
            "pme",
            "Grand groupe / GE",
        ],
        "Montant de l'aide (k€)": [12.345, "1 234,5", 100, "800"],
        "Investissement total": [100000, "4 500 000,50", 2000000, "1,5 M€"],
        "Emplois créés": [3, "", 5, 2.5],
        "Emplois maintenus": ["", 10, "", ""],
        "Aide versée (k€)": [6, "", "", "0,5"],
    }
    for j, header in enumerate(headers):
        for i, value in enumerate(values[header]):
            r = mapping.skip_rows + 2 + i  # a blank spreadsheet row between header and data
            if isinstance(value, dt.date):
                ws.write_datetime(r, j, dt.datetime.combine(value, dt.time()), date_format)
            else:
                ws.write(r, j, value)
    wb.close()

    projects, quarantine = clean(path, mapping)
    assert projects["project_id"].to_list() == ["FA-1", "FA-2", "FA-4"]
    p = {r["project_id"]: r for r in projects.to_dicts()}
    # numeric cell 12.345 k€ in a file whose text cells use "." as nothing: 12 345 EUR
    assert p["FA-1"]["aid_eur"] == pytest.approx(12_345.0)
    assert p["FA-1"]["aid_paid_eur"] == pytest.approx(6_000.0)
    assert p["FA-1"]["siret"] == "55210055400013"
    assert p["FA-1"]["decision_date"] == dt.date(2021, 3, 23)
    assert p["FA-1"]["firm_size"] == "PME"
    assert p["FA-2"]["aid_eur"] == pytest.approx(1_234_500.0)
    assert p["FA-2"]["investment_eur"] == pytest.approx(4_500_000.5)
    assert p["FA-2"]["commune_insee"] == "2A004" and p["FA-2"]["region_code"] == "94"
    assert p["FA-2"]["jobs_maintained"] == 10.0
    assert p["FA-4"]["commune_insee"] == "01001"  # 1001 from a numeric cell
    assert p["FA-4"]["decision_date"] == dt.date(2021, 7, 23)  # Excel serial 44400
    assert p["FA-4"]["investment_eur"] == 1_500_000.0 and p["FA-4"]["jobs_created"] == 2.5
    assert p["FA-4"]["firm_size"] == "GE"
    assert p["FA-4"]["aid_paid_eur"] == 500.0
    # spreadsheet row numbers: header on row 4, blank row 5, data from row 6
    assert [p[k]["source_row"] for k in ("FA-1", "FA-2", "FA-4")] == [6, 7, 9]
    assert projects["source_file"].unique().to_list() == ["export.xlsx#Projets"]
    (q,) = quarantine.to_dicts()
    assert (q["reason"], q["source_row"], q["column"]) == ("invalid_siren", 8, "N° SIRET")


def test_xlsx_numeric_cells_are_not_read_with_text_separators(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Projets")
    ws.write_row(0, 0, ["siret", "commune", "date", "aide_k", "aide_txt", "invest"])
    ws.write_row(1, 0, ["55210055400013", "42218", "23/03/2021", 12.345, "1.234,5", 5e6])
    wb.close()
    mapping = ExtractMapping(
        format="xlsx",
        decimal=",",
        thousands=".",
        columns={
            "siren_or_siret": "siret",
            "commune_insee": "commune",
            "decision_date": "date",
            "aid_eur": "aide_k",
            "aid_paid_eur": "aide_txt",
            "investment_eur": "invest",
        },
        units={"aid_eur": "kEUR", "aid_paid_eur": "kEUR"},
    )
    projects, _ = clean(path, mapping)
    # 12.345 is a number in the cell: 12.345 k€, not 12 345 k€ as the text "12.345" would be
    assert projects.select("aid_eur", "aid_paid_eur", "investment_eur").row(0) == pytest.approx(
        (12_345.0, 1_234_500.0, 5_000_000.0)
    )
    assert projects["source_file"].to_list() == ["export.xlsx"]


def test_defaults_fill_absent_fields(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "siret,ville,date,aide,invest\n55210055400013,Saint Etienne,2021-03-23,10,20\n",
        encoding="utf-8",
    )
    mapping = ExtractMapping(
        columns={
            "siren_or_siret": "siret",
            "commune_name": "ville",
            "decision_date": "date",
            "aid_eur": "aide",
            "investment_eur": "invest",
        },
        defaults={"departement_code": "42", "sector": "Industrie"},
    )
    projects, _ = clean(path, mapping)
    assert projects.select("commune_insee", "sector").row(0) == ("42218", "Industrie")


def test_missing_mapped_column_names_file_column_and_headers(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(
        ("x;y\n" + ";".join(FRENCH_HEADER[:-1]) + "\n").encode("cp1252")
    )  # "Taille" is missing
    mapping = load_mapping(write_mapping(tmp_path / "mapping.yml", CP1252_MAPPING))
    mapping = mapping.model_copy(update={"skip_rows": 1})
    with pytest.raises(InputFileError) as err:
        clean_fund_projects(path, mapping, COMMUNES_DF, TERRITORIES_DF)
    assert err.value.column == "Taille"
    assert err.value.row == 2
    message = str(err.value)
    assert str(path) in message and "'Taille'" in message and "Emplois créés" in message


def test_wrong_encoding_names_the_line(tmp_path):
    path = tmp_path / "export.csv"
    text = (
        ",".join(HEADER)
        + "\n"
        + "\n".join(
            ",".join(row(firm_name=name, sector="Metal").values())
            for name in ["Alpha", "Beta", "Forgé"]
        )
    )
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(InputFileError) as err:
        read_raw_projects(path, None)
    assert err.value.row == 4
    assert str(path) in str(err.value) and "0xe9" in str(err.value)
    # declared cp1252 but actually UTF-8: refused rather than garbled
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match="UTF-8 text") as err:
        read_raw_projects(path, ExtractMapping(encoding="cp1252"))
    assert err.value.row == 4


def test_missing_sheet_names_sheets_present(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    path = tmp_path / "export.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Feuil1").write(0, 0, "x")
    wb.close()
    with pytest.raises(InputFileError) as err:
        read_raw_projects(path, ExtractMapping(format="xlsx", sheet="Projets"))
    message = str(err.value)
    assert str(path) in message and "'Projets'" in message and "['Feuil1']" in message


def test_row_with_too_many_fields_is_named(tmp_path):
    path = tmp_path / "export.csv"
    lines = [",".join(HEADER), ",".join(GOOD.values()), ",".join(GOOD.values()) + ",extra"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        read_raw_projects(path)
    assert err.value.row == 3 and "17 fields" in str(err.value)


def test_row_numbers_follow_the_file_lines(tmp_path):
    path = tmp_path / "projects.csv"
    lines = [
        ",".join(HEADER),
        ",".join(f'"{v}"' for v in row(project_id="A").values()),
        "",  # blank line: not a row
        ",".join(f'"{v}"' for v in row(project_id="B", firm_name="Line one\nline two").values()),
        ",".join(f'"{v}"' for v in row(project_id="C", aid_eur="x").values()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    projects, quarantine = clean(path)
    assert projects["source_row"].to_list() == [2, 4]
    assert quarantine["source_row"].to_list() == [6]  # after the value spanning two lines


# ---------------------------------------------------------------------------- mapping errors


@pytest.mark.parametrize(
    ("text", "key", "fragment", "line"),
    [
        ("format: csv\nsheets: Projets\n", "sheets", "unknown key", 2),
        ("units:\n  aid_eur: k€\n", "units.aid_eur", "'EUR', 'kEUR' or 'MEUR'", 2),
        ("columns:\n  aide: Montant\n", "columns.aide", "unknown field name", 2),
        ("columns:\n  siren_or_siret: SIRET\n", "columns", "'aid_eur' is not mapped", 1),
        ("decimal: ','\nthousands: ','\n", "thousands", "both ','", 2),
        ("encoding: ebcdic\n", "encoding", "utf-8", 1),
        ("delimiter: ';;'\n", "delimiter", "one character", 1),
        ("skip_rows: -1\n", "skip_rows", "greater than or equal to 0", 1),
        (
            "columns:\n  siren_or_siret: S\n  aid_eur: A\n  investment_eur: I\n"
            "  decision_date: D\n  commune_insee: C\n  sector: X\ndefaults:\n  sector: y\n",
            "defaults.sector",
            "both mapped",
            9,
        ),
        ("defaults:\n  aid_eur: '0'\n", "defaults.aid_eur", "cannot take a file-wide default", 2),
        (
            "columns:\n  siren_or_siret: S\n  aid_eur: A\n  investment_eur: I\n"
            "  decision_date: D\n  commune_name: N\n",
            "columns",
            "the commune is not mapped",
            1,
        ),
    ],
)
def test_mapping_errors_name_file_key_and_line(tmp_path, text, key, fragment, line):
    path = write_mapping(tmp_path / "mapping.yml", text)
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert err.value.key == key
    assert err.value.row == line
    message = str(err.value)
    assert str(path) in message and f"key {key!r}" in message and fragment in message


def test_mapping_yaml_syntax_error_names_the_line(tmp_path):
    path = write_mapping(tmp_path / "mapping.yml", "format: csv\ncolumns: [unclosed\n")
    with pytest.raises(MappingError, match="valid YAML") as err:
        load_mapping(path)
    assert err.value.row == 3
    with pytest.raises(MappingError, match="no such file"):
        load_mapping(tmp_path / "absent.yml")


def test_mapping_accepts_encoding_spellings_and_is_identity_by_default():
    assert ExtractMapping(encoding="windows-1252").encoding == "cp1252"
    assert ExtractMapping(encoding="ISO-8859-1").encoding == "latin-1"
    assert ExtractMapping(encoding="UTF8").encoding == "utf-8"
    assert ExtractMapping().is_identity and ExtractMapping().unit("aid_eur") == "EUR"


# ---------------------------------------------------------------------------- MEF list


def write_relance(path: Path, rows: list[dict[str, str]], separator: str = ";") -> Path:
    lines = [separator.join(RELANCE_COLUMNS)]
    for r in rows:
        lines.append(separator.join(f'"{r.get(c, "")}"' for c in RELANCE_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


MEF = {
    "entreprise": "FORGES DU FOREZ",
    "type_entreprise": "PME",
    "siren": "552100554.0",
    "volet_relance": "Compétitivité",
    "mesure": "Territoires d'industrie",
    "nom_departement": "LOIRE",
    "nom_commune": "SAINT-ETIENNE",
    "code_postal": "42000",
    "coordonnees_gps": "45.43, 4.39",
    "description_projet": "Projet &amp; modernisation d&#39;une ligne",
    "mesure_light": "Territoires d'industrie",
    "mise_a_jour": "2022-03-21",
    "filiere": "Métallurgie",
    "tonnes_equivalent_co2_pour_les_projets_decarbonation": "",
    "code_departement": "42.0",
    "nom_region": "AUVERGNE-RHONE-ALPES",
}


def test_relance_projects(tmp_path):
    rows = [
        MEF,
        {**MEF, "entreprise": "CHIMIE DES ABYMES", "siren": "73282932000074",
         "nom_commune": "LES ABYMES", "code_departement": "971.0", "code_postal": "97139",
         "coordonnees_gps": "16.27, -61.50",
         "tonnes_equivalent_co2_pour_les_projets_decarbonation": "42.5"},
        {**MEF, "nom_commune": "SAINT-ETIENNE-DU-NULLE-PART", "coordonnees_gps": "hors format"},
        {**MEF, "siren": "", "entreprise": "ATELIER SANS SIREN", "nom_commune": "L'ABERGEMENT CLEMENCIAT",
         "code_departement": "1.0", "code_postal": "1400"},
        {**MEF, "siren": "123", "entreprise": ""},  # no identifier, no name
        {**MEF, "code_departement": "99", "code_postal": ""},  # unknown département
        {**MEF, "code_departement": "", "code_postal": "20000", "nom_commune": "AJACCIO"},
    ]  # fmt: skip
    path = write_relance(tmp_path / "plan-de-relance.csv", rows)
    projects, quarantine = clean_relance_projects(path, COMMUNES_DF, TERRITORIES_DF)
    validate(projects, RELANCE_PROJECTS, name="relance_projects")
    validate(quarantine, QUARANTINE, name="quarantine")
    assert projects.height + quarantine.height == len(rows)
    assert quarantine.select("source_row", "reason").rows() == [
        (6, "unidentified_firm"),
        (7, "unknown_departement"),
    ]
    assert set(quarantine["reason"]) <= set(RELANCE_REASONS)
    p = projects.to_dicts()
    assert [r["source_row"] for r in p] == [2, 3, 4, 5, 8]
    first, abymes, unmatched, no_siren, ajaccio = p
    assert first["project_id"] == "mef_plan_de_relance-000002"
    assert (first["siren"], first["siret"]) == ("552100554", None)
    assert (first["commune_insee"], first["epci_siren"]) == ("42218", "244200770")
    assert (first["ti_id_phase1"], first["ti_id_phase2"]) == ("ti-8401", "ti-8450")
    assert first["description"] == "Projet & modernisation d'une ligne"
    assert first["updated_on"] == dt.date(2022, 3, 21)
    assert (first["latitude"], first["longitude"]) == (45.43, 4.39)
    assert first["co2_t"] is None and first["postal_code"] == "42000"
    assert (abymes["siren"], abymes["siret"]) == ("732829320", "73282932000074")
    assert (abymes["departement_code"], abymes["region_code"]) == ("971", "01")
    assert abymes["commune_insee"] == "97101" and abymes["co2_t"] == 42.5
    assert abymes["longitude"] == -61.5
    # unmatched commune: the row is kept, région from the département
    assert unmatched["commune_insee"] is None and unmatched["epci_siren"] is None
    assert (unmatched["departement_code"], unmatched["region_code"]) == ("42", "84")
    assert unmatched["latitude"] is None
    assert no_siren["siren"] is None and no_siren["commune_insee"] == "01001"
    assert no_siren["postal_code"] == "01400"
    assert (ajaccio["departement_code"], ajaccio["commune_insee"]) == ("2A", "2A004")


def test_relance_comma_separated_and_missing_column(tmp_path):
    path = write_relance(tmp_path / "plan-de-relance.csv", [MEF], separator=",")
    projects, quarantine = clean_relance_projects(path, COMMUNES_DF, TERRITORIES_DF)
    assert projects.height == 1 and quarantine.height == 0
    path.write_text("entreprise;siren\nX;552100554\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        clean_relance_projects(path, COMMUNES_DF, TERRITORIES_DF)
    assert err.value.column == "type_entreprise" and "plan-de-relance.csv" in str(err.value)


def test_relance_invalid_siren_and_exact_duplicates_are_quarantined(tmp_path):
    rows = [
        MEF,
        {**MEF, "siren": "552100555"},  # bad checksum, with a firm name
        {**MEF, "siren": "55210055400014", "entreprise": "FORGES BIS"},  # bad NIC, good SIREN
        dict(MEF),  # exact copy of line 2
        {**MEF, "siren": "5.52100554E+13", "entreprise": "FORGES TER"},
        {**MEF, "siren": "", "entreprise": "SANS SIREN"},  # blank identifier, a name: kept
        {**MEF, "siren": "552100555"},  # copy of line 3, which is quarantined for its SIREN
    ]
    path = write_relance(tmp_path / "plan-de-relance.csv", rows)
    projects, quarantine = clean_relance_projects(path, COMMUNES_DF, TERRITORIES_DF)
    assert projects.height + quarantine.height == len(rows)
    assert set(quarantine["reason"]) <= set(RELANCE_REASONS)
    q = quarantine.select("source_row", "reason", "column", "detail").rows()
    assert q == [
        (3, "invalid_siren", "siren", "'552100555': not a SIREN/SIRET with a valid checksum"),
        (5, "duplicate_project", None, "exact duplicate of row 2"),
        (6, "invalid_siren", "siren", "'5.52100554E+13': scientific notation, digits lost"),
        (8, "invalid_siren", "siren", "'552100555': not a SIREN/SIRET with a valid checksum"),
    ]
    assert json.loads(quarantine.row(0, named=True)["raw_json"])["siren"] == "552100555"
    kept = projects.select("source_row", "siren", "siret").rows()
    assert kept == [(2, "552100554", None), (4, "552100554", None), (7, None, None)]


ENTITY_CASES = [
    ("FORGES &amp; FILS &#8211; L&#x27;ATELIER", "FORGES & FILS – L'ATELIER"),
    ("M&eacute;tallurgie&nbsp;", "Métallurgie"),
    ("&amp;lt;b&amp;gt; d&#39;une ligne &amp", "&lt;b&gt; d'une ligne &"),
    ("SAINT-&Eacute;TIENNE", "SAINT-ÉTIENNE"),
]


def test_relance_decodes_every_entity_in_every_text_field(tmp_path):
    text_fields = ["entreprise", "type_entreprise", "volet_relance", "mesure", "mesure_light",
                   "filiere", "description_projet"]  # fmt: skip
    rows = [{**MEF, **{f: raw for f in text_fields}, "nom_commune": "SAINT-&Eacute;TIENNE"}
            for raw, _ in ENTITY_CASES]  # fmt: skip
    path = write_relance(tmp_path / "plan-de-relance.csv", rows)
    projects, quarantine = clean_relance_projects(path, COMMUNES_DF, TERRITORIES_DF)
    assert quarantine.height == 0
    columns = ["firm_name", "firm_type", "volet", "measure", "measure_short", "sector",
               "description"]  # fmt: skip
    for (_, decoded), record in zip(ENTITY_CASES, projects.to_dicts(), strict=True):
        assert [record[c] for c in columns] == [decoded] * len(columns)
        assert record["commune_insee"] == "42218"  # the decoded name is matched


def test_fund_extract_decodes_entities_in_text_fields(tmp_path):
    rows = [row(project_id=f"P{i}", firm_name=raw, sector=raw, aid_eur=str(1000 + i))
            for i, (raw, _) in enumerate(ENTITY_CASES)]  # fmt: skip
    path = write_canonical(tmp_path / "projects.csv", rows)
    projects, quarantine = clean(path)
    assert quarantine.height == 0
    decoded = [d for _, d in ENTITY_CASES]
    assert projects["firm_name"].to_list() == decoded == projects["sector"].to_list()


def test_first_rows_equal_the_exact_window_function():
    import numpy as np

    from analyse.clean.projects import _first_rows, _shared_positions

    assert _shared_positions(np.array([5, 1, 5, 2, 1, 9], dtype=np.uint64)).tolist() == [0, 1, 2, 4]
    rng = np.random.default_rng(7)
    n = 3000
    df = pl.DataFrame(
        {
            "_row": np.arange(2, n + 2),
            "a": rng.integers(0, 40, n).astype(str),  # the hashed key repeats a lot
            "b": rng.choice([None, 1.0, 2.5], n),
            "c": rng.integers(0, 3, n),  # not hashed: compared exactly
        }
    ).with_columns(pl.col("a").str.replace("^7$", None))
    among = pl.Series(rng.random(n) < 0.8)
    got = _first_rows(df, {c: pl.col(c) for c in "abc"}, ["a", "b"], among)
    exact = (
        df.with_columns(among.alias("in"))
        .with_columns(pl.col("_row").filter("in").min().over("a", "b", "c", "in"))
        .select(pl.when("in").then("_row"))
        .to_series()
    )
    assert got.to_list() == exact.to_list()
    assert (got != df["_row"]).sum() > 1000  # many duplicates found
