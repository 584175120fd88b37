"""No script from data (issue 9): names that carry HTML, script or link syntax reach every page
as text.

The session's demo raw folder is copied and its files altered as a hostile publisher or operator
could: a territory's name in both ANCT GeoJSON files, an EPCI's name in the INSEE COG workbook,
two communes' names in the Etalab file, every firm name and one sector in the fund extract.
``analyse clean`` builds a snapshot from them; ``analyse report`` runs the figures stage and the
three notebooks (national review, the région, the territory sheet); Chromium opens every page of
the run (and the catalogue's search, typed with a hostile name) and nothing must run.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analyse.report.browser import Browser, find_chromium

ROOT = Path(__file__).resolve().parents[1]

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "</script><script>window.__pwned=1</script>"
ATTRIBUTE = '" onmouseover="window.__pwned=1'
LINK = "[x](javascript:window.__pwned=1)"
ENTITY = "&lt;img src=x onerror=window.__pwned=1&gt;"  # decoded by the cleaners: must stay text
#: The territory renamed (its phase-1 and phase-2 entries), one of its EPCI and two of its
#: communes (région 84).
TERRITORY = "ti-8401"
TERRITORY_NAME = f"Ardèche {IMG} {LINK}"
EPCI_NAME = f"CA {SCRIPT} Annonay"
COMMUNES = {"Annonay": f"Annonay{ATTRIBUTE}", "Ardoix": f"Ardoix {LINK} {ENTITY}"}
COMMUNE_NAMES = tuple(COMMUNES.values())
SECTOR_NAME = f"Électronique {IMG}"
FIRM_SUFFIX = f" {SCRIPT} {ATTRIBUTE}"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium not installed"),
]

#: What must hold on every page once drawn: no script from data ran, no element or attribute
#: from data exists (the names are text, wherever they are shown).
PROBE = r"""() => ({
  pwned: typeof window.__pwned !== "undefined",
  img: document.querySelectorAll('img[src="x"], img[onerror]').length,
  handlers: Array.from(document.querySelectorAll("*")).filter(function (el) {
    return Array.from(el.attributes).some(function (a) {
      return /^on/i.test(a.name) ||
             (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) &&
              /^\s*javascript:/i.test(a.value));
    });
  }).map(function (el) { return el.outerHTML.slice(0, 120); }),
  text: document.body.innerText,
  content: document.body.textContent
})"""


def _rename_territories(raw: Path) -> None:
    for path, id_key, name_key in (
        (raw / "territoires_industrie/wave2_2023_superposeur-anct/ti_geom.geojson", "id_territoire", "lib_territoire"),
        (raw / "territoires_industrie/phase1_2018-2022_superposeur-V2/polygone-4326_ti.geojson", "id_ti", "lib_ti"),
    ):  # fmt: skip
        data = json.loads(path.read_text(encoding="utf-8"))
        hits = [f for f in data["features"] if f["properties"].get(id_key) == TERRITORY]
        assert hits, (path, TERRITORY)
        for feature in hits:
            feature["properties"][name_key] = TERRITORY_NAME
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _rename_in_cog(raw: Path) -> None:
    """The EPCI's and the communes' names in the COG workbook (its shared strings, edited in
    the xlsx zip: the cleaner reads communes' names from there)."""
    path = raw / "geo_cog/Intercommunalite_Metropole_au_01-01-2023.xlsx"
    names = {"CA Annonay Rhône Agglo": EPCI_NAME, **COMMUNES}
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/sharedStrings.xml":
                text = data.decode("utf-8")
                for old, new in names.items():
                    assert text.count(f"<t>{old}</t>") == 1, old
                    text = text.replace(f"<t>{old}</t>", f"<t>{html.escape(new, quote=False)}</t>")
                data = text.encode("utf-8")
            out.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def _rename_communes(raw: Path) -> None:
    path = raw / "etalab_decoupage/communes.json"
    communes = json.loads(path.read_text(encoding="utf-8"))
    hits = 0
    for commune in communes:
        if commune.get("nom") in COMMUNES and commune.get("departement") == "07":
            commune["nom"] = COMMUNES[commune["nom"]]
            hits += 1
    assert hits >= len(COMMUNES)
    path.write_text(json.dumps(communes, ensure_ascii=False), encoding="utf-8")


def _rename_firms_and_sector(raw: Path) -> None:
    path = raw / "fund/projects.csv"
    title, _, body = path.read_text(encoding="utf-8-sig").partition("\n")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    header = rows[0]
    firm, sector = header.index("Raison sociale bénéficiaire"), header.index("Secteur d'activité")
    for row in rows[1:]:
        if len(row) == len(header):
            row[firm] += FIRM_SUFFIX
            if row[sector] == "Électronique":
                row[sector] = SECTOR_NAME
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    path.write_text(title + "\n" + out.getvalue(), encoding="utf-8-sig")


@pytest.fixture(scope="module")
def hostile_run(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analyse.clean import run_clean

    raw_demo, _ = demo_dirs
    root = tmp_path_factory.mktemp("hostile")
    raw, processed = root / "raw", root / "processed"
    shutil.copytree(raw_demo, raw)
    _rename_territories(raw)
    _rename_in_cog(raw)
    _rename_communes(raw)
    _rename_firms_and_sector(raw)
    run_clean(raw, processed)
    run_file = root / "run.yml"
    run_file.write_text(
        "reports:\n  national: true\n  regions: ['84']\n"
        f"  territories:\n    phase: 2\n    ids: ['{TERRITORY}']\nworkers: 2\n",
        encoding="utf-8",
    )
    env = {**os.environ, "ANALYSE_PROCESSED_DIR": str(processed)}
    proc = subprocess.run(
        [sys.executable, "-m", "analyse", "report", "--run-file", str(run_file), "--out", str(root / "reports")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (root / "reports" / "latest").resolve()


def _probe(browser: Browser, path: Path, search: str | None = None) -> dict:
    page, seen = browser.new_page()
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(200)
        if search is not None:
            page.fill("#recherche", search)
        page.mouse.move(10, 10)  # hover handlers, if any had slipped in
        found = page.evaluate(PROBE)
        found["errors"] = seen["errors"]
        return found
    finally:
        page.close()


def test_hostile_names_run_no_script_on_any_page(hostile_run: Path) -> None:
    pages = {p.relative_to(hostile_run).as_posix(): p for p in hostile_run.rglob("*.html")}
    assert {"index.html", "run.html", "national.html", "regions/84.html"} <= set(pages)
    assert f"territoires/{TERRITORY}.html" in pages
    texts, contents = {}, {}
    with Browser() as browser:
        for name, path in sorted(pages.items()):
            found = _probe(browser, path)
            assert not found["pwned"], name
            assert found["img"] == 0 and found["handlers"] == [], (name, found["handlers"][:3])
            assert not [e for e in found["errors"] if "pwned" in e], (name, found["errors"])
            texts[name] = found["text"]
            contents[name] = found["content"]
        # the catalogue's search, typed with a hostile commune name, shows it as text
        found = _probe(browser, pages["index.html"], search=COMMUNE_NAMES[0][:12])
        assert not found["pwned"] and found["img"] == 0 and found["handlers"] == []
        assert COMMUNE_NAMES[0] in found["text"]
    # the names were really shown (as text) where a reader meets them
    sheet = texts[f"territoires/{TERRITORY}.html"]
    assert IMG in sheet and LINK in sheet and EPCI_NAME in sheet
    assert IMG in texts["regions/84.html"] and SECTOR_NAME in texts["regions/84.html"]
    assert TERRITORY_NAME in contents["index.html"]  # in a collapsed région block


def test_hostile_names_are_escaped_in_the_html_source(hostile_run: Path) -> None:
    """The page sources hold no raw tag from data outside script-safe JSON."""
    for path in hostile_run.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert IMG not in text and "<img src=x" not in text, path
        assert text.count("<script>window.__pwned") == 0, path
        assert 'onmouseover="window.__pwned' not in text, path
        assert 'href="javascript:' not in text.lower(), path
