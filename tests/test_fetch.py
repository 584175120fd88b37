"""``analyse fetch``: downloads against a loopback HTTP server, mirror copies, pins, manifest.

Fault injection (truncation, drips, hangs, kill -9) is in ``tests/faults/test_fetch_faults.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import shutil
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import xlsxwriter

from analyse.cli import main
from analyse.errors import InputFileError, ParameterError
from analyse.fetch import (
    MANIFEST_NAME,
    describe_file,
    fetch_sources,
    materialise_reference,
    verify_manifest,
    write_manifest,
)
from analyse.refdata import ORIGIN, load_reference
from analyse.sources import SOURCES, get_header_row, get_sheet_columns

RELANCE = SOURCES["relance_national"]
RELANCE_CSV = (
    "mesure,indicateur,id_indicateur,maille_geographique,date,valeur,unite\n"
    "Aide,Nombre d'entreprises,nb-entreprises-industrielles-agricoles,national,2022-12-31,8972.0,"
    "entreprises\n"
)
PINS = load_reference()
PINNED = set(PINS)
UNPINNED_OPTIONAL = {s.id for s in SOURCES.values() if not s.required and s.id not in PINNED}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files, no request log on stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (free port) serving ``directory``; yields its base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write files (source id or path under data/raw -> content) into ``root``."""
    for rel, content in files.items():
        path = root / SOURCES[rel].path if rel in SOURCES else root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") and p.is_file()]


