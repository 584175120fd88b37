"""The reference snapshot (data/reference): pins, files, attribution, maintenance command."""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

import pytest

from analyse import refdata
from analyse.errors import InputFileError, ParameterError
from analyse.fetch import materialise_reference
from analyse.refdata import (
    BUDGET_BYTES,
    REFERENCE_JSON,
    attribution_fr,
    attributions,
    build_reference_file,
    compressed_name,
    get_pin,
    get_reference_dir,
    load_reference,
    render_reference_markdown,
    verify_reference,
)
from analyse.sources import SOURCES

ROOT = Path(__file__).resolve().parents[1]
PINS = load_reference()
CSV = "date,event,territories,amount_eur,note,source\n2018-11-22,Annonce,124,,note,source\n"


def test_snapshot_is_the_project_folder_and_within_budget() -> None:
    assert get_reference_dir() == ROOT / "data" / "reference"
    assert PINS, "data/reference/reference.json lists no file"
    total = sum(p.compressed_size_bytes for p in PINS.values())
    on_disk = sum((get_reference_dir() / p.file).stat().st_size for p in PINS.values())
    assert total == on_disk <= BUDGET_BYTES
    expected = {p.name for p in get_reference_dir().glob("*.xz")}
    assert expected == {p.file for p in PINS.values()}  # no stray compressed file


def test_every_pin_agrees_with_the_registry() -> None:
    for source_id, pin in PINS.items():
        source = SOURCES[source_id]
        assert (pin.id, pin.path, pin.file) == (source.id, source.path, compressed_name(source))
        assert pin.vintage == source.vintage, f"{source_id}: rebuild after changing the vintage"
        assert len(pin.sha256) == len(pin.compressed_sha256) == 64
        assert pin.obtained_from
        assert get_pin(source_id) is pin
    assert get_pin("fund_projects") is None
    with pytest.raises(KeyError):
        get_pin("no_such_source")


def test_every_file_decompresses_to_its_pin() -> None:
    assert verify_reference() == []


def test_reference_page_is_generated() -> None:
    page = (get_reference_dir() / "REFERENCE.md").read_text(encoding="utf-8")
    assert page == render_reference_markdown(), "run `python -m analyse.refdata render`"
    for pin in PINS.values():
        assert f"`{pin.sha256}`" in page and f"{pin.size_bytes:,}" in page
        assert SOURCES[pin.id].licence in page


@pytest.mark.real_data
def test_pins_are_the_files_of_the_workplace_mirror(shared_raw: Path) -> None:
    compared = 0
    for pin in PINS.values():
        original = shared_raw / pin.path
        if original.is_file():
            assert hashlib.sha256(original.read_bytes()).hexdigest() == pin.sha256, pin.id
            compared += 1
    published = shared_raw.parent / "published"
    for source_id in ("published_announcements", "published_milestones"):
        original = published / Path(PINS[source_id].path).name
        assert hashlib.sha256(original.read_bytes()).hexdigest() == PINS[source_id].sha256
    assert compared >= 11


def test_attribution_names_source_licence_and_date_of_each_data_set() -> None:
    lines = attribution_fr()
    groups = attributions()
    assert len(lines) == len(groups) < len(PINS)  # the baromètre's three files are one line
    assert sorted(i for g in groups for i in g["source_ids"].split(",")) == sorted(PINS)
    baro = next(g for g in groups if "relance_national" in g["source_ids"])
    assert baro["source_ids"] == "relance_national,relance_regional,relance_departemental"
    assert baro["updated"] == max(SOURCES[i].updated for i in baro["source_ids"].split(","))
    for line, group in zip(lines, groups, strict=True):
        assert line.startswith(group["text"]) and line.endswith(".")
        if group["licence"].lower().startswith("public domain"):  # Natural Earth outlines
            assert "— domaine public" in line
            continue
        assert "Licence Ouverte / Etalab 2.0" in line
        assert "dernière mise à jour : " in line
    assert any("INSEE" in line and "17\u00a0mars 2023" in line for line in lines)
    assert any("décembre 2023" in line for line in lines)  # YYYY-MM dates
    (one,) = attribution_fr(["ti_phase2"])
    assert "phase 2" in one and "16\u00a0septembre 2024" in one
    page = (get_reference_dir() / "REFERENCE.md").read_text(encoding="utf-8")
    assert all(f"- {line}" in page for line in lines)


