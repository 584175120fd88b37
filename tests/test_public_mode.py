"""Public-data mode: reports run with no operator extract, from real public data only, and say
plainly which sections need the extract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyse.cli import main
from analyse.tables import read_core_table, read_metadata

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def public_run(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw, _ = demo_dirs
    root = tmp_path_factory.mktemp("public")
    processed = root / "processed"
    assert (
        main(["--raw-dir", str(raw), "--processed-dir", str(processed), "clean", "--public"]) == 0
    )
    out = root / "reports"
    code = main(["--processed-dir", str(processed), "report", "all", "--out", str(out)])
    assert code == 0
    return processed, out


def test_public_snapshot_holds_no_project_and_nothing_synthetic(public_run) -> None:
    processed, _ = public_run
    meta = read_metadata(processed)
    assert meta["mode"] == "public" and meta["synthetic"] is False
    assert meta["synthetic_sources"] == [] or not any(s["synthetic"] for s in meta["sources"])
    assert read_core_table("projects", processed).height == 0
    assert (
        read_core_table("relance_projects", processed).height == 0
    )  # the demo's list is synthetic


def _pages(out: Path) -> dict[str, str]:
    (run,) = [p for p in out.iterdir() if p.is_dir() and not p.is_symlink()]
    return {
        path.relative_to(run).as_posix(): path.read_text(encoding="utf-8")
        for path in run.rglob("*.html")
        if path.parent != run or path.name == "national.html"
    }


def test_every_page_renders_from_public_data_and_says_so(public_run) -> None:
    _, out = public_run
    pages = _pages(out)
    assert len(pages) == 1 + 18 + 183  # every page of `report all`
    for name, html in pages.items():
        text = re.sub(r"<[^>]+>", " ", html)
        assert "Données publiques uniquement" in text, name
        assert "SYNTHÉTIQUES" not in text and "SIMULÉS" not in text, name
        assert "data-cell=" not in html, name  # no fund cell is published without an extract
    national = pages["national.html"]
    assert "baromètre" in national and "Entreprises industrielles aidées" in national
    assert "ne peuvent pas être calculés" in national
    sheet = pages["territoires/ti-8401.html"]
    assert "Aucun extrait par projet" in sheet
