"""Report building blocks that are not estimates."""

from __future__ import annotations

import polars as pl

from analyse.review import (
    compare_perimeters,
    render_provenance,
    render_synthetic_banner,
    summarise_perimeter_changes,
)


def _members() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ti_id": ["ti-8401", "ti-8401", "ti-8402", "ti-8410", "ti-8411"],
            "ti_phase": [1, 1, 1, 2, 2],
            "epci_siren": ["200000001", "200000002", "200000003", "200000002", "200000004"],
            "grouping_name": ["CC A", "CC B", "CC C", "CC B", "CC D"],
            "is_synthetic": [True] * 5,
        },
        schema_overrides={"ti_phase": pl.Int8},
    )


def test_compare_perimeters_classifies_each_epci() -> None:
    out = compare_perimeters(_members())
    status = dict(zip(out["epci_siren"], out["status"], strict=True))
    assert status == {
        "200000001": "left",
        "200000002": "stayed",
        "200000003": "left",
        "200000004": "entered",
    }
    stayed = out.filter(pl.col("epci_siren") == "200000002").row(0, named=True)
    assert (stayed["ti_id_phase1"], stayed["ti_id_phase2"]) == ("ti-8401", "ti-8410")


def test_summary_counts_add_up_to_distinct_epci() -> None:
    summary = summarise_perimeter_changes(compare_perimeters(_members()))
    assert summary["status"].to_list() == ["stayed", "entered", "left"]
    assert summary["n_epci"].to_list() == [1, 1, 2]
    assert summary["n_epci"].sum() == _members()["epci_siren"].n_unique()


def test_banner_only_for_synthetic_data() -> None:
    assert render_synthetic_banner({"synthetic": False}) == ""
    banner = render_synthetic_banner({"synthetic": True, "seed": 2018})
    assert "DONNÉES SYNTHÉTIQUES" in banner and "2018" in banner


def test_provenance_lists_sources_checksums_and_parameters() -> None:
    meta = {
        "synthetic": False,
        "cleaned_at": "2026-11-22T05:00:00+00:00",
        "package_version": "0.1.0",
        "sources": [
            {
                "source_id": "cog_epci",
                "publisher": "INSEE",
                "vintage": "COG 2023",
                "path": "geo_cog/x.xlsx",
                "sha256": "ab" * 32,
            },
        ],
    }
    out = render_provenance(meta, {"region_code": "01"})
    assert "cog_epci" in out and "abababababab" in out and "COG 2023" in out
    assert "&#x27;01&#x27;" in out or "'01'" in out  # the code stays a string
