"""French display formats: numbers, euros, counts, intervals, dates, masked cells, tables."""

from __future__ import annotations

import datetime as dt
import math
import re

import polars as pl
import pytest

from analyse.errors import ParameterError
from analyse.formatting import (
    MASKED,
    MINUS,
    NBSP,
    NNBSP,
    NOT_AVAILABLE,
    format_count,
    format_date_fr,
    format_eur,
    format_int,
    format_interval,
    format_masked,
    format_number,
    format_pct,
    format_period,
    format_ratio,
    format_table,
    to_html_table,
)


def fr(text: str) -> str:
    """Write expected strings with visible marks: '_' = thin thousands space, '~' = no-break
    space before a unit, '-' before a digit = minus sign."""
    text = text.replace("_", NNBSP).replace("~", NBSP)
    return re.sub(r"-(?=\d)", MINUS, text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5.4e9, "5,4~Md€"),
        (5_449_000_000, "5,4~Md€"),
        (5_450_000_000, "5,5~Md€"),  # half up, not half even
        (573e6, "573~M€"),
        (572.5e6, "573~M€"),
        (57.34e6, "57,3~M€"),
        (1e6, "1,0~M€"),
        (999_950, "1,0~M€"),  # rounds up to the next scale, not "1 000 k€"
        (430_000, "430~k€"),
        (99_960, "100~k€"),  # 99,96 k€ rounds to 100 -> no decimal
        (99_940, "99,9~k€"),
        (12_345, "12,3~k€"),
        (10_000, "10,0~k€"),
        (9_999.6, "10,0~k€"),
        (9_999.4, "9_999~€"),
        (1_250, "1_250~€"),
        (999, "999~€"),
        (0, "0~€"),
        (0.0, "0~€"),
        (-0.4, "0~€"),  # no negative zero
        (-430_000, "-430~k€"),
        (-5.4e9, "-5,4~Md€"),
        (1_234_567_890_123, "1_235~Md€"),
        (None, NOT_AVAILABLE),
        (float("nan"), NOT_AVAILABLE),
    ],
)
def test_format_eur_auto_scale(value, expected):
    expected = expected if expected == NOT_AVAILABLE else fr(expected)
    assert format_eur(value) == expected


def test_format_eur_promotes_only_when_rounding_reaches_next_scale():
    # 999,5 k€ shown without decimal (>= 100) rounds to 1 000 k€ -> shown in M€ instead
    assert format_eur(999_500) == fr("1,0~M€")
    assert format_eur(999_499) == fr("999~k€")
    assert format_eur(999_999_999) == fr("1,0~Md€")
    assert format_eur(-999_950) == fr("-1,0~M€")


def test_format_eur_forced_unit_and_digits():
    assert format_eur(573e6, unit="Md€") == fr("0,6~Md€")
    assert format_eur(430_000, unit="M€", digits=2) == fr("0,43~M€")
    assert format_eur(1_250, unit="€") == fr("1_250~€")
    assert format_eur(5.4e9, digits=2) == fr("5,40~Md€")
    with pytest.raises(ParameterError, match="unit"):
        format_eur(1, unit="kEUR")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (27_250, "27_250"),
        (1_416, "1_416"),
        (999, "999"),
        (1_000_000, "1_000_000"),
        (27_249.5, "27_250"),
        (0.5, "1"),
        (-0.5, "-1"),  # half away from zero
        (-1_234, "-1_234"),
        (0, "0"),
    ],
)
def test_format_int(value, expected):
    assert format_int(value) == fr(expected)


def test_format_int_accepts_numpy_scalars():
    np = pytest.importorskip("numpy")
    assert format_int(np.int64(27250)) == fr("27_250")
    assert format_ratio(np.float64(9.44)) == "9,4"
    assert format_ratio(np.float32("nan")) == NOT_AVAILABLE


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (9.44, 1, "9,4"),
        (9.45, 1, "9,5"),  # 9.45 is 9.4499999... in binary; readers round the decimal text
        (0.125, 2, "0,13"),
        (2.675, 2, "2,68"),
        (9.96, 1, "10,0"),
        (-3.25, 1, "-3,3"),
        (-0.04, 1, "0,0"),
        (1234.5, 1, "1_234,5"),
        (3, 0, "3"),
    ],
)
def test_format_ratio_rounding(value, digits, expected):
    assert format_ratio(value, digits) == fr(expected)


def test_format_number_rejects_bad_input():
    with pytest.raises(ParameterError):
        format_number("douze")
    with pytest.raises(ParameterError):
        format_number(math.inf)
    with pytest.raises(ParameterError):
        format_number(True)
    with pytest.raises(ParameterError):
        format_number(1.0, digits=-1)


def test_format_pct():
    assert format_pct(12.5) == fr("12,5~%")
    assert format_pct(7) == fr("7,0~%")
    assert format_pct(-0.25, 2) == fr("-0,25~%")
    assert format_pct(None) == NOT_AVAILABLE


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (27_250, "27_250~emplois"),
        (1, "1~projet"),
        (0, "0~projet"),  # French: singular below 2
        (2, "2~projets"),
        (1_416, "1_416~projets"),
        (1.5, "1,5~projet"),
    ],
)
def test_format_count(n, expected):
    noun = ("emploi", "emplois") if "emploi" in expected else ("projet", "projets")
    assert format_count(n, *noun) == fr(expected)


def test_format_count_missing():
    assert format_count(None, "projet", "projets") == NOT_AVAILABLE


def test_format_interval():
    assert format_interval(8.1, 10.7) == fr("[8,1~; 10,7]")
    assert format_interval(8.06, 10.74, format_ratio) == fr("[8,1~; 10,7]")
    assert format_interval(-0.31, 0.2, lambda v: format_ratio(v, 2)) == fr("[-0,31~; 0,20]")
    assert format_interval(None, 3.0) == fr("[n.d.~; 3,0]")
    assert format_interval(1e6, 2.5e6, format_eur) == fr("[1,0~M€~; 2,5~M€]")