@pytest.fixture(scope="module")
def reference_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference snapshot decompressed once (real pinned bytes, laid out like data/raw)."""
    folder = tmp_path_factory.mktemp("reference_raw")
    materialise_reference(folder)
    (folder / MANIFEST_NAME).unlink()
    return folder


@pytest.fixture
def unpinned(tmp_path: Path) -> Path:
    """An empty reference folder: no pins, so synthetic test content is not refused."""
    folder = tmp_path / "no_reference"
    folder.mkdir()
    return folder


def test_base_url_fetch_downloads_every_pinned_file(reference_raw: Path, tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    with serve(reference_raw) as base:
        manifest = fetch_sources(dest, base_url=base, timeout_s=20)

    assert set(manifest["fetched"]) == PINNED
    assert manifest["from_reference"] == []
    assert {s["source_id"] for s in manifest["skipped"]} == UNPINNED_OPTIONAL
    written = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert written["synthetic"] is False
    assert written["files"] == manifest["files"]
    for entry in written["files"]:
        pin = PINS[entry["source_id"]]
        assert entry["path"] == pin.path == SOURCES[pin.id].path
        assert entry["sha256"] == pin.sha256 == sha256(dest / pin.path)
        assert entry["size_bytes"] == pin.size_bytes
        assert entry["origin"] == f"{base}/{pin.path}"
        assert entry["vintage"] == pin.vintage
        assert (entry["pin"], entry["synthetic"]) == ("match", False)
        assert entry["retrieved_at"]
        assert "changed_from" not in entry
    assert verify_manifest(dest) == []
    assert leftovers(dest) == []


@pytest.mark.real_data
def test_mirror_without_the_new_sources_takes_them_from_the_reference(
    shared_raw: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "raw"
    manifest = fetch_sources(dest, mirror=shared_raw)
    in_mirror = {i for i in PINNED if (shared_raw / SOURCES[i].path).is_file()}
    assert {"cog_epci", "ti_phase2", "relance_national"} <= in_mirror
    assert set(manifest["fetched"]) == in_mirror
    assert set(manifest["from_reference"]) == PINNED - in_mirror
    assert {"etalab_communes", "published_milestones"} <= set(manifest["from_reference"])
    by_id = {e["source_id"]: e for e in manifest["files"]}
    for source_id in PINNED:
        entry = by_id[source_id]
        expected = str(shared_raw / entry["path"]) if source_id in in_mirror else ORIGIN
        assert entry["origin"] == expected
        assert entry["sha256"] == PINS[source_id].sha256 == sha256(dest / entry["path"])
    assert verify_manifest(dest) == []


def test_changed_source_is_refused_unless_a_new_vintage_is_accepted(
    reference_raw: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = tmp_path / "served"
    shutil.copytree(reference_raw / "france_relance", served / "france_relance")
    dest = tmp_path / "raw"
    ids = ["relance_national"]
    pin = PINS["relance_national"]
    with serve(served) as base:
        fetch_sources(dest, base_url=base, source_ids=ids)
        manifest_before = (dest / MANIFEST_NAME).read_bytes()
        newer = (served / RELANCE.path).read_bytes().replace(b"8972.0", b"8975.0")
        (served / RELANCE.path).write_bytes(newer)

        with pytest.raises(InputFileError, match="--accept-new-vintage") as info:
            fetch_sources(dest, base_url=base, source_ids=ids)
        assert pin.sha256 in str(info.value) and "refused" in str(info.value)
        assert sha256(dest / RELANCE.path) == pin.sha256  # nothing replaced
        assert (dest / MANIFEST_NAME).read_bytes() == manifest_before
        assert main(["--raw-dir", str(dest), "fetch", "--base-url", base, "--source", ids[0]]) == 2

        with caplog.at_level(logging.WARNING, logger="analyse.fetch"):
            accepted = fetch_sources(dest, base_url=base, source_ids=ids, accept_new_vintage=True)
        (entry,) = accepted["files"]
        new_sha = hashlib.sha256(newer).hexdigest()
        assert (entry["sha256"], entry["pin"]) == (new_sha, "accepted")
        assert entry["changed_from"] == entry["pinned_sha256"] == pin.sha256
        assert pin.vintage in entry["vintage"]
        assert any("new vintage accepted" in r.message for r in caplog.records)
        assert sha256(dest / RELANCE.path) == new_sha

        # the accepted vintage is remembered: the same bytes again need no flag
        (again,) = fetch_sources(dest, base_url=base, source_ids=ids)["files"]
        assert (again["sha256"], again["pin"], "changed_from" in again) == (
            new_sha,
            "accepted",
            False,
        )

        # the snapshot never overwrites it; a fetch of the pinned bytes goes back to the pin
        (kept,) = materialise_reference(dest, ids)
        assert kept["status"] == "kept" and new_sha in kept["detail"]
        assert sha256(dest / RELANCE.path) == new_sha
        (served / RELANCE.path).write_bytes((reference_raw / RELANCE.path).read_bytes())
        (back,) = fetch_sources(dest, base_url=base, source_ids=ids)["files"]
    assert (back["pin"], back["changed_from"], back["sha256"]) == ("match", new_sha, pin.sha256)


def test_changes_on_disk_are_detected(tmp_path: Path, unpinned: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    (entry,) = fetch_sources(
        dest, mirror=mirror, source_ids=["relance_national"], reference_dir=unpinned
    )["files"]
    assert entry["pin"] == "none"
    target = dest / RELANCE.path
    data = target.read_bytes()
    target.write_bytes(data.replace(b"8972", b"8973"))  # same size, other bytes
    (problem,) = verify_manifest(dest)
    assert problem.startswith("changed:") and RELANCE.path in problem
    target.write_bytes(data[:-10])
    (problem,) = verify_manifest(dest)
    assert problem.startswith("truncated:") and RELANCE.path in problem
    target.unlink()
    (problem,) = verify_manifest(dest)
    assert problem.startswith("missing:") and RELANCE.path in problem


def test_unpinned_change_is_recorded(tmp_path: Path, unpinned: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    kwargs = {"mirror": mirror, "source_ids": ["relance_national"], "reference_dir": unpinned}
    old_sha = fetch_sources(dest, **kwargs)["files"][0]["sha256"]
    write_tree(mirror, {"relance_national": RELANCE_CSV + RELANCE_CSV.splitlines()[1] + "\n"})
    (entry,) = fetch_sources(dest, **kwargs)["files"]
    assert entry["changed_from"] == old_sha != entry["sha256"] == sha256(mirror / RELANCE.path)


def test_fetch_refuses_a_manifest_whose_other_files_changed(tmp_path: Path, unpinned: Path) -> None:
    mirror = write_tree(
        tmp_path / "mirror",
        {"relance_national": RELANCE_CSV, "fund_mapping": "columns: {}\n"},
    )
    dest = tmp_path / "raw"
    fetch_sources(
        dest,
        mirror=mirror,
        source_ids=["relance_national", "fund_mapping"],
        reference_dir=unpinned,
    )
    (dest / SOURCES["fund_mapping"].path).write_text("columns: {siren: SIREN}\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="changed: fund/mapping.yml"):
        fetch_sources(dest, mirror=mirror, source_ids=["relance_national"], reference_dir=unpinned)


@pytest.mark.real_data
def test_mirror_mode_copies_shared_files(shared_raw: Path, tmp_path: Path) -> None:
    ids = ["relance_national", "cog_epci", "ti_phase2"]
    manifest = fetch_sources(tmp_path / "raw", mirror=shared_raw, source_ids=ids)
    assert [e["source_id"] for e in manifest["files"]] == [
        "ti_phase2",
        "cog_epci",
        "relance_national",
    ]
    for entry in manifest["files"]:
        original = shared_raw / entry["path"]
        assert entry["origin"] == str(original)
        assert entry["sha256"] == sha256(original) == sha256(tmp_path / "raw" / entry["path"])


def test_mirror_file_that_differs_from_its_pin_is_refused(
    reference_raw: Path, tmp_path: Path
) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    with pytest.raises(InputFileError, match="pinned vintage of 'relance_national'"):
        fetch_sources(dest, mirror=mirror, source_ids=["relance_national"])
    assert not (dest / RELANCE.path).exists()
    assert leftovers(dest) == []


def test_absent_required_source_fails_unless_the_reference_has_it(
    tmp_path: Path, unpinned: Path
) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    kwargs = {"mirror": mirror, "reference_dir": unpinned}
    manifest = fetch_sources(dest, source_ids=["relance_national"], **kwargs)
    assert manifest["fetched"] == ["relance_national"]

    # every source, no snapshot: optional ones are skipped, missing required ones are raised
    with pytest.raises(InputFileError) as info:
        fetch_sources(dest, **kwargs)
    assert "ti_phase1" in str(info.value) and SOURCES["ti_phase1"].path in str(info.value)

    # an optional source asked for by name is required for this run
    with pytest.raises(InputFileError, match="fund_projects"):
        fetch_sources(dest, source_ids=["fund_projects"], **kwargs)

    # with the snapshot, a source the mirror lacks comes from it, unless a new vintage is asked
    manifest = fetch_sources(dest, mirror=mirror, source_ids=["ti_phase1"])
    assert manifest["from_reference"] == ["ti_phase1"] and manifest["fetched"] == []
    assert sha256(dest / SOURCES["ti_phase1"].path) == PINS["ti_phase1"].sha256
    with pytest.raises(InputFileError, match="not in the mirror"):
        fetch_sources(dest, mirror=mirror, source_ids=["cog_epci"], accept_new_vintage=True)


def test_sources_without_address_come_from_the_reference(tmp_path: Path) -> None:
    ids = ["published_announcements", "published_milestones"]
    manifest = fetch_sources(tmp_path / "raw", source_ids=ids)
    assert manifest["from_reference"] == ids
    assert {e["origin"] for e in manifest["files"]} == {ORIGIN}


def test_operator_extract_is_fetched_only_from_a_mirror(tmp_path: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", {"fund_projects": "siren;aid\n123456782;1000\n"})
    # the mapping declares the extract's encoding: a cp1252 export is copied as is
    (mirror / "fund" / "projects.csv").write_bytes(
        "raison sociale;aide k€\nACME;12,5\n".encode("cp1252")
    )
    manifest = fetch_sources(tmp_path / "raw", mirror=mirror, source_ids=["fund_projects"])
    assert manifest["files"][0]["origin"] == str(mirror / "fund" / "projects.csv")
    assert manifest["files"][0]["sha256"] == sha256(mirror / "fund" / "projects.csv")
    assert manifest["files"][0]["pin"] == "none"
    # official mode: no address, so it is skipped unless asked for by name
    with pytest.raises(InputFileError, match="no public address"):
        fetch_sources(tmp_path / "raw2", source_ids=["fund_projects"])


def test_unknown_source_id_lists_valid_ids(tmp_path: Path) -> None:
    with pytest.raises(KeyError) as info:
        fetch_sources(tmp_path / "raw", source_ids=["relance_national", "no_such_source"])
    assert isinstance(info.value, ParameterError)
    message = str(info.value)
    assert "no_such_source" in message
    assert all(source_id in message for source_id in SOURCES)
    assert not (tmp_path / "raw").exists()


def test_mirror_and_base_url_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ParameterError):
        fetch_sources(tmp_path, mirror=tmp_path, base_url="http://127.0.0.1:9")
    with pytest.raises(ParameterError):
        fetch_sources(tmp_path, mirror=tmp_path, deadline_s=0)


def _tiny_workbook(path: Path, source_id: str, *, header: list[str] | None = None) -> Path:
    """A workbook with every declared sheet of ``source_id`` and its header row."""
    source = SOURCES[source_id]
    workbook = xlsxwriter.Workbook(str(path))
    for sheet, columns in get_sheet_columns(source).items():
        worksheet = workbook.add_worksheet(sheet)
        names = header if header is not None and sheet == source.sheet else columns
        worksheet.write_row(get_header_row(source), 0, list(names))
        worksheet.write_row(get_header_row(source) + 1, 0, ["01001"] * len(names))
    workbook.close()
    return path


def test_zip_archive_member_is_extracted(
    tmp_path: Path, unpinned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = SOURCES["cog_epci"]
    served = tmp_path / "served"
    served.mkdir()
    xlsx = _tiny_workbook(tmp_path / source.archive_member, "cog_epci")
    with zipfile.ZipFile(served / "epci.zip", "w") as zf:
        zf.writestr("LISEZMOI.txt", "documentation")
        zf.write(xlsx, source.archive_member)
    with zipfile.ZipFile(served / "wrong.zip", "w") as zf:
        zf.writestr("other.xlsx", "not it")

    dest = tmp_path / "raw"
    with serve(served) as base:
        monkeypatch.setitem(
            SOURCES, "cog_epci", dataclasses.replace(source, url=f"{base}/epci.zip")
        )
        manifest = fetch_sources(dest, source_ids=["cog_epci"], reference_dir=unpinned)
        with pytest.raises(InputFileError, match="pinned vintage"):  # the tiny one is not it
            fetch_sources(tmp_path / "raw3", source_ids=["cog_epci"])
        monkeypatch.setitem(
            SOURCES, "cog_epci", dataclasses.replace(source, url=f"{base}/wrong.zip")
        )
        with pytest.raises(InputFileError, match="other.xlsx"):
            fetch_sources(tmp_path / "raw2", source_ids=["cog_epci"], reference_dir=unpinned)

    (entry,) = manifest["files"]
    assert (dest / source.path).read_bytes() == xlsx.read_bytes()
    assert entry["sha256"] == sha256(xlsx)
    assert entry["archive_sha256"] == sha256(served / "epci.zip")
    assert entry["archive_member"] == source.archive_member
    assert entry["origin"] == f"{base}/epci.zip"
    assert leftovers(tmp_path) == []


TYPOLOGY = (
    "insee_com,lib_com,niveau_densite\n01001,L'Abergement,Rural\n01002,L'Abergement-de-Varey,"
)


@pytest.mark.parametrize(
    ("source_id", "content", "expected"),
    [
        ("unemployment_ze", "<html><body>Page introuvable</body></html>", "xlsx workbook"),
        ("ti_phase1", '{"type": "FeatureCollection", "features": []}', "with features"),
        ("ti_phase1", '{"type": "FeatureCollection", "features": [', "valid JSON"),
        ("ti_phase1", '{"type": "FeatureCollection", "features": [1, 2]}', "as objects"),
        ("ti_phase2", json.dumps({"features": [{"properties": {"id_ti": "x"}}]}), "id_territoire"),
        ("etalab_ept", json.dumps({"code": "200057867"}), "array of objects"),
        ("etalab_ept", json.dumps([{"code": "200057867", "nom": "Plaine"}]), "'membres'"),
        ("relance_national", RELANCE_CSV.replace("valeur", "value"), "'valeur'"),
        ("relance_national", "mesure,valeur\nd\xe9j\xe0,1\n".encode("latin-1"), "UTF-8"),
        ("relance_national", b"", "non-empty"),
        ("relance_national", RELANCE_CSV + "Aide,Nombre,x,national\n", "row 3.*7 fields"),
        ("relance_national", RELANCE_CSV + 'Aide,"Nombre,x\n', "well-formed CSV"),
        ("typo_densite", TYPOLOGY + "Rur\n", None),  # a complete file: accepted
    ],
)
def test_bad_files_fail_the_format_check(
    tmp_path: Path, unpinned: Path, source_id: str, content: str | bytes, expected: str | None
) -> None:
    served = write_tree(tmp_path / "served", {source_id: content})
    with serve(served) as base:
        if expected is None:
            fetch_sources(
                tmp_path / "raw", base_url=base, source_ids=[source_id], reference_dir=unpinned
            )
            return
        with pytest.raises(InputFileError, match=expected) as info:
            fetch_sources(
                tmp_path / "raw", base_url=base, source_ids=[source_id], reference_dir=unpinned
            )
    assert SOURCES[source_id].path in str(info.value)
    assert not (tmp_path / "raw" / SOURCES[source_id].path).exists()


def test_xlsx_without_declared_sheet_or_columns_is_refused(tmp_path: Path, unpinned: Path) -> None:
    served = tmp_path / "served"
    good = served / SOURCES["cog_ze2020"].path
    bad = served / SOURCES["unemployment_ze"].path
    other = served / SOURCES["cog_epci"].path
    for path in (good, bad, other):
        path.parent.mkdir(parents=True, exist_ok=True)
    _tiny_workbook(good, "cog_ze2020")
    _tiny_workbook(other, "cog_epci", header=["CODGEO", "LIBGEO", "EPCI"])
    workbook = xlsxwriter.Workbook(str(bad))
    workbook.add_worksheet("Autre")
    workbook.close()
    with serve(served) as base:
        kwargs = {"base_url": base, "reference_dir": unpinned}
        fetch_sources(tmp_path / "raw", source_ids=["cog_ze2020"], **kwargs)
        with pytest.raises(InputFileError, match="txcho_ze"):
            fetch_sources(tmp_path / "raw", source_ids=["unemployment_ze"], **kwargs)
        with pytest.raises(InputFileError, match="row 6, column 'LIBEPCI'"):
            fetch_sources(tmp_path / "raw", source_ids=["cog_epci"], **kwargs)


def test_demo_files_stay_flagged_synthetic_beside_real_ones(tmp_path: Path) -> None:
    dest = write_tree(
        tmp_path / "raw", {"fund_projects": "siren\n123456782\n", "fund_mapping": "columns: {}\n"}
    )
    demo_files = [
        describe_file(dest, source_id, origin="analyse demo", synthetic=True)
        for source_id in ("fund_mapping", "fund_projects")
    ]
    written = write_manifest(dest, demo_files, synthetic=True)
    assert [e["source_id"] for e in written["files"]] == ["fund_projects", "fund_mapping"]
    assert verify_manifest(dest) == []
    (dest / SOURCES["fund_mapping"].path).unlink()  # the user deleted one demo file

    results = materialise_reference(dest, ["relance_national"])
    assert [r["status"] for r in results] == ["written"]
    manifest = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["synthetic"] is False  # not every file is synthetic any more
    by_id = {e["source_id"]: e for e in manifest["files"]}
    assert set(by_id) == {"fund_projects", "relance_national"}  # the deleted one is dropped
    assert by_id["fund_projects"]["synthetic"] is True
    assert by_id["relance_national"]["synthetic"] is False
    assert verify_manifest(dest) == []


def test_materialise_reference_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    first = materialise_reference(dest)
    assert [r["source_id"] for r in first] == list(PINS)
    assert {r["status"] for r in first} == {"written"}
    manifest = (dest / MANIFEST_NAME).read_bytes()
    for pin in PINS.values():
        assert sha256(dest / pin.path) == pin.sha256
        assert (dest / pin.path).stat().st_mode & 0o777 != 0o600

    again = materialise_reference(dest)
    assert {r["status"] for r in again} == {"present"}
    assert (dest / MANIFEST_NAME).read_bytes() == manifest  # nothing rewritten

    target = dest / RELANCE.path
    target.write_bytes(RELANCE_CSV.encode())  # a different file (e.g. a newer vintage)
    (result,) = materialise_reference(dest, ["relance_national"])
    assert result["status"] == "kept" and result["sha256"] == sha256(target)
    assert target.read_bytes() == RELANCE_CSV.encode()

    entries = json.loads(manifest)["files"]
    for entry in entries:
        entry["synthetic"] = entry["source_id"] == "relance_national"
    write_manifest(dest, entries, synthetic=False)
    (result,) = materialise_reference(dest, ["relance_national"])
    assert result["status"] == "replaced"  # a synthetic file gives way to the real one
    assert sha256(target) == PINS["relance_national"].sha256

    (result,) = materialise_reference(dest, ["fund_projects"])
    assert result["status"] == "absent" and result["sha256"] is None
    assert verify_manifest(dest) == []
    assert leftovers(dest) == []


def test_cli_fetch_reference_and_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "raw"
    base = ["--raw-dir", str(dest), "--processed-dir", str(tmp_path / "processed"), "fetch"]
    assert main([*base, "--reference"]) == 0
    out = capsys.readouterr().out
    assert f"reference snapshot materialised in {dest} ({len(PINS)} files)" in out
    assert verify_manifest(dest) == []
    assert main([*base, "--reference", "--source", "relance_national"]) == 0
    assert "present" in capsys.readouterr().out
    assert main([*base, "--reference", "--source", "fund_projects"]) == 2
    assert "not in the reference snapshot" in capsys.readouterr().err
    assert main([*base, "--reference", "--mirror", str(tmp_path)]) == 2

    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    argv = [*base, "--mirror", str(mirror), "--source", "relance_national"]
    assert main(argv) == 2  # differs from the pin
    assert "--accept-new-vintage" in capsys.readouterr().err
    assert main([*argv, "--accept-new-vintage", "--deadline-s", "30"]) == 0
    assert "fetched 1 files" in capsys.readouterr().out
    assert verify_manifest(dest) == []
    assert main([*argv[:-1], "nope"]) == 2
    assert "valid ids" in capsys.readouterr().err
