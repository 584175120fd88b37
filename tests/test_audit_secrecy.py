"""``analyse audit-secrecy``: reading printed values back, linking the cells, and the attack on
small runs written here (a protected one passes; leaking or inconsistent ones fail, naming the
cell)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_secrecy import project_rows, publication_scopes, with_dims

from analyse import formatting as fmt
from analyse.audit.pages import format_for, read_page, read_printed
from analyse.audit.secrecy import (
    BOUNDED,
    PROTECTED,
    RECOVERED,
    audit_secrecy,
    classify,
    link_cells,
)
from analyse.cellkeys import cell_key, parse_cell_key
from analyse.cli import main
from analyse.estimate.leverage import make_synthetic_projects
from analyse.estimate.secrecy import (
    ADDITIVE_MEASURES,
    protect_publication,
)

RATIO = "investment_per_aid_eur"


# --------------------------------------------------------------------------------------------
# A small publication written the way the report pages print the fund's cells
# --------------------------------------------------------------------------------------------


def true_values(
    projects: pl.DataFrame, scopes: list[dict[str, str]]
) -> dict[str, dict[str, float]]:
    out = {}
    for scope in scopes:
        part = projects
        for d, v in scope.items():
            part = part.filter(pl.col(d) == v)
        sums = {m: float(part[m].fill_null(0).sum()) for m in ADDITIVE_MEASURES[1:]}
        out[cell_key(scope)] = {
            "n_projects": float(part.height),
            **sums,
            RATIO: sums["investment_eur"] / sums["aid_eur"] if sums["aid_eur"] else None,
        }
    return out


def pages_of(key: str) -> list[str]:
    """A région's total is printed on the national page and on its own page."""
    scope = parse_cell_key(key)
    if "region_code" in scope:
        region = f"regions/{scope['region_code']}.html"
        return ["national.html", region] if len(scope) == 1 else [region]
    territory = scope.get("ti_p2") or scope.get("ti_p1")
    return [f"territoires/{territory}.html" if territory else "national.html"]