def test_format_masked_never_zero():
    assert format_masked(0, True) == MASKED
    assert format_masked(None, True) == MASKED
    assert format_masked(12, True) == MASKED
    assert format_masked(0, False) == "0"
    assert format_masked(None, False) == NOT_AVAILABLE
    assert format_masked(430_000, None, format_eur) == fr("430~k€")


def test_format_date_fr():
    assert format_date_fr(dt.date(2018, 11, 22)) == fr("22~novembre 2018")
    assert format_date_fr(dt.date(2019, 3, 1)) == fr("1er~mars 2019")
    assert format_date_fr(dt.datetime(2021, 8, 15, 10, 30)) == fr("15~août 2021")
    assert format_date_fr("2023-02-01") == fr("1er~février 2023")
    assert format_date_fr(None) == NOT_AVAILABLE
    with pytest.raises(ParameterError):
        format_date_fr("22/11/2018")


def test_format_period():
    assert format_period("2018-T4") == fr("4e~trimestre 2018")
    assert format_period("2019-T1") == fr("1er~trimestre 2019")
    assert format_period(None) == NOT_AVAILABLE
    for bad in ("2018-Q4", "2018-T5", "2018T4", 2018):
        with pytest.raises(ParameterError):
            format_period(bad)


def test_format_table_formats_masks_and_labels():
    df = pl.DataFrame(
        {
            "ti_name": ["Lacq", None],
            "aid_eur": [573e6, None],
            "jobs_created": [27_250, 0],
            "jobs_is_masked": [False, True],
            "leverage": [9.44, float("nan")],
            "decision_date": [dt.date(2021, 10, 1), None],
        }
    )
    out = format_table(
        df,
        {"aid_eur": format_eur, "leverage": format_ratio},
        masks={"jobs_created": "jobs_is_masked"},
        labels={"ti_name": "Territoire", "aid_eur": "Aide"},
    )
    assert out.columns == ["Territoire", "Aide", "jobs_created", "leverage", "decision_date"]
    assert all(dtype == pl.String for dtype in out.schema.values())
    assert out.row(0) == ("Lacq", fr("573~M€"), fr("27_250"), "9,4", fr("1er~octobre 2021"))
    # masked zero shows "s", never "0"; missing values show n.d.
    assert out.row(1) == (NOT_AVAILABLE, NOT_AVAILABLE, MASKED, NOT_AVAILABLE, NOT_AVAILABLE)


def test_format_table_unknown_column():
    with pytest.raises(ParameterError, match="not in the table"):
        format_table(pl.DataFrame({"a": [1]}), {"b": format_int})


def test_to_html_table_escapes_and_marks():
    df = pl.DataFrame(
        {"Territoire": ["<script>alert(1)</script>", "Lacq & Orthez"], "Emplois": ["27 250", "s"]}
    )
    html = to_html_table(df, caption="Emplois <annoncés>", source="ANCT", reading="Lecture : x")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Lacq &amp; Orthez" in html
    assert "<caption>Emplois &lt;annoncés&gt;</caption>" in html
    assert f"Source{NBSP}: ANCT" in html
    assert f"Lecture{NBSP}: x" in html
    assert '<abbr title="secret statistique">s</abbr>' in html
    assert "s : secret statistique" in html
    # numeric column right-aligned, text column not
    assert '<td class="num"><abbr' in html
    assert '<td class="num">27 250</td>' in html
    assert '<th scope="row">Lacq &amp; Orthez</th>' in html  # the first column heads its row


def test_to_html_table_numbers_annotates_and_links():
    df = pl.DataFrame({"Région": ["Corse", "Bretagne"], "Aide": ["s", f"12,3{NBSP}M€"]})
    html = to_html_table(
        df,
        caption="Aide",
        source="s",
        champ="projets lauréats",
        number=3,
        cells={"Aide": [("region_code=94", "aid_eur"), ("region_code=53", "aid_eur")]},
        links={"Région": ["regions/94.html", None]},
    )
    assert "<caption>Tableau 3 – Aide</caption>" in html
    assert f"Champ{NBSP}: projets lauréats" in html
    assert '<span data-cell="region_code=94" data-measure="aid_eur"><abbr' in html
    assert '<a href="regions/94.html">Corse</a>' in html


def test_parse_printed_inverts_the_formatters():
    from analyse.formatting import format_eur, parse_printed, printed_value

    for value in (12.34e6, 573e6, 5.4e9, 430e3, 1250.0, 0.0):
        low, high = parse_printed(format_eur(value))
        assert low <= value <= high
    assert parse_printed(f"1{NNBSP}416") == (1415.5, 1416.5)
    assert parse_printed("9,4") == pytest.approx((9.35, 9.45))
    assert parse_printed(f"{MINUS}0,05") == pytest.approx((-0.055, -0.045))
    assert printed_value(f"12,3{NBSP}M€") == pytest.approx(12.3e6)
    assert parse_printed("s") is None and parse_printed("n.d.") is None
    assert parse_printed("Corse") is None


def test_to_html_table_formats_raw_frames_and_limits_size():
    html = to_html_table(pl.DataFrame({"n": [1250, None]}), caption="c", source="Source : s")
    assert f"1{NNBSP}250" in html
    assert "n.d. : non disponible" in html
    assert f"Source{NBSP}: s" in html and "Source : Source" not in html
    with pytest.raises(ParameterError, match="max_rows"):
        to_html_table(pl.DataFrame({"n": list(range(10))}), caption="c", source="s", max_rows=5)
