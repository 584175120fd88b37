"""Normalisation expressions against the values real French files contain."""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import polars as pl
import pytest

from analyse.normalise import (
    clean_digits,
    departement_from_postal_code,
    extract_siren,
    extract_siret,
    is_missing_value,
    is_valid_luhn,
    is_valid_siren,
    is_valid_siret,
    match_commune_by_name,
    normalise_commune_insee,
    normalise_departement_code,
    normalise_epci_siren,
    normalise_insee_code,
    normalise_name,
    normalise_postal_code,
    normalise_region_code,
    normalise_text,
    number_of_plain,
    parse_amount,
    parse_date,
    parse_number,
    plain_identifier,
    plain_number,
    plain_text,
    siren_of_plain,
    siret_of_plain,
    unescape_html,
)


def apply(expr_fn, values, dtype=pl.String, **kwargs):
    """Apply an expression builder to a one-column frame and return the results as a list."""
    df = pl.DataFrame({"v": values}, schema={"v": dtype})
    return df.select(expr_fn(pl.col("v"), **kwargs).alias("out"))["out"].to_list()


# ---------------------------------------------------------------------------- INSEE codes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "01"),
        ("01", "01"),
        ("1.0", "01"),
        ("01.0", "01"),
        ("001", "01"),
        (" 42 ", "42"),
        ("971", "971"),
        ("971.0", "971"),
        ("976", "976"),
        ("2A", "2A"),
        ("2a", "2A"),
        ("2b", "2B"),
        ("2 B", "2B"),
        ("01 - Ain", "01"),
        ("2A - Corse-du-Sud", "2A"),
        ("20", None),  # Corsica before 1976: 2A or 2B, not guessed
        ("00", None),
        ("96", None),
        ("97", None),
        ("977", None),  # Saint-Barthélemy is a COM, not a département
        ("988", None),
        ("Ain", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_departement_code(raw, expected):
    assert apply(normalise_departement_code, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01001", "01001"),
        ("1001", "01001"),  # leading zero lost in a numeric cell
        ("1001.0", "01001"),
        ("2A004", "2A004"),
        ("2a004", "2A004"),
        ("97101", "97101"),
        (" 75056 ", "75056"),
        ("750560", None),
        ("101", None),
        ("2C004", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_commune_insee(raw, expected):
    assert apply(normalise_commune_insee, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", "01"), ("84.0", "84"), ("84", "84"), ("06", "06"), ("123", None), ("R84", None)],
)
def test_normalise_region_code(raw, expected):
    assert apply(normalise_region_code, [raw]) == [expected]


def test_normalise_insee_code_width():
    assert apply(normalise_insee_code, ["7", "12.0", "12345"], width=4) == ["0007", "0012", None]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("200069193", "200069193"),
        ("200 069 193", "200069193"),
        ("200069193.0", "200069193"),
        ("ZZZZZZZZZ", "ZZZZZZZZZ"),
        ("zzzzzzzzz", "ZZZZZZZZZ"),
        ("20006919", None),
        ("2.00069193E+8", None),
    ],
)
def test_normalise_epci_siren(raw, expected):
    assert apply(normalise_epci_siren, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "postal", "departement"),
    [
        ("42000", "42000", "42"),
        ("1000", "01000", "01"),
        ("1000.0", "01000", "01"),
        ("97122", "97122", "971"),
        ("20000", "20000", "2A"),
        ("20167", "20167", "2A"),
        ("20200", "20200", "2B"),
        ("20600", "20600", "2B"),
        ("20500", "20500", None),
        ("98000", "98000", None),  # Monaco
        ("ABC", None, None),
    ],
)
def test_postal_codes(raw, postal, departement):
    assert apply(normalise_postal_code, [raw]) == [postal]
    assert apply(departement_from_postal_code, [raw]) == [departement]


# ---------------------------------------------------------------------------- SIREN / SIRET


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("552100554", "552100554"),
        ("552 100 554", "552100554"),
        ("552\u00a0100\u00a0554", "552100554"),
        ("552.100.554", "552100554"),
        ("552100554.0", "552100554"),
        ("552-100-554", "552100554"),
        ("5.52100554E+8", None),
        ("SIREN552", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_digits(raw, expected):
    assert apply(clean_digits, [raw]) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", True),
        ("18", True),
        ("79927398713", True),  # textbook Luhn example
        ("79927398710", False),
        ("552100554", True),
        ("552100555", False),
        ("73282932000074", True),
        ("73282932000075", False),
        ("35600000000048", True),  # La Poste head office follows Luhn
        ("35600000012345", False),  # other La Poste SIRETs do not (see is_valid_siret)
        ("12a", False),
        ("", False),
        (None, None),
    ],
)
def test_is_valid_luhn(raw, expected):
    assert apply(is_valid_luhn, [raw]) == [expected]