def publish(
    run: Path,
    values: dict[str, dict[str, float]],
    masked: set[str],
    *,
    printed: dict[tuple[str, str, str], str] | None = None,
    chart_numbers: dict[tuple[str, str, str], float] | None = None,
) -> None:
    """One page per France / région / territory: a table (``td`` per value, ``s`` when masked,
    a prose ``span`` for the first cell) and a chart embedding the printed values.
    ``printed`` / ``chart_numbers`` override a (page, cell, measure) text or chart number."""
    printed, chart_numbers = printed or {}, chart_numbers or {}
    pages: dict[str, list[str]] = {}
    for key in values:
        for page in pages_of(key):
            pages.setdefault(page, []).append(key)
    pages.setdefault("national.html", [])
    for page, keys in pages.items():
        rows, data = [], []
        for key in keys:
            cells, datum = [], {"cell": key, "label": key}
            for measure, value in values[key].items():
                text = (
                    fmt.MASKED
                    if key in masked
                    else format_for(measure, value)
                    if value is not None
                    else fmt.NOT_AVAILABLE
                )
                text = printed.get((page, key, measure), text)
                mark = (
                    f'<abbr title="secret statistique">{text}</abbr>'
                    if text == fmt.MASKED
                    else html.escape(text)
                )
                cells.append(
                    f'<td class="num" data-cell="{html.escape(key)}" data-measure="{measure}">{mark}</td>'
                )
                reading = read_printed(text)
                if reading.kind == "value":
                    datum[measure] = chart_numbers.get((page, key, measure), reading.mid)
            rows.append("<tr>" + "".join(cells) + "</tr>")
            data.append(datum)
        prose = ""
        if keys and keys[0] not in masked:
            text = format_for("aid_eur", values[keys[0]]["aid_eur"])
            prose = (
                f'<p>Aide : <span data-cell="{keys[0]}" data-measure="aid_eur">{text}</span>.</p>'
            )
        spec = {"layer": [{"data": {"values": data[: len(data) // 2]}}, {"data": {"name": "d"}}]}
        spec["datasets"] = {"d": data[len(data) // 2 :]}
        payload = json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c")
        body = (
            f"{prose}<table><tbody>{''.join(rows)}</tbody></table>"
            f'<div class="analyse-chart"></div><script id="c-spec" class="analyse-chart-spec" '
            f'type="application/json">{payload}</script>'
        )
        path = run / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!doctype html><html><body><main>{body}</main></body></html>", "utf-8")


@pytest.fixture(scope="module")
def publication() -> dict:
    projects = with_dims(make_synthetic_projects(110, seed=23))
    scopes = publication_scopes(projects)
    out = protect_publication(projects, scopes)
    values = true_values(projects, scopes)
    truth = {(k, m): v for k, ms in values.items() for m, v in ms.items() if v is not None}
    primary = set(
        out.filter(pl.col("mask_reason").str.starts_with("primary").fill_null(False))["cell_key"]
    )
    return {
        "values": values,
        "masked": set(out.filter("is_masked")["cell_key"]),
        "primary": primary,
        "truth": truth,
    }


# --------------------------------------------------------------------------------------------
# Reading printed values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["aid_eur", "n_projects", "jobs_created", RATIO])
def test_printed_values_read_back_as_intervals_holding_the_truth(measure: str) -> None:
    rng = np.random.default_rng(len(measure))
    values = np.concatenate([rng.lognormal(12, 3, 300), [0.0, 0.04, 9999.6, 999_950.0, 1e9 - 1]])
    if measure != "aid_eur":
        values = np.round(values / 1e3, 0 if measure != RATIO else 3)
    for v in values:
        text = format_for(measure, float(v))
        r = read_printed(text)
        assert r.kind == "value" and r.lo <= v <= r.hi, (v, text, r)
        assert read_printed(format_for(measure, r.mid)).mid == r.mid  # chart numbers round-trip


def test_special_texts() -> None:
    assert read_printed("s").kind == "masked"
    assert read_printed(" n.d. ").kind == "missing"
    assert read_printed("beaucoup").kind == "unparsed"
    r = read_printed(f"{fmt.MINUS}3,2{fmt.NBSP}M€")
    assert (r.lo, r.hi) == pytest.approx((-3.25e6, -3.15e6))
    assert read_printed(f"1{fmt.NNBSP}416{fmt.NBSP}projets").mid == 1416


def test_page_reader_finds_tables_prose_and_every_chart_layout(tmp_path: Path) -> None:
    spec = {
        "hconcat": [
            {
                "layer": [
                    {"data": {"values": [{"cell": "region_code=84", "aid_eur": 1.2e6, "x": 3}]}}
                ]
            },
            {"data": {"name": "a"}},
        ],
        "datasets": {"a": [{"cell": "*", "n_projects": 1416, "label": "France"}]},
    }
    page = tmp_path / "p.html"
    page.write_text(
        '<table><tr><td data-measure="aid_eur" class="num" data-cell="region_code=84">'
        '<abbr title="secret statistique">s</abbr></td></tr></table><p>Soit '
        f'<span data-cell="*" data-measure="n_projects">1{fmt.NNBSP}416</span> projets.</p>'
        '<script type="application/json" class="analyse-chart-spec">'
        + json.dumps(spec).replace("<", "\\u003c")
        + "</script>",
        "utf-8",
    )
    found, problems = read_page(page, "p.html", frozenset({"aid_eur", "n_projects"}))
    assert problems == []
    got = {(p.source, p.cell_key, p.measure, p.text, p.number) for p in found}
    assert got == {
        ("html", "region_code=84", "aid_eur", "s", None),
        ("html", "*", "n_projects", f"1{fmt.NNBSP}416", None),
        ("chart", "region_code=84", "aid_eur", None, 1.2e6),
        ("chart", "*", "n_projects", None, 1416),
    }


# --------------------------------------------------------------------------------------------
# Linked cells and verdicts
# --------------------------------------------------------------------------------------------


def test_linked_cells_follow_the_breakdowns_a_publication_shows() -> None:
    keys = [
        "*", "region_code=84", "region_code=27", "region_code=84;ti_p2=ti-a",
        "region_code=84;ti_p2=ti-b", "region_code=84;ti_p2=hors", "region_code=27;ti_p2=ti-b",
        "region_code=27;ti_p2=hors", "ti_p2=ti-b", "in_ti_p2=non", "sector=Bois", "sector=Bois",
        "sector=Chimie", "region_code=84;sector=Bois",
    ]  # fmt: skip
    linked = link_cells([parse_cell_key(k) for k in keys])
    eqs = {
        (cell_key(linked.cells[p]), tuple(sorted(cell_key(linked.cells[j]) for j in parts)))
        for p, parts in linked.equations
    }
    assert ("*", ("region_code=27", "region_code=84")) in eqs
    # a région = its territories and "hors" (written in_ti_p2=non)
    assert (
        "region_code=84",
        ("region_code=84;in_ti_p2=non", "region_code=84;ti_p2=ti-a", "region_code=84;ti_p2=ti-b"),
    ) in eqs
    # a territory lying in two régions = its part in each
    assert ("ti_p2=ti-b", ("region_code=27;ti_p2=ti-b", "region_code=84;ti_p2=ti-b")) in eqs
    # France out of TI = the régions' "hors"
    assert ("in_ti_p2=non", ("region_code=27;in_ti_p2=non", "region_code=84;in_ti_p2=non")) in eqs
    assert ("*", ("sector=Bois", "sector=Chimie")) in eqs
    # région 84's Chimie part is printed nowhere: an unknown part (>= 0) completes its breakdown
    assert ("region_code=84", ("region_code=84;sector=Bois", "region_code=84;sector=Chimie")) in eqs
    assert linked.completed[linked.index["region_code=84;sector=Chimie"]]
    assert not linked.completed[linked.index["region_code=84;sector=Bois"]]


def test_verdicts() -> None:
    assert classify(0.6, 1.4, integer=True, protection=0.25)[2] == RECOVERED  # 1 project
    assert classify(0.0, 2.0, integer=True, protection=0.25)[2] == PROTECTED
    assert classify(75.0, 125.0, integer=False, protection=0.25)[2] == PROTECTED
    assert classify(80.0, 125.0, integer=False, protection=0.25)[2] == BOUNDED
    assert classify(80.0, 125.0, integer=False, protection=0.25, truth=110.0)[2] == BOUNDED
    assert classify(80.0, 200.0, integer=False, protection=0.25, truth=100.0)[2] == BOUNDED
    assert classify(70.0, 130.0, integer=False, protection=0.25, truth=100.0)[2] == PROTECTED
    assert classify(5.0, np.inf, integer=False, protection=0.25)[2] == PROTECTED


# --------------------------------------------------------------------------------------------
# The attack on whole runs
# --------------------------------------------------------------------------------------------


def test_protected_run_passes(
    tmp_path: Path, publication: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(tmp_path, publication["values"], publication["masked"])
    result = audit_secrecy(tmp_path, truth=publication["truth"])
    assert result.verdicts and not result.failed, result.failures[:3]
    assert {v.status for v in result.verdicts} == {PROTECTED}
    assert main(["audit-secrecy", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "logs" / "audit.json").read_text("utf-8"))
    assert report["ok"] and report["masked_cells"] == len(publication["masked"])
    assert "OK" in capsys.readouterr().out


def test_leaking_run_fails_and_names_the_cell(
    tmp_path: Path, publication: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(tmp_path, publication["values"], publication["primary"])  # no secondary cells
    result = audit_secrecy(tmp_path, truth=publication["truth"])
    assert result.failures
    leaked = result.failures[0]
    assert leaked.cell_key in {
        cell_key(canon) for canon in map(parse_cell_key, publication["primary"])
    } | {
        k.replace("ti_p1=hors", "in_ti_p1=non").replace("ti_p2=hors", "in_ti_p2=non")
        for k in publication["primary"]
    }
    truth_file = tmp_path / "truth.parquet"
    pl.DataFrame(
        [{"cell_key": k, "measure": m, "value": v} for (k, m), v in publication["truth"].items()]
    ).write_parquet(truth_file)
    assert main(["audit-secrecy", str(tmp_path), "--truth", str(truth_file)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and leaked.cell_key in out
    report = json.loads((tmp_path / "logs" / "audit.json").read_text("utf-8"))
    assert not report["ok"] and report["failures"]


def test_inconsistent_pages_fail(tmp_path: Path, publication: dict) -> None:
    values, masked = publication["values"], publication["masked"]
    key = sorted(k for k in values if k not in masked and len(pages_of(k)) == 2)[0]
    hidden = sorted(k for k in masked if len(parse_cell_key(k)) == 2)[0]
    publish(
        tmp_path,
        values,
        masked,
        printed={
            (pages_of(key)[1], key, "jobs_created"): format_for(
                "jobs_created", values[key]["jobs_created"] + 3
            ),
            (pages_of(hidden)[0], hidden, RATIO): "9,9",  # a ratio of a masked cell
        },
        chart_numbers={
            ("national.html", "*", "investment_eur"): values["*"]["investment_eur"] + 1.0
        },
    )
    result = audit_secrecy(tmp_path)
    kinds = {(i["kind"], i["cell_key"]) for i in result.issues}
    assert ("printed_differently", key) in kinds  # the région page disagrees with the national
    assert ("derived_from_masked", hidden) in kinds or (
        "derived_from_masked",
        hidden.replace("ti_p2=hors", "in_ti_p2=non").replace("ti_p1=hors", "in_ti_p1=non"),
    ) in kinds
    assert ("chart_precision", "*") in kinds  # a chart with digits the tables do not print
    assert result.failed


def test_breakdown_missing_a_part_is_dropped_not_trusted(tmp_path: Path) -> None:
    """A région page listing territories while one territory is printed nowhere: the breakdown
    looks complete, contradicts the printed région total, and is dropped with a warning; the
    attack goes on with the other equations."""
    records = [
        ("84", "hors", f"ti-84{t}", "Bois", f"{t}{i}", 100 + i, 900, 2)
        for t in "abc"
        for i in range(3)
    ]
    records += [("84", "hors", "hors", "Bois", f"h{i}", 50, 400, 1) for i in range(3)]
    records += [("27", "hors", "hors", "Bois", f"k{i}", 70, 600, 1) for i in range(3)]
    projects = project_rows(records)
    scopes = [
        {},
        {"region_code": "84"},
        {"region_code": "27"},
        {"region_code": "84", "ti_p2": "hors"},
    ]
    scopes += [{"region_code": "84", "ti_p2": f"ti-84{t}"} for t in "ab"]  # ti-84c left out
    publish(tmp_path, true_values(projects, scopes), {"region_code=27"})
    result = audit_secrecy(tmp_path)
    dropped = [i for i in result.issues if i["kind"] == "equation_dropped"]
    assert dropped and all(i["measure"] in ADDITIVE_MEASURES for i in dropped)
    assert not result.failing_issues
    verdict = {(v.cell_key, v.measure): v.status for v in result.verdicts}
    assert verdict[("region_code=27", "n_projects")] == RECOVERED  # France minus région 84
    assert verdict[("region_code=27", "aid_eur")] == BOUNDED  # ... up to the rounding


def test_pages_without_annotations_are_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "national.html").write_text(
        '<table><tr><td>Bois</td><td><abbr title="secret statistique">s</abbr></td></tr></table>',
        "utf-8",
    )
    result = audit_secrecy(tmp_path)
    kinds = {i["kind"] for i in result.issues}
    assert {"nothing_read", "unannotated_masked"} <= kinds
    assert result.failed


def test_zero_fill_reads_missing_rows_as_empty(tmp_path: Path) -> None:
    """Région 84 prints 2 of the 3 sectors France shows (its third is empty): without
    ``zero_fill`` the missing row is an unknown >= 0, with it a 0 - which pins a masked cell."""
    records = [
        ("84", "hors", "hors", s, f"{s}{i}", 100 + i, 900, 2)
        for s in ("Bois", "Chimie")
        for i in range(3)
    ]
    records += [
        ("27", "hors", "hors", s, f"x{s}{i}", 80, 700, 1)
        for s in ("Bois", "Chimie", "Textile")
        for i in range(3)
    ]
    projects = project_rows(records)
    scopes = [{"region_code": "84"}, *[{"sector": s} for s in ("Bois", "Chimie", "Textile")]]
    scopes += [{"region_code": "84", "sector": s} for s in ("Bois", "Chimie")]
    publish(tmp_path, true_values(projects, scopes), {"region_code=84;sector=Bois"})
    loose = {(v.cell_key, v.measure): v.status for v in audit_secrecy(tmp_path).verdicts}
    strict = {
        (v.cell_key, v.measure): v.status for v in audit_secrecy(tmp_path, zero_fill=True).verdicts
    }
    assert loose[("region_code=84;sector=Bois", "n_projects")] == PROTECTED
    assert strict[("region_code=84;sector=Bois", "n_projects")] == RECOVERED
