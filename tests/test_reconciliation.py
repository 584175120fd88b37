"""Reconciliation of our aggregates with published figures (hand-made CSV and the real one)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from analyse.errors import InputFileError
from analyse.estimate.leverage import make_synthetic_projects
from analyse.estimate.reconciliation import (
    MEASURES,
    read_published_figures,
    reconcile_with_published,
)
from analyse.schemas import PROJECTS

HEADER = (
    "date,scope,region,projects,aid_eur,investment_eur,jobs_created,jobs_maintained,note,source\n"
)


def make_projects() -> pl.DataFrame:
    base = {c: None for c in PROJECTS}
    rows = [
        # (date, region, aid, investment, jobs_created, jobs_maintained)
        ("2020-11-15", "75", 100.0, 1000.0, 5.0, 10.0),
        ("2020-11-20", "11", 200.0, 1500.0, 7.0, None),
        ("2021-02-01", "75", 300.0, 2500.0, 3.0, 1.0),
        ("2021-06-01", "84", 400.0, 4000.0, 10.0, 2.0),
        (None, "84", 50.0, 100.0, 1.0, None),  # unknown decision date
    ]
    return pl.DataFrame(
        [
            {
                **base,
                "project_id": f"P{i}",
                "siren": f"S{i}",
                "decision_date": dt.date.fromisoformat(d) if d else None,
                "region_code": r,
                "aid_eur": a,
                "investment_eur": inv,
                "jobs_created": jc,
                "jobs_maintained": jm,
                "is_synthetic": True,
            }
            for i, (d, r, a, inv, jc, jm) in enumerate(rows)
        ],
        schema=dict(PROJECTS),
    )


def write_csv(path: Path, body: str) -> Path:
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_hand_made_published_figures(tmp_path: Path) -> None:
    published = write_csv(
        tmp_path / "fund_announcements.csv",
        "2020-12-01,national,,3,250,,20,,first laureates,press release A\n"
        "2021-12-31,region,Nouvelle-Aquitaine,2,400,,,,,press B\n"
        "2021-12-31,region,Atlantide,5,,,,,,press C\n"
        "2021-12-31,national,,,,,,13,jobs maintained,press D\n"
        '2024-11-21,national,,,1000,,,,"all instruments, not only the fund",Cour des comptes report\n',
    )
    out = reconcile_with_published(make_projects(), published)
    assert out.height == 3 + 2 + 1 + 1 + 1  # one row per non-empty figure
    first = out.filter(pl.col("date") == dt.date(2020, 12, 1))
    by_measure = {r["measure"]: r for r in first.iter_rows(named=True)}
    # cut-off 2020-12-01: the two projects decided in Nov 2020 only
    assert by_measure["n_projects"]["our_value_at_date"] == 2
    assert by_measure["n_projects"]["our_value_all"] == 5
    assert by_measure["aid_eur"]["our_value_at_date"] == 300
    assert by_measure["aid_eur"]["gap_abs"] == pytest.approx(300 - 250)
    assert by_measure["aid_eur"]["gap_pct"] == pytest.approx(100 * 50 / 250)
    assert by_measure["jobs_created"]["our_value_at_date"] == 12
    assert by_measure["aid_eur"]["source"] == "press release A"
    # région by name -> code, restricted to its projects
    na = out.filter(pl.col("region") == "Nouvelle-Aquitaine")
    assert na["region_code"].unique().to_list() == ["75"]
    assert dict(zip(na["measure"], na["our_value_at_date"], strict=True)) == {
        "n_projects": 2,
        "aid_eur": 400,
    }
    # unknown région: no comparable aggregate, said so
    unknown = out.filter(pl.col("region") == "Atlantide").row(0, named=True)
    assert unknown["region_code"] is None and unknown["our_value_at_date"] is None
    assert "non reconnu" in unknown["definition_note"]
    # definitions explain the gaps
    maintained = out.filter(pl.col("measure") == "jobs_maintained").row(0, named=True)
    assert maintained["our_value_at_date"] == 13
    assert "maintenus" in maintained["definition_note"]
    cour = out.filter(pl.col("date") == dt.date(2024, 11, 21)).row(0, named=True)
    assert "ensemble des instruments" in cour["definition_note"]
    assert cour["our_value_all"] == 1050
    assert out["definition_note"].is_not_null().all()


def test_bad_published_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing_col.csv"
    missing.write_text("date,scope\n2020-01-01,national\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="missing_col.csv"):
        read_published_figures(missing)
    bad_number = write_csv(tmp_path / "bad_number.csv", "2020-12-01,national,,many,,,,,,s\n")
    with pytest.raises(InputFileError, match=r"row 2, column 'projects'"):
        read_published_figures(bad_number)
    bad_date = write_csv(tmp_path / "bad_date.csv", "01/12/2020,national,,1,,,,,,s\n")
    with pytest.raises(InputFileError, match="column 'date'"):
        read_published_figures(bad_date)
    with pytest.raises(InputFileError, match="no such file"):
        read_published_figures(tmp_path / "absent.csv")


def test_real_published_figures(shared_published: Path) -> None:
    path = shared_published / "fund_announcements.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = sum(1 for r in rows for col in MEASURES if r[col].strip())
    projects = make_synthetic_projects(1416, seed=2021)
    out = reconcile_with_published(projects, path)
    assert out.height == expected
    assert set(out["scope"].unique().to_list()) == {"national", "region"}
    assert out.filter(pl.col("scope") == "region")["region_code"].is_not_null().all()
    assert out["published_value"].is_not_null().all() and out["source"].is_not_null().all()
    # every Cour des comptes row says it covers all instruments
    cour = out.filter(pl.col("source").str.contains("Cour des comptes"))
    assert cour.height >= 1
    assert cour["definition_note"].str.contains("instruments").all()
    # our values are computed from the projects, never copied from the published file
    national = out.filter((pl.col("scope") == "national") & (pl.col("measure") == "aid_eur"))
    assert (national["our_value_all"] == projects["aid_eur"].sum()).all()