def test_build_compresses_pins_and_renders(tmp_path: Path) -> None:
    ref = tmp_path / "reference"
    original = tmp_path / "programme_milestones.csv"
    original.write_text(CSV, encoding="utf-8")
    entry = build_reference_file(
        "published_milestones", original, reference_dir=ref, obtained_from="typed"
    )
    assert entry.file == "published_milestones.csv.xz"
    assert lzma.decompress((ref / entry.file).read_bytes()) == CSV.encode()
    assert entry.sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert entry.compressed_sha256 == hashlib.sha256((ref / entry.file).read_bytes()).hexdigest()
    document = json.loads((ref / REFERENCE_JSON).read_text(encoding="utf-8"))
    assert [s["id"] for s in document["sources"]] == ["published_milestones"]
    assert load_reference(ref) == {"published_milestones": entry}
    assert (ref / "REFERENCE.md").read_text(encoding="utf-8") == render_reference_markdown(
        load_reference(ref)
    )
    again = build_reference_file("published_milestones", original, reference_dir=ref)
    assert again.compressed_sha256 == entry.compressed_sha256  # deterministic
    assert again.obtained_from == "local file programme_milestones.csv"

    raw = tmp_path / "raw"
    (result,) = materialise_reference(raw, reference_dir=ref)
    assert result["status"] == "written"
    assert (raw / "published" / "programme_milestones.csv").read_text(encoding="utf-8") == CSV
    assert verify_reference(ref) == []


def test_build_refuses_bad_files_unknown_ids_and_overspending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = tmp_path / "reference"
    bad = tmp_path / "bad.csv"
    bad.write_text("date,event\n2018,x\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="header columns"):
        build_reference_file("published_milestones", bad, reference_dir=ref)
    with pytest.raises(KeyError):
        build_reference_file("no_such_source", bad, reference_dir=ref)
    good = tmp_path / "good.csv"
    good.write_text(CSV, encoding="utf-8")
    monkeypatch.setattr(refdata, "BUDGET_BYTES", 10)
    with pytest.raises(ParameterError, match="budget"):
        build_reference_file("published_milestones", good, reference_dir=ref)
    assert not (ref / REFERENCE_JSON).exists()


def test_corrupt_snapshot_is_detected_and_never_materialised(tmp_path: Path) -> None:
    ref = tmp_path / "reference"
    original = tmp_path / "m.csv"
    original.write_text(CSV, encoding="utf-8")
    entry = build_reference_file("published_milestones", original, reference_dir=ref)
    other = lzma.compress(CSV.replace("124", "125").encode())
    (ref / entry.file).write_bytes(other)  # intact xz, other content
    (problem,) = verify_reference(ref)
    assert problem.startswith("changed:")
    raw = tmp_path / "raw"
    with pytest.raises(InputFileError, match="once decompressed"):
        materialise_reference(raw, reference_dir=ref)
    assert not (raw / entry.path).exists()
    assert [p for p in raw.rglob("*") if p.is_file() and p.name != "manifest.json"] == []
    (ref / entry.file).write_bytes(b"not xz")
    with pytest.raises(InputFileError, match="intact xz"):
        materialise_reference(raw, reference_dir=ref)


def test_maintenance_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = tmp_path / "reference"
    original = tmp_path / "m.csv"
    original.write_text(CSV, encoding="utf-8")
    argv = ["--reference-dir", str(ref)]
    assert refdata.main([*argv, "build", "published_milestones", str(original)]) == 0
    assert "published_milestones.csv.xz" in capsys.readouterr().out
    assert refdata.main([*argv, "verify"]) == 0
    assert "1 files, 0 problems" in capsys.readouterr().out
    (ref / "REFERENCE.md").unlink()
    assert refdata.main([*argv, "render"]) == 0
    assert (ref / "REFERENCE.md").is_file()
    assert refdata.main([*argv, "build", "fund_projects", str(tmp_path / "none.csv")]) == 2
    assert "no file" in capsys.readouterr().err
