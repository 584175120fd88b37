"""Maps of a page: territories over the real région outlines, coloured by a published value."""

from __future__ import annotations

import polars as pl

from analyse.review import fund
from analyse.review.page import Page, show_figure

#: The région outlines copied into each snapshot by ``analyse clean`` (from data/raw/outlines).
OUTLINES_FILE = "outlines_france_regions.geojson"
#: The published measure a map shows (the chart data carries it under this name, by cell).
VALUE = fund.HEADLINE_METRIC
SOURCE_MAP = (
    "Source : ANCT, périmètres des Territoires d'industrie ; Natural Earth, contours des régions."
)


def outlines(page: Page) -> pl.DataFrame | None:
    """The région outlines of the page's snapshot (None when absent: maps draw territories only)."""
    from analyse.charts.maps import read_outlines

    path = page.processed_dir / OUTLINES_FILE
    return read_outlines(path) if path.is_file() else None


def _shapes(page: Page, phase: int) -> pl.DataFrame:
    return page.core("territory_shapes").filter(pl.col("ti_phase") == phase)


def _with_values(page: Page, shapes: pl.DataFrame, phase: int) -> pl.DataFrame:
    """Shapes with the whole territory's published leverage (printed value) and its cell key."""
    frame = fund.breakdown(page, [f"ti_p{phase}"]) if page.has_fund_extract else None
    if frame is None or frame.height == 0:
        return shapes.with_columns(
            pl.lit(None, pl.Float64).alias(VALUE), pl.lit(False).alias("is_masked"),
            pl.lit(None, pl.String).alias("cell"), pl.lit(None, pl.String).alias("printed"),
        )  # fmt: skip
    values = frame.select(
        pl.col(f"ti_p{phase}").alias("ti_id"),
        pl.col(f"{fund.HEADLINE_METRIC}__shown").alias(VALUE),
        "is_masked",
        pl.col("cell_key").alias("cell"),
        pl.col(fund.HEADLINE_METRIC).alias("printed"),
    )
    return shapes.join(values, on="ti_id", how="left").with_columns(
        pl.col("is_masked").fill_null(False)
    )


def map_data(shapes: pl.DataFrame, *, highlight: str | None = None) -> tuple[pl.DataFrame, dict]:
    """A map's data table (its alternative for readers who cannot see it): each territory with
    the value the map shows, as printed and keyed by the same cell as the map."""
    shapes = shapes.sort("ti_name")
    data: dict[str, list[str]] = {"Territoire": shapes["ti_name"].to_list()}
    cells: dict[str, list] = {}
    if highlight is not None:
        data["Sur la carte"] = [
            "le territoire de cette fiche" if t == highlight else "autre territoire de la région"
            for t in shapes["ti_id"]
        ]
    if "cell" in shapes.columns:
        title = "€ investis par € d'aide"
        data[title] = [
            p if c is not None else "aucun projet"
            for p, c in zip(shapes["printed"], shapes["cell"], strict=True)
        ]
        cells[title] = [(c, VALUE) if c is not None else None for c in shapes["cell"]]
    return pl.DataFrame(data), cells


def show_national_map(page: Page, *, phase: int) -> None:
    """All territories of a phase, coloured by investment per euro of aid."""
    from analyse import charts

    shapes = _with_values(page, _shapes(page, phase), phase)
    n_shown = shapes.filter(pl.col(VALUE).is_not_null()).height
    title = f"Investissement annoncé par euro d'aide, par Territoire d'industrie (phase {phase})"
    reading = (
        f"Lecture : {shapes.height} territoires ; couleur : € d'investissement annoncés par € "
        f"d'aide, publiée pour {n_shown} d'entre eux (gris : secret statistique ; blanc : aucun "
        "projet)."
    )
    chart = charts.chart_territory_map(
        shapes, VALUE, title=title, reading=reading, source=SOURCE_MAP, masked="is_masked",
        value_title="€ investis par € d'aide", outlines=outlines(page),
    )  # fmt: skip
    data, cells = map_data(shapes)
    show_figure(
        page, chart, title, champ=fund.CHAMP_FUND, reading=reading, source=SOURCE_MAP,
        data=data, data_cells=cells,
    )  # fmt: skip


def show_region_map(page: Page, region_code: str, *, phase: int) -> None:
    """A région's territories of a phase over the région's outline."""
    from analyse import charts

    shapes = _with_values(
        page, _shapes(page, phase).filter(pl.col("region_code") == region_code), phase
    )
    if shapes.height == 0:
        return
    title = f"Territoires d'industrie de la région (phase {phase})"
    reading = (
        f"Lecture : {shapes.height} territoires ; couleur : € d'investissement annoncés par € "
        "d'aide pour l'ensemble du territoire (gris : secret statistique ; blanc : aucun projet)."
    )
    chart = charts.chart_territory_map(
        shapes, VALUE, title=title, reading=reading, source=SOURCE_MAP, masked="is_masked",
        value_title="€ investis par € d'aide", outlines=outlines(page), region=region_code,
    )  # fmt: skip
    data, cells = map_data(shapes)
    show_figure(
        page, chart, title, champ=fund.CHAMP_FUND, reading=reading, source=SOURCE_MAP,
        data=data, data_cells=cells,
    )  # fmt: skip


def show_territory_map(page: Page, ti_id: str, region_code: str, *, phase: int) -> None:
    """One territory outlined among the territories of its région."""
    from analyse import charts

    shapes = _shapes(page, phase).filter(pl.col("region_code") == region_code)
    if shapes.filter(pl.col("ti_id") == ti_id).height == 0:
        return
    title = "Le territoire parmi les territoires de sa région"
    reading = (
        "Lecture : contour rouge : le territoire ; en gris, les autres territoires de la région."
    )
    chart = charts.chart_territory_map(
        shapes, None, ti_id, title=title, reading=reading, source=SOURCE_MAP,
        outlines=outlines(page), region=region_code,
    )  # fmt: skip
    data, _ = map_data(shapes, highlight=ti_id)
    show_figure(page, chart, title, reading=reading, source=SOURCE_MAP, data=data)
