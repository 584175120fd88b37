"""``analyse report`` from the command line: run file, layout, exit codes, listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_runner import write_processed

from analyse.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "tests" / "notebooks"


def test_run_file_through_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the cache key hashes the package source: keep it fixed while others edit the tree
    monkeypatch.setattr("analyse.report.batch.hash_package", lambda: "package-under-test")
    processed = write_processed(tmp_path / "processed")
    out = tmp_path / "reports"
    run_file = tmp_path / "run.yml"
    run_file.write_text(
        f"""
reports:
  regions: ["84"]
  territories: {{phase: 2, ids: [ti-8401]}}
processed_dir: {processed}
output_dir: {out}
notebooks_dir: {NOTEBOOKS}
workers: 2
""",
        encoding="utf-8",
    )
    code = main(["report", "--run-file", str(run_file)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 reports (2 ok)" in printed
    run_dir = (out / "latest").resolve()
    assert (run_dir / "regions" / "84.html").is_file()
    assert (run_dir / "territoires" / "ti-8401.html").is_file()
    assert (run_dir / "notebooks" / "territoires" / "ti-8401.ipynb").is_file()
    assert (run_dir / "logs" / "regions" / "84.log").is_file()
    data = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    assert data["workers"] == 2
    params = {r["name"]: r["parameters"] for r in data["reports"]}
    assert params["territoires/ti-8401"]["ti_phase"] == 2
    assert params["regions/84"]["region_code"] == "84"
    page = (run_dir / "territoires" / "ti-8401.html").read_text(encoding="utf-8")
    assert "ti_id=&#x27;ti-8401&#x27; ti_phase=2" in page or "ti_id='ti-8401' ti_phase=2" in page
    assert "Dombes-Côtière" in (run_dir / "index.html").read_text(encoding="utf-8")

    # same run again: nothing to execute, both reports reused, exit code still 0
    code = main(["report", "--run-file", str(run_file)])
    assert code == 0
    assert "2 cached" in capsys.readouterr().out


def test_kind_and_run_file_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_file = tmp_path / "run.yml"
    run_file.write_text("reports: {national: true}\n", encoding="utf-8")
    assert main(["report", "--run-file", str(run_file), "national"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["report"]) == 2


def test_missing_notebook_is_reported_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    processed = write_processed(tmp_path / "processed")
    code = main(
        [
            "--processed-dir",
            str(processed),
            "report",
            "national",
            "--notebooks-dir",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "reports"),
        ]
    )
    assert code == 2
    assert "national_review.py (or .ipynb) not found" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_list_shows_codes_and_territories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    processed = write_processed(tmp_path / "processed")
    assert main(["--processed-dir", str(processed), "report", "list", "--phase", "1"]) == 0
    printed = capsys.readouterr().out
    assert "01  Guadeloupe" in printed and "84  Auvergne-Rhône-Alpes" in printed
    assert "territories (phase 1): 1" in printed and "ti-8401  Dombes" in printed
