"""``analyse demo``: determinism, calibration to the published headlines, planted effects, and
formats identical to the real public files (compared with ../shared/data/raw when present)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analyse.demo import DEMO_SOURCE_IDS, generate_fund_projects, write_demo, write_fund_extract
from analyse.demo.geography import REGION_DEPARTEMENTS
from analyse.errors import ParameterError
from analyse.reference import REGION_NAMES, RELANCE_FIRMS_INDICATOR
from analyse.sources import SOURCE_PATHS, SOURCES

SEED = 2018
XLSX_SHEETS = {  # file id -> {sheet: 1-based row of the variable codes}
    "cog_epci": {"EPCI": 6, "Composition_communale": 6, "Variables": 6},
    "cog_ze2020": {"ZE2020": 6, "Composition_communale": 6, "Variables": 6},
    "unemployment_ze": {"txcho_ze": 6, "txcho_parties reg": 8},
}
HEADLINES = {"aid_eur": 573e6, "investment_eur": 5.4e9, "jobs_created": 27_250}


def luhn_ok(code: str) -> bool:
    """Independent Luhn check (not the generator's): digits doubled every second from the right."""
    if not code.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(code)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_files(folder: Path) -> dict[str, str]:
    """sha256 of every file but the manifest (whose ``created_at`` is the run's time)."""
    return {
        str(p.relative_to(folder)): sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "raw"
    write_demo(folder, seed=SEED, world="synthetic")
    return folder


@pytest.fixture(scope="module")
def manifest(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "manifest.json").read_text(encoding="utf-8"))


def read_sheet(path: Path, sheet: str, header_row: int, n_rows: int | None = None) -> pl.DataFrame:
    options: dict = {"header_row": header_row - 1}
    if n_rows is not None:
        options["n_rows"] = n_rows
    return pl.read_excel(path, sheet_name=sheet, read_options=options)


def raw_rows(path: Path, sheet: str, n_rows: int = 12) -> pl.DataFrame:
    """The first rows of a sheet as text, without header (the title block included)."""
    return pl.read_excel(
        path,
        sheet_name=sheet,
        has_header=False,
        infer_schema_length=0,
        drop_empty_rows=False,
        read_options={"n_rows": n_rows},
    )


# ---------------------------------------------------------------------------------------------
# determinism and manifest


def test_same_seed_gives_identical_bytes(demo_dir: Path, tmp_path: Path) -> None:
    write_demo(tmp_path / "again", seed=SEED, world="synthetic")
    first, second = data_files(demo_dir), data_files(tmp_path / "again")
    assert first == second
    assert any(name.endswith(".xlsx") for name in first)  # xlsx bytes are compared too


def test_other_seed_changes_every_data_file(demo_dir: Path, tmp_path: Path) -> None:
    write_demo(tmp_path / "other", seed=SEED + 1, world="synthetic")
    first, other = data_files(demo_dir), data_files(tmp_path / "other")
    assert first.keys() == other.keys()
    same = {name for name in first if first[name] == other[name]}
    # the mapping does not depend on the draw; the synthetic world has no EPT; the published
    # figures and the région outlines are real files taken from the reference snapshot
    fixed = ("fund_mapping", "etalab_ept", "published_announcements", "published_milestones",
             "outlines")  # fmt: skip
    assert same == {SOURCE_PATHS[s] for s in fixed}


def test_workbooks_have_a_fixed_creation_date(demo_dir: Path) -> None:
    for source_id in XLSX_SHEETS:
        with zipfile.ZipFile(demo_dir / SOURCE_PATHS[source_id]) as zf:
            core = zf.read("docProps/core.xml").decode()
            stamps = {info.date_time for info in zf.infolist()}
        assert "2023-01-01T00:00:00Z" in core
        assert len(stamps) == 1  # zip members carry one fixed timestamp


def test_manifest_says_synthetic_and_hashes_every_file(demo_dir: Path, manifest: dict) -> None:
    assert manifest["synthetic"] is True
    assert manifest["seed"] == SEED
    assert set(manifest) >= {"created_at", "synthetic", "seed", "files", "planted_effects"}
    assert [f["source_id"] for f in manifest["files"]] == list(DEMO_SOURCE_IDS)
    for entry in manifest["files"]:
        path = demo_dir / entry["path"]
        assert entry["path"] == SOURCE_PATHS[entry["source_id"]]
        assert entry["sha256"] == sha256(path)
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["origin"] == "analyse demo (synthetic)"
        assert entry["synthetic"] is True
        assert entry["retrieved_at"] and "synthetic" in entry["vintage"]
    from analyse.fetch import verify_manifest

    assert verify_manifest(demo_dir) == []  # the fetch module accepts the demo manifest
    text = (demo_dir / "SYNTHETIC.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "synthétiques" in text
    effect = manifest["planted_effects"]["unemployment"]["effect_pp_per_unit_intensity"]
    assert str(effect) in text


def test_demo_refuses_to_overwrite_real_files(tmp_path: Path) -> None:
    real = {
        "created_at": "x",
        "synthetic": False,
        "files": [{"source_id": "cog_epci", "path": "a"}],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(real), encoding="utf-8")
    with pytest.raises(ParameterError, match="real fetched files"):
        write_demo(tmp_path, seed=SEED, world="synthetic")
    assert not (tmp_path / "SYNTHETIC.md").exists()


# ---------------------------------------------------------------------------------------------
# fund projects: calibration and planted relations


@pytest.fixture(scope="module")
def projects() -> pl.DataFrame:
    return generate_fund_projects(1416, SEED)


def test_fund_totals_match_published_headlines(projects: pl.DataFrame) -> None:
    assert projects.height == 1416
    for column, headline in HEADLINES.items():
        total = projects[column].sum()
        assert abs(total / headline - 1) < 0.03, (column, total)


def test_fund_amounts_are_heavy_tailed_and_consistent(projects: pl.DataFrame) -> None:
    aid = projects["aid_eur"].to_numpy()
    top = np.sort(aid)[::-1][: len(aid) // 20].sum() / aid.sum()
    assert top > 0.25  # the largest 5 % of projects hold over a quarter of the aid
    assert np.median(aid) < 0.6 * aid.mean()
    assert (projects["aid_eur"] <= projects["investment_eur"]).all()
    ratio = (
        projects.group_by("firm_size")
        .agg((pl.col("aid_eur") / pl.col("investment_eur")).mean().alias("r"))
        .sort("firm_size")
    )
    r = dict(ratio.iter_rows())
    assert r["TPE"] > r["PME"] > r["ETI"] > r["GE"]  # aid intensity falls with firm size
    share = projects["aid_paid_eur"].is_not_null().mean()
    assert 0.2 < share < 0.7  # realised amounts reported for part of the projects only
    assert (projects["aid_paid_eur"].drop_nulls() <= projects.filter(
        pl.col("aid_paid_eur").is_not_null()
    )["aid_eur"]).all()  # fmt: skip
    dates = projects["decision_date"]
    assert str(dates.min()) >= "2020-10-01" and str(dates.max()) <= "2022-12-31"


def test_fund_identifiers_are_luhn_valid(projects: pl.DataFrame) -> None:
    ids = projects["siren_or_siret"].to_list()
    assert {len(s) for s in ids} == {9, 14}
    assert all(luhn_ok(s) for s in ids)
    assert all(luhn_ok(s[:9]) for s in ids)


def test_fund_planted_elasticities_are_recoverable(projects: pl.DataFrame, manifest: dict) -> None:
    truth = manifest["planted_effects"]["fund"]
    log_aid = np.log(projects["aid_eur"].to_numpy())
    log_inv = np.log(projects["investment_eur"].to_numpy())
    dummies = projects.select("firm_size", "sector").to_dummies(drop_first=True).to_numpy()
    x = np.column_stack([np.ones(len(log_aid)), log_aid, dummies])
    beta = np.linalg.lstsq(x, log_inv, rcond=None)[0]
    assert abs(beta[1] - truth["log_investment_model"]["elasticity_aid"]) < 0.05
    naive = np.polyfit(log_aid, log_inv, 1)[0]
    assert naive > beta[1] + 0.1  # firm size confounds the naive slope, as planted
    jobs = projects["jobs_created"].to_numpy().astype(float)
    x = np.column_stack([np.ones(len(log_inv)), log_inv - log_inv.mean()])
    b = np.array([np.log(jobs.mean()), 0.0])
    for _ in range(25):  # Poisson regression by Newton-Raphson
        mu = np.exp(x @ b)
        b += np.linalg.solve(x.T @ (x * mu[:, None]), x.T @ (jobs - mu))
    assert abs(b[1] - truth["jobs_model"]["elasticity_investment"]) < 0.1


def test_demo_extract_is_the_generated_projects(projects: pl.DataFrame, manifest: dict) -> None:
    truth = manifest["planted_effects"]["fund"]
    assert truth["totals"]["aid_eur"] == pytest.approx(projects["aid_eur"].sum())
    assert truth["totals"]["jobs_created"] == projects["jobs_created"].sum()
    assert 0.70 < truth["share_in_phase1_communes"] < 0.80


def test_generate_fund_projects_scales_per_project() -> None:
    df = generate_fund_projects(5_000, 3)
    assert df.height == 5_000 and df["project_id"].n_unique() == 5_000
    per_project = df["investment_eur"].sum() / df.height
    assert abs(per_project / (5.4e9 / 1416) - 1) < 0.03
    assert generate_fund_projects(50, 3).equals(generate_fund_projects(50, 3))


def parse_operator_csv(path: Path) -> pl.DataFrame:
    """A minimal independent reader of the operator export (title line, ';', kEUR, dd/mm/yyyy)."""
    text = path.read_bytes().decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0].startswith("Fonds d'accélération")  # the title row above the header
    return pl.read_csv(io.StringIO("\n".join(lines[1:])), separator=";", infer_schema_length=0)


def test_fund_extract_roundtrip(tmp_path: Path) -> None:
    df = generate_fund_projects(300, 11)
    write_fund_extract(df, tmp_path / "projects.csv", tmp_path / "mapping.yml")
    import yaml

    mapping = yaml.safe_load((tmp_path / "mapping.yml").read_text(encoding="utf-8"))
    raw = parse_operator_csv(tmp_path / "projects.csv")
    assert set(mapping["columns"].values()) <= set(raw.columns)
    assert raw.height == df.height
    back = {field: raw[header] for field, header in mapping["columns"].items()}
    for field, unit in mapping["units"].items():
        assert unit == "kEUR"
        text = back[field].str.replace_all("\u00a0", "").str.replace(",", ".")
        assert "\u00a0" in "".join(back["investment_eur"].drop_nulls().to_list())
        eur = text.cast(pl.Float64) * 1000
        assert np.allclose(eur.fill_null(-1).to_numpy(), df[field].fill_null(-1).to_numpy())
    dates = back["decision_date"].str.strptime(pl.Date, mapping["date_formats"][0])
    assert dates.equals(df["decision_date"], check_names=False)
    assert back["siren_or_siret"].equals(df["siren_or_siret"], check_names=False)


def test_mapping_is_valid_for_the_extract_reader(demo_dir: Path) -> None:
    extract_mapping = pytest.importorskip("analyse.clean.extract_mapping")
    mapping = extract_mapping.load_mapping(demo_dir / SOURCE_PATHS["fund_mapping"])
    assert mapping.delimiter == ";" and mapping.skip_rows == 1
    assert set(mapping.columns) == set(extract_mapping.CANONICAL_FIELDS)


def test_demo_extract_holds_the_planted_dirty_rows(demo_dir: Path, manifest: dict) -> None:
    raw = parse_operator_csv(demo_dir / SOURCE_PATHS["fund_projects"])
    extract = manifest["planted_effects"]["fund"]["extract"]
    assert raw.height == extract["n_data_rows"] == extract["n_projects"] + 3
    kinds = {d["kind"] for d in extract["dirty_rows"]}
    assert kinds == {
        "invalid_siren", "invalid_siret_nic", "unparsable_amount", "commune_name_only",
        "insee_leading_zero_lost", "duplicate_row",
    }  # fmt: skip
    rows = raw.rows(named=True)
    for d in extract["dirty_rows"]:
        row = rows[d["file_line"] - 3]  # title = line 1, header = line 2
        assert row["N° dossier"] == d["project_id"]
        value = row[d["column"]] if d["column"] else None
        if d["kind"] == "invalid_siren":
            assert not luhn_ok(value[:9])
        elif d["kind"] == "invalid_siret_nic":
            assert luhn_ok(value[:9]) and not luhn_ok(value)
        elif d["kind"] == "unparsable_amount":
            assert re.fullmatch(r"[\d\u00a0]+,\d+", value) is None
        elif d["kind"] == "commune_name_only":
            assert value is None and row["Commune du projet"] and row["Dépt"]
        elif d["kind"] == "insee_leading_zero_lost":
            assert len(value) == 4 and value.isdigit()
        elif d["kind"] == "duplicate_row":
            original = [r for r in rows if r["N° dossier"] == d["project_id"]]
            assert len(original) == 2 and original[0] == original[1]


# ---------------------------------------------------------------------------------------------
# geography, territories, panels


def test_geography_structure(demo_dir: Path) -> None:
    path = demo_dir / SOURCE_PATHS["cog_epci"]
    com = read_sheet(path, "Composition_communale", 6)
    epci = read_sheet(path, "EPCI", 6)
    real_deps = {d for deps in REGION_DEPARTEMENTS.values() for d in deps}
    assert set(com["DEP"]) == real_deps and len(real_deps) == 101
    assert set(com["REG"]) == set(REGION_NAMES)
    assert com["CODGEO"].str.contains(r"^(\d{2}|2A|2B)\d{3}$").all()
    assert (com["CODGEO"].str.slice(0, 2) == com["DEP"].str.slice(0, 2)).all()
    assert 4000 < com.height < 6000 and 1100 < epci.height < 1400
    sirens = [s for s in epci["EPCI"].to_list() if s != "ZZZZZZZZZ"]
    assert all(luhn_ok(s) for s in sirens) and len(set(sirens)) == len(sirens)
    counts = dict(com.group_by("EPCI").len().iter_rows())
    assert dict(epci.select("EPCI", "NB_COM").iter_rows()) == counts
    assert counts["ZZZZZZZZZ"] >= 1  # island communes outside any EPCI
    assert {"CC", "CA", "ME", "METLYON", "ZZ"} <= set(epci["NATURE_EPCI"])
    ze = read_sheet(demo_dir / SOURCE_PATHS["cog_ze2020"], "Composition_communale", 6)
    assert ze["CODGEO"].equals(com["CODGEO"])
    inter = ze.filter(pl.col("ZE2020").str.starts_with("00"))
    assert inter.height > 0 and inter["ZE2020_PARTIE_REG"].is_not_null().all()
    assert (inter["ZE2020_PARTIE_REG"] == inter["ZE2020"] + "-" + inter["REG"]).all()
    assert ze.filter(~pl.col("ZE2020").str.starts_with("00"))["ZE2020_PARTIE_REG"].is_null().all()


def geojson(demo_dir: Path, source_id: str) -> dict:
    return json.loads((demo_dir / SOURCE_PATHS[source_id]).read_text(encoding="utf-8"))


def test_territories_structure(demo_dir: Path) -> None:
    p1, p2 = geojson(demo_dir, "ti_phase1"), geojson(demo_dir, "ti_phase2")
    assert len(p1["features"]) == 149 and len(p2["features"]) == 183
    epci = set(read_sheet(demo_dir / SOURCE_PATHS["cog_epci"], "EPCI", 6)["EPCI"])
    links1 = [
        (f["properties"]["id_ti"], s.strip())
        for f in p1["features"]
        for s in f["properties"]["siren_groupement"].split(",")
    ]
    links2 = [
        (f["properties"]["id_territoire"], m.group(1))
        for f in p2["features"]
        for m in re.finditer(r"\((\d{9})\)", f["properties"]["liste_geo"])
    ]
    for links in (links1, links2):
        ids = {t for t, _ in links}
        assert all(re.fullmatch(r"ti-\d{4}", t) and t[3:5] in REGION_NAMES for t in ids)
        sirens = [s for _, s in links]
        assert len(sirens) == len(set(sirens))  # no grouping in two territories of a phase
        assert all(luhn_ok(s) for s in sirens)
    e1 = {s for _, s in links1 if s in epci}
    e2 = {s for _, s in links2 if s in epci}
    assert 0.7 < len(e1 & e2) / len(e1) < 0.9  # ~80 % of phase-1 EPCIs stay in phase 2
    assert {s for _, s in links1} - epci  # groupings that are not EPCIs (EPT, communes)
    for feature in p1["features"] + p2["features"]:
        coords = np.array(re.findall(r"-?\d+\.\d+", json.dumps(feature["geometry"])), dtype=float)
        lon, lat = coords[0::2], coords[1::2]
        region = (feature["properties"].get("id_ti") or feature["properties"]["id_territoire"])[3:5]
        if region not in {"01", "02", "03", "04", "06"}:
            assert (
                (lon > -5.5).all() and (lon < 10).all() and (lat > 41).all() and (lat < 51.5).all()
            )


def test_unemployment_panel_and_planted_effect(demo_dir: Path, manifest: dict) -> None:
    path = demo_dir / SOURCE_PATHS["unemployment_ze"]
    wide = read_sheet(path, "txcho_ze", 6)
    periods = [c for c in wide.columns if re.fullmatch(r"\d{4}-T\d", c)]
    assert periods[0] == "2003-T1" and periods[-1] == "2023-T3" and len(periods) == 83
    zones = read_sheet(demo_dir / SOURCE_PATHS["cog_ze2020"], "ZE2020", 6)
    published = set(zones.filter(~pl.col("ZE2020").str.slice(0, 2).is_in(["03", "06"]))["ZE2020"])
    assert set(wide["ZE2020"]) == published  # Guyane and Mayotte are not published
    overseas = wide.filter(pl.col("REG").is_in(["01", "02", "04"]))
    assert overseas["2013-T4"].is_null().all() and overseas["2014-T1"].is_not_null().all()
    panel = wide.unpivot(index="ZE2020", on=periods, variable_name="period", value_name="rate")
    panel = panel.drop_nulls("rate")
    assert (panel["rate"] * 10 - (panel["rate"] * 10).round(0)).abs().max() < 1e-9  # 1 decimal
    truth = manifest["planted_effects"]["unemployment"]
    inten = pl.DataFrame(
        {"ZE2020": list(truth["zone_intensity"]), "w": list(truth["zone_intensity"].values())}
    )
    d = panel.join(inten, on="ZE2020").with_columns(
        x=pl.col("w") * (pl.col("period") >= truth["start_period"]).cast(pl.Float64)
    )
    gi = np.unique(d["ZE2020"].to_numpy(), return_inverse=True)[1]
    ti = np.unique(d["period"].to_numpy(), return_inverse=True)[1]

    def within(v: np.ndarray) -> np.ndarray:  # two-way demeaning (alternating projections)
        v = v.astype(float).copy()
        for _ in range(60):
            v -= (np.bincount(gi, v) / np.bincount(gi))[gi]
            v -= (np.bincount(ti, v) / np.bincount(ti))[ti]
        return v

    y, x = within(d["rate"].to_numpy()), within(d["x"].to_numpy())
    beta = (x @ y) / (x @ x)
    se = np.sqrt((np.bincount(gi, x * (y - beta * x)) ** 2).sum()) / (x @ x)
    target = truth["expected_static_did_coefficient"]
    assert abs(beta - target) < max(3 * se, 0.05), (beta, se, target)
    assert beta < 0 and se < 0.05


def test_barometre_counts_are_consistent(demo_dir: Path) -> None:
    def read(source_id: str) -> pl.DataFrame:
        return pl.read_csv(demo_dir / SOURCE_PATHS[source_id], infer_schema_length=0).filter(
            pl.col("id_indicateur") == RELANCE_FIRMS_INDICATOR
        )

    nat, reg, dep = (
        read("relance_national"),
        read("relance_regional"),
        read("relance_departemental"),
    )
    assert nat.height == 36 and nat["date"].min() == "2020-01-31"
    assert set(reg["code_region"]) == set(REGION_NAMES) and reg.height == 18 * 30
    assert dep.height == 101
    end = reg.filter(pl.col("date") == "2022-12-31")["valeur"].cast(pl.Float64).sum()
    assert dep["valeur_actuelle"].cast(pl.Float64).sum() == end
    national = float(nat.filter(pl.col("date") == "2022-12-31")["valeur"][0])
    assert 1.0 < end / national < 1.15  # a firm counts once in every territory of its projects
    assert re.fullmatch(r"\d+\.0", nat["valeur"][-1])


def test_mef_list_format(demo_dir: Path) -> None:
    path = demo_dir / SOURCE_PATHS["mef_plan_de_relance"]
    text = path.read_text(encoding="utf-8")
    header = next(csv.reader([text.split("\n", 1)[0]], delimiter=";"))
    assert set(header) == set(SOURCES["mef_plan_de_relance"].columns)
    df = pl.read_csv(path, separator=";", infer_schema_length=0)
    assert 300 < df.height < 600
    assert df["code_departement"].str.contains(r"^(\d+\.0|2A|2B)$").all()
    ids = df["siren"].drop_nulls().to_list()
    assert {len(s) for s in ids} == {9, 14} and all(luhn_ok(s) for s in ids)
    gps = df["coordonnees_gps"].drop_nulls()
    assert gps.str.contains(r"^-?\d+\.\d+, -?\d+\.\d+$").all()
    fund = parse_operator_csv(demo_dir / SOURCE_PATHS["fund_projects"])
    shared = set(df["siren"].drop_nulls()) & set(fund["SIRET / SIREN"])
    assert len(shared) > 50  # territorial rows are fund projects


# ---------------------------------------------------------------------------------------------
# same formats as the real files (skipped without ../shared/data/raw)


@pytest.mark.real_data
@pytest.mark.parametrize("source_id", sorted(XLSX_SHEETS))
def test_xlsx_layout_matches_real(source_id: str, demo_dir: Path, reference_raw: Path) -> None:
    import fastexcel

    real, demo = reference_raw / SOURCE_PATHS[source_id], demo_dir / SOURCE_PATHS[source_id]
    assert (
        fastexcel.read_excel(str(demo)).sheet_names == fastexcel.read_excel(str(real)).sheet_names
    )
    for sheet, code_row in XLSX_SHEETS[source_id].items():
        a, b = raw_rows(real, sheet), raw_rows(demo, sheet)
        assert b.row(code_row - 1) == a.row(code_row - 1), sheet  # variable codes
        if sheet != "Variables":
            assert b.row(code_row - 2) == a.row(code_row - 2), sheet  # labels above them
        blank = [a.row(i)[0] is None for i in range(code_row)]
        assert [b.row(i)[0] is None for i in range(code_row)] == blank, sheet
        demo_schema = read_sheet(demo, sheet, code_row, n_rows=500).schema
        assert demo_schema == read_sheet(real, sheet, code_row, n_rows=500).schema, sheet


@pytest.mark.real_data
def test_unemployment_labels_match_real(demo_dir: Path, reference_raw: Path) -> None:
    path = SOURCE_PATHS["unemployment_ze"]
    real = read_sheet(reference_raw / path, "txcho_ze", 6)
    demo = read_sheet(demo_dir / path, "txcho_ze", 6)
    pairs = set(real.select("REG", "LIBREG").iter_rows())
    assert set(demo.select("REG", "LIBREG").iter_rows()) <= pairs
    assert demo["ZE2020"].str.contains(r"^\d{4}$").all()
    real_parts = read_sheet(reference_raw / path, "txcho_parties reg", 8)
    demo_parts = read_sheet(demo_dir / path, "txcho_parties reg", 8)
    assert demo_parts.columns == real_parts.columns
    assert (demo_parts["ZER2020"].str.slice(0, 2).is_in(list(REGION_NAMES))).all()


@pytest.mark.real_data
@pytest.mark.parametrize("source_id", ["typo_densite", "typo_centralite", "typo_ruralite"])
def test_typology_csv_matches_real(source_id: str, demo_dir: Path, reference_raw: Path) -> None:
    real_bytes = (reference_raw / SOURCE_PATHS[source_id]).read_bytes()
    demo_bytes = (demo_dir / SOURCE_PATHS[source_id]).read_bytes()
    assert demo_bytes[:3] == real_bytes[:3] == b"\xef\xbb\xbf"  # UTF-8 with BOM
    assert demo_bytes.split(b"\n", 1)[0] == real_bytes.split(b"\n", 1)[0]
    assert (b"\r\n" in demo_bytes) == (b"\r\n" in real_bytes)
    real = pl.read_csv(io.BytesIO(real_bytes), infer_schema_length=0)
    demo = pl.read_csv(io.BytesIO(demo_bytes), infer_schema_length=0)
    level = demo.columns[2]
    assert set(demo[level]) <= set(real[level])  # labels as published (leading spaces kept)
    assert demo["insee_com"].str.contains(r"^(\d{2}|2A|2B)\d{3}$").all()


@pytest.mark.real_data
@pytest.mark.parametrize(
    "source_id", ["relance_national", "relance_regional", "relance_departemental"]
)
def test_barometre_csv_matches_real(source_id: str, demo_dir: Path, reference_raw: Path) -> None:
    real_text = (reference_raw / SOURCE_PATHS[source_id]).read_text(encoding="utf-8")
    demo_text = (demo_dir / SOURCE_PATHS[source_id]).read_text(encoding="utf-8")
    assert demo_text.split("\n", 1)[0] == real_text.split("\n", 1)[0]
    real = pl.read_csv(io.StringIO(real_text), infer_schema_length=0)
    demo = pl.read_csv(io.StringIO(demo_text), infer_schema_length=0)
    labels = ["mesure", "indicateur", "id_indicateur", "unite"]
    assert set(demo.select(labels).unique().iter_rows()) <= set(
        real.select(labels).unique().iter_rows()
    )
    assert RELANCE_FIRMS_INDICATOR in set(demo["id_indicateur"])
    if "code_region" in real.columns:
        geo = ["code_region", "libelle_region"]
        assert set(demo.select(geo).iter_rows()) == set(real.select(geo).iter_rows())
    if "code_departement" in real.columns:
        assert set(demo["code_departement"]) == set(real["code_departement"])


@pytest.mark.real_data
@pytest.mark.parametrize("source_id", ["ti_phase1", "ti_phase2"])
def test_geojson_matches_real(source_id: str, demo_dir: Path, reference_raw: Path) -> None:
    real_text = (reference_raw / SOURCE_PATHS[source_id]).read_text(encoding="utf-8")
    demo_text = (demo_dir / SOURCE_PATHS[source_id]).read_text(encoding="utf-8")
    assert demo_text.split("\n")[:5] == real_text.split("\n")[:5]  # name, crs, layout
    real, demo = json.loads(real_text), json.loads(demo_text)
    assert list(demo) == list(real)
    real_keys = {tuple(f["properties"]) for f in real["features"]}
    assert {tuple(f["properties"]) for f in demo["features"]} == real_keys
    real_types = {f["geometry"]["type"] for f in real["features"]}
    assert {f["geometry"]["type"] for f in demo["features"]} <= real_types


# ---------------------------------------------------------------------------------------------
# end to end: demo -> clean


@pytest.mark.slow
def test_demo_runs_through_clean(demo_dir: Path, manifest: dict, tmp_path: Path) -> None:
    try:
        from analyse.clean import run_clean
    except ImportError as exc:  # pragma: no cover - clean package not built yet
        pytest.skip(f"analyse.clean.run_clean not importable: {exc}")
    from analyse.schemas import CORE_TABLES
    from analyse.snapshots import resolve_snapshot

    quality = run_clean(demo_dir, tmp_path / "processed")
    assert quality["synthetic"] is True and quality["mode"] == "synthetic"
    tmp_path = resolve_snapshot(tmp_path / "processed")
    for source_id, counts in quality["sources"].items():
        assert counts["rows_in"] == counts["rows_out"] + counts["rows_quarantined"], source_id
        assert sum(counts["by_reason"].values()) == counts["rows_quarantined"], source_id
    for name in CORE_TABLES:
        table = pl.read_parquet(tmp_path / f"core_{name}.parquet")
        assert table.height > 0, name
        assert table["is_synthetic"].all(), name
    extract = manifest["planted_effects"]["fund"]["extract"]
    fund = quality["sources"]["fund_projects"]
    assert fund["rows_in"] == extract["n_data_rows"]
    assert fund["rows_quarantined"] == extract["expected_quarantined"]
    # the zone intensity recomputed from the core tables is the planted one
    communes = pl.read_parquet(tmp_path / "core_communes.parquet")
    links = pl.read_parquet(tmp_path / "core_commune_territories.parquet")
    phase1 = links.filter(pl.col("ti_phase") == 1)["commune_insee"].implode()
    inten = communes.group_by("ze2020_code").agg(
        pl.col("commune_insee").is_in(phase1).mean().alias("w")
    )
    truth = manifest["planted_effects"]["unemployment"]["zone_intensity"]
    got = dict(inten.iter_rows())
    assert got.keys() >= truth.keys()
    assert max(abs(got[z] - w) for z, w in truth.items()) < 1e-5