def test_is_valid_luhn_rejects_longer_than_max_length():
    assert apply(is_valid_luhn, ["79927398713"], max_length=10) == [False]


@pytest.mark.parametrize(
    ("raw", "siren_ok", "siret_ok"),
    [
        ("552100554", True, False),
        ("000000000", False, False),  # passes Luhn but is no SIREN
        ("55210055400013", False, True),
        ("35600000000048", False, True),
        ("35600000000056", False, True),  # La Poste: digit sum 25, multiple of 5, not Luhn
        ("35600000000049", False, False),
        ("73282932000075", False, False),
    ],
)
def test_is_valid_siren_and_siret(raw, siren_ok, siret_ok):
    assert apply(is_valid_siren, [raw]) == [siren_ok]
    assert apply(is_valid_siret, [raw]) == [siret_ok]


@pytest.mark.parametrize(
    ("raw", "siren", "siret"),
    [
        ("552100554", "552100554", None),
        ("552 100 554", "552100554", None),
        ("552.100.554", "552100554", None),
        ("552100554.0", "552100554", None),
        ("55210055400013", "552100554", "55210055400013"),
        ("552 100 554 00013", "552100554", "55210055400013"),
        ("55210055400013.0", "552100554", "55210055400013"),
        ("5.52100554E+13", None, None),  # scientific notation: digits lost
        ("5,521E+13", None, None),
        ("73282932000075", "732829320", None),  # bad NIC: SIREN still valid, SIRET not
        ("35600000000056", "356000000", "35600000000056"),  # La Poste
        ("552100555", None, None),  # bad checksum
        ("5521005540001", None, None),  # 13 digits that are not a zero-stripped SIRET
        ("12345", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_extract_siren_and_siret(raw, siren, siret):
    assert apply(extract_siren, [raw]) == [siren]
    assert apply(extract_siret, [raw]) == [siret]


def test_extract_restores_leading_zeros_of_numeric_cells():
    # 005 420 120 (Luhn-valid) stored as a number loses its zeros; padding is only tried on
    # bare numbers, and the checksum must still hold
    assert apply(is_valid_siren, ["005420120"]) == [True]
    assert apply(extract_siren, ["5420120", "5420120.0", "5 420 120"]) == [
        "005420120",
        "005420120",
        None,
    ]
    assert apply(extract_siren, ["552100554"], validate=False) == ["552100554"]
    assert apply(extract_siren, ["552100555"], validate=False) == ["552100555"]


# ---------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        ("1234", {}, 1234.0),
        ("1 234,56", {}, 1234.56),
        ("1\u00a0234,56", {}, 1234.56),  # non-breaking space
        ("1\u202f234\u202f567", {}, 1234567.0),  # narrow no-break space (Excel FR, Python fr)
        ("1.234,56", {}, 1234.56),
        ("1,234.56", {"decimal": ".", "thousands": ","}, 1234.56),
        ("1,234.56", {}, 1234.56),  # both marks: the rightmost is decimal
        ("1,234", {"decimal": ".", "thousands": ","}, 1234.0),
        ("1,234", {}, 1.234),
        ("1.234", {"thousands": "."}, 1234.0),
        ("1.234.567", {"thousands": "."}, 1234567.0),
        ("1.5", {}, 1.5),  # numeric spreadsheet cell in a decimal-comma file
        ("1,234,567", {"decimal": "."}, 1234567.0),
        ("0,5", {}, 0.5),
        (",5", {}, 0.5),
        ("1.5E+06", {}, 1.5e6),
        ("12", {"unit": "kEUR"}, 12000.0),
        ("1,5", {"unit": "MEUR"}, 1.5e6),
        ("12 k€", {}, 12000.0),
        ("12 K€", {}, 12000.0),
        ("12k€", {"unit": "MEUR"}, 12000.0),  # unit in the cell overrides the column unit
        ("1,5 M€", {}, 1.5e6),
        ("3 MEUR", {}, 3e6),
        ("3 M EUR", {}, 3e6),
        ("2 Md€", {}, 2e9),
        ("250 €", {"unit": "kEUR"}, 250.0),
        ("250 EUR", {"unit": "kEUR"}, 250.0),
        ("250 euros", {}, 250.0),
        ("€250", {"unit": "kEUR"}, 250.0),
        ("-12", {}, -12.0),
        ("\u221212", {}, -12.0),  # Unicode minus sign
        ("(1 234,5)", {}, -1234.5),
        ("-12 k€", {}, -12000.0),
        ("", {}, None),
        ("  ", {}, None),
        ("-", {}, None),
        ("NC", {}, None),
        ("n/a", {}, None),
        (None, {}, None),
        ("abc", {}, None),
        ("12k", {}, None),
        ("1.2.3", {}, None),
        ("1,2.3", {}, None),
        ("(-3)", {}, None),
        ("€", {}, None),
        ("12 345 / 2", {}, None),
    ],
)
def test_parse_amount(raw, kwargs, expected):
    (got,) = apply(parse_amount, [raw], **kwargs)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_parse_amount_rejects_bad_configuration():
    with pytest.raises(ValueError, match="both"):
        parse_amount(pl.col("v"), decimal=",", thousands=",")
    with pytest.raises(ValueError, match="unit"):
        parse_amount(pl.col("v"), unit="GBP")  # type: ignore[arg-type]


def test_parse_number_has_no_units():
    assert apply(parse_number, ["12,5", "1 200", "12 €", "x"]) == [12.5, 1200.0, None, None]


@pytest.mark.parametrize(
    ("raw", "missing"),
    [("", True), (" ", True), ("-", True), ("NC", True), ("n.c.", True), ("N/A", True),
     (None, True), ("0", False), ("abc", False), ("12", False)],
)  # fmt: skip
def test_is_missing_value(raw, missing):
    assert apply(is_missing_value, [raw]) == [missing]


# ---------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-03-23", dt.date(2021, 3, 23)),
        ("23/03/2021", dt.date(2021, 3, 23)),
        ("23-03-2021", dt.date(2021, 3, 23)),
        ("2021/03/23", dt.date(2021, 3, 23)),
        ("23/03/21", dt.date(2021, 3, 23)),
        ("1/2/2021", dt.date(2021, 2, 1)),  # day first
        ("23.03.2021", dt.date(2021, 3, 23)),
        ("44197", dt.date(2021, 1, 1)),  # Excel serial
        ("44278.0", dt.date(2021, 3, 23)),
        ("44278.75", dt.date(2021, 3, 23)),
        ("2021-03-23T00:00:00", dt.date(2021, 3, 23)),
        ("2021-03-23T14:05:00+01:00", dt.date(2021, 3, 23)),
        ("2021-03-23 00:00:00", dt.date(2021, 3, 23)),  # Excel date cell read as text
        ("23/03/2021 14:05", dt.date(2021, 3, 23)),
        (" 2021-03-23 ", dt.date(2021, 3, 23)),
        ("31/02/2021", None),
        ("2021", None),
        ("hier", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(raw, expected):
    assert apply(parse_date, [raw]) == [expected]


def test_parse_date_custom_formats_and_no_serial():
    assert apply(
        parse_date, ["03/23/2021", "44197"], formats=("%m/%d/%Y",), excel_serial=False
    ) == [
        dt.date(2021, 3, 23),
        None,
    ]


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Saint-Étienne", "SAINT ETIENNE"),
        ("ST ETIENNE", "SAINT ETIENNE"),
        ("St-Étienne", "SAINT ETIENNE"),
        ("saint etienne", "SAINT ETIENNE"),
        ("Sainte-Foy-lès-Lyon", "SAINTE FOY LES LYON"),
        ("Ste Foy les Lyon", "SAINTE FOY LES LYON"),
        ("L'Abergement-Clémenciat", "L ABERGEMENT CLEMENCIAT"),
        ("L’ABERGEMENT-CLÉMENCIAT", "L ABERGEMENT CLEMENCIAT"),
        ("ABERGEMENT-CLEMENCIAT (L')", "L ABERGEMENT CLEMENCIAT"),
        ("Rochelle (La)", "LA ROCHELLE"),
        ("Le Havre", "LE HAVRE"),
        ("Œuilly", "OEUILLY"),
        ("Vœuil-et-Giget", "VOEUIL ET GIGET"),
        ("Laà-Mondrans", "LAA MONDRANS"),
        ("Stella-Plage", "STELLA PLAGE"),  # ST only as a whole word
        ("Estrées-Saint-Denis", "ESTREES SAINT DENIS"),
        ("  Paris\u00a0 ", "PARIS"),
        ("Bourg--en--Bresse", "BOURG EN BRESSE"),
        ("", None),
        ("  - ", None),
        (None, None),
    ],
)
def test_normalise_name(raw, expected):
    assert apply(normalise_name, [raw]) == [expected]


