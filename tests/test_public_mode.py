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
    for args in (["national"], ["region", "84"], ["territory", "ti-8401"]):
        code = main(["--processed-dir", str(processed), "report", *args, "--out", str(out)])
        assert code == 0, args
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
    pages = {}
    for path in out.glob("*/**/*.html"):
        if path.name in ("index.html", "run.html"):
            continue
        pages[path.relative_to(path.parents[len(path.relative_to(out).parts) - 2]).as_posix()] = (
            path.read_text(encoding="utf-8")
        )
    return pages


def test_every_page_renders_from_public_data_and_says_so(public_run) -> None:
    _, out = public_run
    pages = _pages(out)
    assert len(pages) == 3
    for name, html in pages.items():
        text = re.sub(r"<[^>]+>", " ", html)
        assert "Données publiques uniquement" in text, name
        assert "SYNTHÉTIQUES" not in text and "SIMULÉS" not in text, name
        assert "data-cell=" not in html, name  # no fund cell is published without an extract
    national = next(h for n, h in pages.items() if n.endswith("national.html"))
    assert "baromètre" in national and "Entreprises industrielles aidées" in national
    assert "ne peuvent pas être calculés" in national
    sheet = next(h for n, h in pages.items() if "territoires" in n)
    assert "Aucun extrait par projet" in sheet
