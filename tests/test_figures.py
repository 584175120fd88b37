"""The figures stage: every published cell once, printed once, masked once; cached bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from analyse import formatting as fmt
from analyse.figures import FiguresOptions, ensure_figures, read_bundle
from analyse.figures.fund import MEASURES, format_measure
from analyse.figures.scopes import FRANCE, add_dimensions, cell_key, list_scopes, parse_cell_key


@pytest.fixture(scope="module")
def bundle(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    _, processed = demo_dirs
    root = tmp_path_factory.mktemp("figures")
    return ensure_figures(processed, FiguresOptions(n_boot=199), root=root)


def test_cell_keys_round_trip_and_order_dimensions() -> None:
    assert cell_key({}) == FRANCE
    scope = {"ti_p2": "ti-8401", "region_code": "84"}
    assert cell_key(scope) == "region_code=84;ti_p2=ti-8401"
    assert parse_cell_key(cell_key(scope)) == scope
    with pytest.raises(KeyError):
        cell_key({"commune": "01001"})


def test_dimensions_partition_the_projects(demo_dirs: tuple[Path, Path]) -> None:
    from analyse.tables import read_core_table

    projects = add_dimensions(read_core_table("projects", demo_dirs[1]))
    scopes = list_scopes(projects)
    assert scopes[0] == {}
    for dim in ("region_code", "sector", "ti_p1", "in_ti_p2"):
        assert projects[dim].null_count() == 0
        parts = [s for s in scopes if list(s) == [dim]]
        if dim == "ti_p1":  # territories alone: "hors" is the in_ti_p1 = non cell
            assert all(s[dim] != "hors" for s in parts)
        else:
            assert {s[dim] for s in parts} == set(projects[dim].unique())


def test_one_row_per_cell_and_measure(bundle) -> None:
    cells = bundle["cells"]
    assert cells.select("cell_key", "measure").is_duplicated().sum() == 0
    assert set(cells["measure"].unique()) == set(MEASURES)
    france = cells.filter(pl.col("cell_key") == FRANCE)
    assert france.height == len(MEASURES)


def test_printed_text_is_the_formatter_of_the_value_or_s(bundle) -> None:
    cells = bundle["cells"]
    for row in cells.sample(n=min(400, cells.height), seed=1).iter_rows(named=True):
        if row["is_masked"]:
            assert row["printed"] == fmt.MASKED and row["value"] is None
            assert row["n_projects"] is None and row["printed_ci_low"] is None
        else:
            assert row["printed"] == format_measure(row["measure"], row["value"])
        if row["printed_ci_low"] is not None:
            low, high = (
                fmt.parse_printed(row["printed_ci_low"]),
                fmt.parse_printed(row["printed_ci_high"]),
            )
            assert low[0] <= high[1]


def test_a_breakdown_adds_up_to_its_total_where_nothing_is_masked(bundle) -> None:
    cells = bundle["cells"].filter(pl.col("measure") == "n_projects")
    total = cells.filter(pl.col("cell_key") == FRANCE)["value"][0]
    by_year = cells.filter(
        pl.col("decision_year").is_not_null() & pl.all_horizontal(
            [pl.col(d).is_null() for d in ("region_code", "sector", "firm_size", "ti_p1", "ti_p2", "in_ti_p1", "in_ti_p2")]
        )
    )  # fmt: skip
    if total is not None and not by_year["is_masked"].any():
        assert by_year["value"].sum() == total


def test_bundle_is_cached_by_snapshot_code_and_options(bundle, demo_dirs) -> None:
    _, processed = demo_dirs
    again = ensure_figures(processed, FiguresOptions(n_boot=199), root=bundle.path.parent)
    assert again.path == bundle.path and again.manifest == bundle.manifest
    other = ensure_figures(processed, FiguresOptions(n_boot=299), root=bundle.path.parent)
    assert other.path != bundle.path
    assert not [p for p in bundle.path.parent.iterdir() if p.name.startswith(".")]


def test_bundle_manifest_names_snapshot_and_timings(bundle, demo_dirs) -> None:
    from analyse.snapshots import get_snapshot_id, resolve_snapshot

    manifest = json.loads((bundle.path / "manifest.json").read_text())
    assert manifest["snapshot_id"] == get_snapshot_id(resolve_snapshot(demo_dirs[1]))
    assert manifest["timings_s"]["total_s"] > 0
    assert {"cells", "trends", "public_ti_coverage"} <= set(manifest["frames"])


def test_trends_weight_zones_by_population(bundle) -> None:
    trends = bundle["trends"]
    assert set(trends["weight"].unique()) <= {"population", "communes"}
    france = trends.filter(pl.col("scope") == FRANCE)
    assert france.height > 40 and france["unemployment_rate_pct"].is_between(3, 20).all()
    assert trends.filter(pl.col("scope").str.starts_with("ti_p2=")).height > 0


def test_an_incomplete_bundle_is_not_read(bundle, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    (copy / "manifest.json").unlink()
    with pytest.raises(FileNotFoundError, match="analyse figures"):
        read_bundle(copy)