COMMUNES = pl.DataFrame(
    {
        "commune_insee": ["42218", "01001", "69123", "75056", "01002", "01003", "19021"],
        "commune_name": [
            "Saint-Étienne",
            "L'Abergement-Clémenciat",
            "Lyon",
            "Paris",
            "Beaulieu",
            "Beaulieu",  # hand-made ambiguity: two Beaulieu in 01
            "Beaulieu",
        ],
        "departement_code": ["42", "01", "69", "75", "01", "01", "19"],
    }
)


def test_match_commune_by_name():
    df = pl.DataFrame(
        {
            "commune_insee": [None, None, "99999", None, None, None, None, None, None, None],
            "commune_name": [
                "ST ETIENNE",
                "l’abergement clemenciat",
                "Saint-Étienne",
                "Beaulieu",
                "Beaulieu",
                "Lyon 3e Arrondissement",
                "PARIS 08",
                "LYON CEDEX 07",
                "Atlantis",
                None,
            ],
            "departement_code": ["42", "01", "42", "01", "19", "69", "75", "69", "42", "42"],
        }
    )
    out = match_commune_by_name(df.lazy(), COMMUNES.lazy()).collect()
    assert out.height == df.height
    assert out["commune_insee"].to_list() == [
        "42218",
        "01001",
        "99999",  # a given code is left untouched
        None,  # ambiguous: not guessed
        "19021",  # same name, other département: unique there
        "69123",
        "75056",
        "69123",
        None,
        None,
    ]
    assert out["commune_match"].to_list() == [
        "name",
        "name",
        "code",
        "ambiguous",
        "name",
        "name",
        "name",
        "name",
        "unmatched",
        "missing",
    ]


