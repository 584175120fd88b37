"""``analyse fetch``: real downloads against a loopback HTTP server, mirror copies, manifest."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
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
    verify_manifest,
    write_manifest,
)
from analyse.sources import SOURCES

RELANCE = SOURCES["relance_national"]
RELANCE_CSV = (
    "mesure,indicateur,id_indicateur,maille_geographique,date,valeur,unite\n"
    "Aide,Nombre d'entreprises,nb-entreprises-industrielles-agricoles,national,2022-12-31,8972.0,"
    "entreprises\n"
)
REQUIRED = {s.id for s in SOURCES.values() if s.required}
OPTIONAL = {s.id for s in SOURCES.values() if not s.required}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class QuietHandler(SimpleHTTPRequestHandler):
    """Static files, no request log on stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class TruncatingHandler(QuietHandler):
    """Serves ``cut_path`` short: a Content-Length above the body, or half the body."""

    cut_path = ""
    mode = "header"

    def do_GET(self) -> None:  # noqa: N802
        if self.path.lstrip("/") != self.cut_path:
            super().do_GET()
            return
        data = (Path(self.directory) / self.cut_path).read_bytes()
        announced, body = (
            (len(data) + 1000, data)
            if self.mode == "header"
            else (len(data), data[: len(data) // 2])
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


@contextlib.contextmanager
def serve(directory: Path, handler: type[QuietHandler] = QuietHandler) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 (free port) serving ``directory``; yields its base URL."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
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
    """Write files (path under data/raw -> content) into ``root``."""
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


def test_base_url_fetch_downloads_every_shared_file(shared_raw: Path, tmp_path: Path) -> None:
    dest = tmp_path / "raw"
    with serve(shared_raw) as base:
        manifest = fetch_sources(dest, base_url=base, timeout_s=20)

    assert set(manifest["fetched"]) == REQUIRED
    assert {s["source_id"] for s in manifest["skipped"]} == OPTIONAL  # not in the shared mirror
    written = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert written["synthetic"] is False
    assert written["files"] == manifest["files"]
    assert written["created_at"] == manifest["created_at"]
    assert {e["source_id"] for e in written["files"]} == REQUIRED
    for entry in written["files"]:
        source = SOURCES[entry["source_id"]]
        original = shared_raw / source.path
        assert entry["path"] == source.path
        assert entry["sha256"] == sha256(original) == sha256(dest / source.path)
        assert entry["size_bytes"] == original.stat().st_size
        assert entry["origin"] == f"{base}/{source.path}"
        assert entry["vintage"] == source.vintage
        assert entry["retrieved_at"]
        assert "changed_from" not in entry
    assert verify_manifest(dest) == []
    assert leftovers(dest) == []


@pytest.mark.parametrize("mode", ["header", "body"])
def test_truncated_download_is_an_error_and_keeps_the_good_file(tmp_path: Path, mode: str) -> None:
    served = write_tree(tmp_path / "served", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    with serve(served) as base:
        fetch_sources(dest, base_url=base, source_ids=["relance_national"])
    good = sha256(dest / RELANCE.path)

    size = len(RELANCE_CSV.encode())
    handler = type("Cut", (TruncatingHandler,), {"cut_path": RELANCE.path, "mode": mode})
    with serve(served, handler) as base, pytest.raises(InputFileError) as info:
        fetch_sources(dest, base_url=base, source_ids=["relance_national"])

    message = str(info.value)
    assert RELANCE.path in message
    if mode == "header":
        assert f"{size + 1000} bytes" in message and f"{size} bytes received" in message
    else:
        assert f"{size} bytes" in message and f"{size // 2} bytes received" in message
    assert sha256(dest / RELANCE.path) == good  # the bad download never replaced it
    assert verify_manifest(dest) == []
    assert leftovers(dest) == []


def test_changed_source_is_reported_and_disk_changes_detected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = write_tree(tmp_path / "served", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    with serve(served) as base:
        first = fetch_sources(dest, base_url=base, source_ids=["relance_national"])
        old_sha = first["files"][0]["sha256"]
        write_tree(served, {"relance_national": RELANCE_CSV + RELANCE_CSV.splitlines()[1] + "\n"})
        with caplog.at_level(logging.WARNING, logger="analyse.fetch"):
            second = fetch_sources(dest, base_url=base, source_ids=["relance_national"])

    (entry,) = second["files"]
    assert entry["changed_from"] == old_sha != entry["sha256"]
    assert entry["sha256"] == sha256(served / RELANCE.path)
    on_disk = json.loads((dest / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert on_disk["files"][0]["changed_from"] == old_sha
    assert any("changed" in r.message and old_sha in r.message for r in caplog.records)

    # modified on disk after fetching (same size, other bytes), then cut, then deleted
    target = dest / RELANCE.path
    data = target.read_bytes()
    target.write_bytes(data.replace(b"8972", b"8973"))
    (problem,) = verify_manifest(dest)
    assert problem.startswith("changed:") and RELANCE.path in problem
    target.write_bytes(data[:-10])
    (problem,) = verify_manifest(dest)
    assert problem.startswith("truncated:") and RELANCE.path in problem
    target.unlink()
    (problem,) = verify_manifest(dest)
    assert problem.startswith("missing:") and RELANCE.path in problem


def test_fetch_refuses_a_manifest_whose_other_files_changed(tmp_path: Path) -> None:
    mirror = write_tree(
        tmp_path / "mirror",
        {"relance_national": RELANCE_CSV, "fund_mapping": "columns: {}\n"},
    )
    dest = tmp_path / "raw"
    fetch_sources(dest, mirror=mirror, source_ids=["relance_national", "fund_mapping"])
    (dest / SOURCES["fund_mapping"].path).write_text("columns: {siren: SIREN}\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="changed: fund/mapping.yml"):
        fetch_sources(dest, mirror=mirror, source_ids=["relance_national"])


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


def test_mirror_skips_absent_optional_and_fails_on_absent_required(tmp_path: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    manifest = fetch_sources(dest, mirror=mirror, source_ids=["relance_national"])
    assert manifest["fetched"] == ["relance_national"]

    # every source: optional ones are skipped, the first missing required one is raised
    with pytest.raises(InputFileError) as info:
        fetch_sources(dest, mirror=mirror)
    assert "ti_phase1" in str(info.value) and SOURCES["ti_phase1"].path in str(info.value)

    # an optional source asked for by name is required for this run
    with pytest.raises(InputFileError, match="fund_projects"):
        fetch_sources(dest, mirror=mirror, source_ids=["fund_projects"])


def test_operator_extract_is_fetched_only_from_a_mirror(tmp_path: Path) -> None:
    mirror = write_tree(tmp_path / "mirror", {"fund_projects": "siren;aid\n123456782;1000\n"})
    # the mapping declares the extract's encoding: a cp1252 export is copied as is
    (mirror / "fund" / "projects.csv").write_bytes(
        "raison sociale;aide k€\nACME;12,5\n".encode("cp1252")
    )
    manifest = fetch_sources(tmp_path / "raw", mirror=mirror, source_ids=["fund_projects"])
    assert manifest["files"][0]["origin"] == str(mirror / "fund" / "projects.csv")
    assert manifest["files"][0]["sha256"] == sha256(mirror / "fund" / "projects.csv")
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


def _tiny_workbook(path: Path) -> Path:
    workbook = xlsxwriter.Workbook(str(path))
    epci = workbook.add_worksheet("EPCI")
    communes = workbook.add_worksheet("Composition_communale")
    for col, name in enumerate(("EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM")):
        epci.write(5, col, name)
    for col, name in enumerate(SOURCES["cog_epci"].columns):
        communes.write(5, col, name)
    communes.write_row(6, 0, ["01001", "L'Abergement", "200069193", "CC Dombes", "01", "84"])
    workbook.close()
    return path


def test_zip_archive_member_is_extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = SOURCES["cog_epci"]
    served = tmp_path / "served"
    served.mkdir()
    xlsx = _tiny_workbook(tmp_path / source.archive_member)
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
        manifest = fetch_sources(dest, source_ids=["cog_epci"])
        monkeypatch.setitem(
            SOURCES, "cog_epci", dataclasses.replace(source, url=f"{base}/wrong.zip")
        )
        with pytest.raises(InputFileError, match="other.xlsx"):
            fetch_sources(tmp_path / "raw2", source_ids=["cog_epci"])

    (entry,) = manifest["files"]
    assert (dest / source.path).read_bytes() == xlsx.read_bytes()
    assert entry["sha256"] == sha256(xlsx)
    assert entry["archive_sha256"] == sha256(served / "epci.zip")
    assert entry["archive_member"] == source.archive_member
    assert entry["origin"] == f"{base}/epci.zip"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("source_id", "content", "expected"),
    [
        ("unemployment_ze", "<html><body>Page introuvable</body></html>", "xlsx workbook"),
        ("ti_phase1", '{"type": "FeatureCollection", "features": []}', "with features"),
        ("ti_phase1", '{"type": "FeatureCollection", "features": [', "valid JSON"),
        ("ti_phase2", json.dumps({"features": [{"properties": {"id_ti": "x"}}]}), "id_territoire"),
        ("relance_national", RELANCE_CSV.replace("valeur", "value"), "'valeur'"),
        ("relance_national", "mesure,valeur\nd\xe9j\xe0,1\n".encode("latin-1"), "UTF-8"),
        ("relance_national", b"", "non-empty"),
    ],
)
def test_bad_files_fail_format_sniffing(
    tmp_path: Path, source_id: str, content: str | bytes, expected: str
) -> None:
    served = write_tree(tmp_path / "served", {source_id: content})
    with serve(served) as base, pytest.raises(InputFileError, match=expected) as info:
        fetch_sources(tmp_path / "raw", base_url=base, source_ids=[source_id])
    assert SOURCES[source_id].path in str(info.value)
    assert not (tmp_path / "raw" / SOURCES[source_id].path).exists()


def test_xlsx_without_declared_sheet_is_refused(tmp_path: Path) -> None:
    served = tmp_path / "served"
    good = served / SOURCES["cog_ze2020"].path  # has a Composition_communale sheet
    bad = served / SOURCES["unemployment_ze"].path  # lacks txcho_ze
    for path in (good, bad):
        path.parent.mkdir(parents=True, exist_ok=True)
    _tiny_workbook(good)
    workbook = xlsxwriter.Workbook(str(bad))
    workbook.add_worksheet("Autre")
    workbook.close()
    with serve(served) as base:
        fetch_sources(tmp_path / "raw", base_url=base, source_ids=["cog_ze2020"])
        with pytest.raises(InputFileError, match="txcho_ze"):
            fetch_sources(tmp_path / "raw", base_url=base, source_ids=["unemployment_ze"])


def test_synthetic_leftovers_keep_the_manifest_marked_synthetic(tmp_path: Path) -> None:
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

    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    manifest = fetch_sources(dest, mirror=mirror, source_ids=["relance_national"])
    assert manifest["synthetic"] is True
    by_id = {e["source_id"]: e for e in manifest["files"]}
    assert set(by_id) == {"fund_projects", "relance_national"}  # the deleted one is dropped
    assert by_id["fund_projects"]["synthetic"] is True
    assert by_id["relance_national"]["synthetic"] is False
    assert verify_manifest(dest) == []


def test_cli_fetch_from_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = write_tree(tmp_path / "mirror", {"relance_national": RELANCE_CSV})
    dest = tmp_path / "raw"
    argv = [
        "--raw-dir",
        str(dest),
        "fetch",
        "--mirror",
        str(mirror),
        "--source",
        "relance_national",
    ]
    assert main(argv) == 0
    assert "fetched 1 files" in capsys.readouterr().out
    assert verify_manifest(dest) == []
    assert main([*argv[:-1], "nope"]) == 2
    assert "valid ids" in capsys.readouterr().err
