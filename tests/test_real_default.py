"""The default run is real where the data are public: pages name the real territories of the ANCT
files, the national page prints the estimator's result on the real INSEE panel, and reviewer pages
carry no English or code names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from analyse import formatting as fmt
from analyse.sources import SOURCE_PATHS

pytestmark = pytest.mark.slow

#: Words and names of the code that must not reach a reviewer page.
JARGON = re.compile(
    r"\b(final list|probably|matched sample|treatment|intensity_x_post|commune_siren|"
    r"missing_rate|aid_eur|investment_eur|jobs_created|ti_id_phase\d|is_synthetic|"
    r"COG probably|spreadsheet row|CSV line|zone x quarter|synthetic \(seed)\b"
)


def _text(html: str) -> str:
    html = re.sub(r"<script[^>]*>.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<style[^>]*>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def run(report_run) -> tuple[Path, Path]:
    proc, run_dir, processed = report_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run_dir, processed


def test_sheets_name_the_territories_of_the_anct_file(run, demo_dirs) -> None:
    run_dir, _ = run
    raw, _ = demo_dirs
    doc = json.loads((raw / SOURCE_PATHS["ti_phase2"]).read_text(encoding="utf-8"))
    names = {
        f["properties"]["id_territoire"]: f["properties"]["lib_territoire"] for f in doc["features"]
    }
    assert len(names) == 183
    for ti_id in sorted(names)[::30]:  # a spread of sheets
        page = _text((run_dir / "territoires" / f"{ti_id}.html").read_text(encoding="utf-8"))
        assert names[ti_id].strip() in page, ti_id
        assert not re.search(r"-Démo\b|Démo [0-9]", page)  # no invented name (Commune-Démo 01004)


def test_national_page_prints_the_estimate_on_the_real_panel(run) -> None:
    from analyse.estimate.did import run_label_counterfactual
    from analyse.review.label import headline
    from analyse.tables import read_core_table

    run_dir, processed = run
    tables = {n: read_core_table(n, processed) for n in
              ("labour_panel", "communes", "commune_territories", "commune_typologies")}  # fmt: skip
    assert not tables["labour_panel"]["is_synthetic"].any()  # the INSEE file, not invented
    results = run_label_counterfactual(**tables, phase=1, with_honest=False)
    row = headline(results)
    printed = fmt.format_ratio(row["estimate"], 3)
    page = _text((run_dir / "national.html").read_text(encoding="utf-8"))
    assert printed in page
    main = results["did"].filter(pl.col("spec") == "main")
    assert main.height >= 2 and main["n_clusters"].max() > 290  # the 302 zones d'emploi


def test_reviewer_pages_are_free_of_code_names_and_english(run) -> None:
    run_dir, _ = run
    pages = [run_dir / "index.html", run_dir / "national.html", *sorted(run_dir.glob("regions/*.html"))[:4],
             *sorted(run_dir.glob("territoires/*.html"))[:6]]  # fmt: skip
    for path in pages:
        found = JARGON.findall(_text(path.read_text(encoding="utf-8")))
        assert not found, (path.name, sorted(set(found)))