def test_match_commune_by_name_creates_code_column_and_keeps_order():
    df = pl.DataFrame({"nom": ["Lyon", "Saint-Etienne", "Lyon"], "dep": ["69", "42", "42"]})
    out = match_commune_by_name(
        df.lazy(), COMMUNES.lazy(), name_col="nom", departement_col="dep", status_col="s"
    ).collect()
    assert out.columns == ["nom", "dep", "commune_insee", "s"]
    assert out["commune_insee"].to_list() == ["69123", "42218", None]
    assert out["s"].to_list() == ["name", "name", "unmatched"]


def test_match_commune_by_name_on_real_cog(reference_raw):
    path = reference_raw / "geo_cog" / "Intercommunalite_Metropole_au_01-01-2023.xlsx"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    cog = pl.read_excel(
        path,
        sheet_name="Composition_communale",
        read_options={"header_row": 5},
        infer_schema_length=0,
    ).select(
        pl.col("CODGEO").alias("commune_insee"),
        pl.col("LIBGEO").alias("commune_name"),
        pl.col("DEP").alias("departement_code"),
    )
    assert cog.height > 34_000
    queries = pl.DataFrame(
        {
            "commune_name": [
                "SAINT-ETIENNE",
                "St Étienne",
                "L'ABERGEMENT CLEMENCIAT",
                "Abergement-Clémenciat (L')",
                "Beaulieu",
                "Beaulieu",
                "Marseille 8e",
                "Saint-Etienne",
            ],
            "departement_code": ["42", "42", "01", "01", "15", "63", "13", "01"],
        }
    )
    out = match_commune_by_name(queries.lazy(), cog.lazy()).collect()
    codes = out["commune_insee"].to_list()
    assert codes[:4] == ["42218", "42218", "01001", "01001"]
    # the same name in two départements resolves to two different communes
    expected_15 = cog.filter(
        (pl.col("commune_name") == "Beaulieu") & (pl.col("departement_code") == "15")
    )
    expected_63 = cog.filter(
        (pl.col("commune_name") == "Beaulieu") & (pl.col("departement_code") == "63")
    )
    assert codes[4] == expected_15["commune_insee"].item()
    assert codes[5] == expected_63["commune_insee"].item()
    assert codes[6] == "13055"
    assert out["commune_match"][7] == "unmatched"  # no plain "Saint-Étienne" in the Ain
    # INSEE names are unique within a département even after normalisation: nothing ambiguous
    keys = cog.select(normalise_name(pl.col("commune_name")).alias("k"), "departement_code")
    assert keys.height == keys.unique().height


# ---------------------------------------------------------------------------- text and entities

ENTITIES = [
    "Forges &amp; Fils", "d&#39;une", "d&#039;une", "L&#x27;Atelier", "&#X2019;", "&eacute;t&eacute;",
    "&Eacute;", "&amp;lt;", "&amp", "&ampx", "&notit;", "&#0;", "&#x110000;", "&#128;", "&;",
    "& seul", "a&&b", "&unknown;", "&nbsp;x&NBSP;", "&lt&gt", "sans entité", None, "",
]  # fmt: skip


def test_unescape_html_matches_html_unescape():
    got = apply(unescape_html, ENTITIES)
    assert got == [None if v is None else html.unescape(v) for v in ENTITIES]


def test_unescape_html_leaves_the_source_column_alone():
    df = pl.DataFrame({"v": ["a &amp; b", "c"]})
    out = df.select(unescape_html(pl.col("v")).alias("u"))
    assert df["v"].to_list() == ["a &amp; b", "c"] and out["u"].to_list() == ["a & b", "c"]


def test_normalise_text():
    values = [" Forges\u00a0&amp;\u202fFils ", "&nbsp;", "", None, "x\ny", "\tM&eacute;tal "]
    assert apply(normalise_text, values) == ["Forges & Fils", None, None, None, "x\ny", "Métal"]


# ---------------------------------------------------------------------------- fast paths


def _random_cells(seed: int, n: int = 4000) -> list[str | None]:
    """Cells of every shape: plain numbers and identifiers, and everything else around them."""
    rng = np.random.default_rng(seed)
    pieces = ["0", "1", "5", "9", "12", "552100554", "55210055400013", "356000000", " ",
              "\u00a0", "\u202f", ",", ".", "-", "(", ")", "€", "k€", "e3", "NC", "n.c.",
              "&amp;", "\t", "A", "é", ""]  # fmt: skip
    cells: list[str | None] = [None, "", " ", "1 ,5", "12,", ",5", "0,0", "1 234 567,89"]
    for _ in range(n):
        k = int(rng.integers(1, 5))
        cells.append("".join(rng.choice(pieces, size=k)))
    cells += [str(int(x)) for x in rng.integers(0, 10**9, size=300)]
    cells += [f"{int(x):09d}" for x in rng.integers(0, 10**9, size=300)]
    cells += [f"{int(x):014d}" for x in rng.integers(0, 10**14, size=300, dtype=np.int64)]
    cells += [f"356000000{int(x):05d}" for x in rng.integers(0, 10**5, size=200)]
    return cells


@pytest.mark.parametrize("decimal", [",", "."])
@pytest.mark.parametrize("unit", ["EUR", "kEUR", "MEUR"])
def test_number_fast_path_equals_parse_amount_on_plain_cells(decimal, unit):
    thousands = " "
    df = pl.DataFrame({"v": _random_cells(1)}, schema={"v": pl.String})
    out = df.select(
        plain_number(pl.col("v"), decimal).alias("plain"),
        number_of_plain(pl.col("v"), decimal, unit).alias("fast"),
        parse_amount(pl.col("v"), unit, decimal, thousands).alias("full"),
        parse_number(pl.col("v"), decimal, thousands).alias("number"),
        number_of_plain(pl.col("v"), decimal).alias("fast_number"),
        is_missing_value(pl.col("v")).alias("missing"),
    ).filter("plain")
    assert out.height > 500
    assert out["fast"].equals(out["full"]) and out["fast_number"].equals(out["number"])
    assert (
        out["missing"].to_list()
        == df.filter(plain_number(pl.col("v"), decimal))["v"].is_null().to_list()
    )


def test_identifier_fast_path_equals_extract_on_plain_cells():
    df = pl.DataFrame({"v": _random_cells(2)}, schema={"v": pl.String})
    out = df.select(
        plain_identifier(pl.col("v")).alias("plain"),
        siren_of_plain(pl.col("v")).alias("fast_siren"),
        siret_of_plain(pl.col("v")).alias("fast_siret"),
        extract_siren(pl.col("v")).alias("siren"),
        extract_siret(pl.col("v")).alias("siret"),
    ).filter("plain")
    assert out.height > 1000
    assert out["fast_siren"].equals(out["siren"]) and out["fast_siret"].equals(out["siret"])
    assert out["siren"].drop_nulls().len() > 100 and out["siret"].drop_nulls().len() > 10


def test_text_fast_path_equals_normalise_text_on_plain_cells():
    df = pl.DataFrame({"v": _random_cells(3) + ENTITIES}, schema={"v": pl.String})
    out = df.select(
        plain_text(pl.col("v")).alias("plain"), normalise_text(pl.col("v")).alias("full"), "v"
    ).filter("plain")
    assert out.height > 1000 and out["v"].equals(out["full"])
    assert not df.select(plain_text(pl.col("v"))).to_series().all()  # "", " x", "&amp;"...
