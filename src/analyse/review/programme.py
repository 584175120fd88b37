"""The programme's timeline and perimeters: milestones, and EPCI that entered, left or stayed."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyse import formatting as fmt
from analyse.review.page import Page, show_figure


def compare_perimeters(territory_members: pl.DataFrame) -> pl.DataFrame:
    """EPCI that entered, left or stayed between the phase-1 and phase-2 perimeters.

    One row per EPCI member of a territory in either phase: ``epci_siren``, ``grouping_name``,
    ``ti_id_phase1``, ``ti_id_phase2``, ``status`` (``stayed``, ``entered``, ``left``).
    Only groupings resolved to a COG EPCI are compared (others are in the quarantine table).
    """

    def members(phase: int) -> pl.LazyFrame:
        return (
            territory_members.lazy()
            .filter(pl.col("ti_phase") == phase)
            .group_by("epci_siren")
            .agg(
                pl.col("ti_id").sort().first().alias(f"ti_id_phase{phase}"),
                pl.col("grouping_name").first().alias(f"name_phase{phase}"),
            )
        )

    return (
        members(1)
        .join(members(2), on="epci_siren", how="full", coalesce=True)
        .select(
            "epci_siren",
            pl.coalesce("name_phase2", "name_phase1").alias("grouping_name"),
            "ti_id_phase1",
            "ti_id_phase2",
            pl.when(pl.col("ti_id_phase1").is_not_null() & pl.col("ti_id_phase2").is_not_null())
            .then(pl.lit("stayed"))
            .when(pl.col("ti_id_phase2").is_not_null())
            .then(pl.lit("entered"))
            .otherwise(pl.lit("left"))
            .alias("status"),
        )
        .sort("status", "epci_siren")
        .collect()
    )


def summarise_perimeter_changes(perimeters: pl.DataFrame) -> pl.DataFrame:
    """Counts of EPCI by status (``stayed``, ``entered``, ``left``), in that order."""
    order = pl.DataFrame({"status": ["stayed", "entered", "left"]})
    counts = perimeters.group_by("status").agg(pl.len().cast(pl.Int64).alias("n_epci"))
    return order.join(counts, on="status", how="left").with_columns(pl.col("n_epci").fill_null(0))


STATUS_LABELS = {
    "stayed": "Restés (membres en phase 1 et en phase 2)",
    "entered": "Entrés en phase 2",
    "left": "Sortis après la phase 1",
}


def render_perimeter_changes(page: Page) -> str:
    """HTML: territories per phase and EPCI that stayed, entered or left."""
    changes = summarise_perimeter_changes(compare_perimeters(page.core("territory_members")))
    territories = page.core("territories")
    n_ti = {p: territories.filter(pl.col("ti_phase") == p).height for p in (1, 2)}
    table = pl.DataFrame(
        {
            "Intercommunalités (EPCI)": [STATUS_LABELS[s] for s in changes["status"]],
            "Nombre": [fmt.format_int(n) for n in changes["n_epci"]],
        }
    )
    stayed, entered, left = (int(n) for n in changes["n_epci"])
    reading = (
        f"Lecture : {fmt.format_count(n_ti[1], 'territoire', 'territoires')} en phase 1, "
        f"{fmt.format_count(n_ti[2], 'territoire', 'territoires')} en phase 2 ; "
        f"{fmt.format_int(entered)} EPCI sont entrés dans le programme en phase 2, "
        f"{fmt.format_int(left)} l'ont quitté et {fmt.format_int(stayed)} y sont restés."
    )
    return page.table(
        table,
        "Évolution des périmètres entre la phase 1 (2018-2022) et la phase 2 (2023-2027)",
        source="Source : ANCT, périmètres des Territoires d'industrie ; INSEE, COG 2023.",
        champ="intercommunalités membres d'un Territoire d'industrie dans l'une des deux phases",
        reading=reading,
        note=(
            "Seuls les groupements rattachés à une intercommunalité du COG 2023 sont comparés ; "
            "les groupements non rattachés sont décomptés dans le tableau de qualité des données."
        ),
    )


MILESTONES_FILE = "published_programme_milestones.csv"


def read_milestones(snapshot_dir: Path | str | None) -> pl.DataFrame | None:
    """Programme milestones as announced (copied into each snapshot), or None if unavailable."""
    if snapshot_dir is None:
        return None
    path = Path(snapshot_dir) / MILESTONES_FILE
    if not path.is_file():
        return None
    return pl.read_csv(
        path,
        schema_overrides={"territories": pl.Int64, "amount_eur": pl.Float64},
        try_parse_dates=True,
    )


def prepare_timeline(milestones: pl.DataFrame) -> pl.DataFrame:
    """One row per date with the number of territories and a short French label."""
    return (
        milestones.filter(pl.col("territories").is_not_null())
        .group_by("date", maintain_order=True)
        .agg(pl.col("territories").last(), pl.col("event").first())
        .sort("date")
        .select(
            pl.col("date"),
            pl.col("territories").alias("n_territories"),
            pl.format(
                "{} territoires — {}",
                pl.col("territories"),
                pl.col("event").str.split(";").list.first().str.slice(0, 60),
            ).alias("label"),
        )
    )


def describe_timeline(milestones: pl.DataFrame) -> str:
    """One-line reading of the timeline, computed from the milestones."""
    rows = milestones.filter(pl.col("territories").is_not_null()).sort("date")
    first, last = rows.row(0, named=True), rows.row(-1, named=True)
    return (
        f"Lecture : {fmt.format_int(first['territories'])} territoires au "
        f"{fmt.format_date_fr(first['date'])}, {fmt.format_int(last['territories'])} au "
        f"{fmt.format_date_fr(last['date'])}."
    )


def render_members(page: Page, ti_id: str, ti_phase: int) -> str:
    """HTML list of a territory's member EPCI with their nature and number of communes."""
    members = (
        page.core("territory_members")
        .filter((pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == ti_phase))
        .join(
            page.core("epci").select("epci_siren", "epci_name", "epci_nature", "n_communes"),
            on="epci_siren",
            how="left",
        )
        .sort("epci_name")
    )
    table = pl.DataFrame(
        {
            "Intercommunalité": [
                n or g for n, g in zip(members["epci_name"], members["grouping_name"], strict=True)
            ],
            "SIREN": members["epci_siren"],
            "Nature": [NATURE_FR.get(n or "", n or "") for n in members["epci_nature"]],
            "Communes": [fmt.format_int(n) for n in members["n_communes"]],
        }
    )
    return page.table(
        table,
        f"Intercommunalités membres ({fmt.format_int(members.height)})",
        source="Source : ANCT, périmètres des Territoires d'industrie ; INSEE, COG 2023.",
        champ=f"groupements membres du territoire (phase {ti_phase}) rattachés au COG 2023",
    )


NATURE_FR = {
    "CC": "communauté de communes",
    "CA": "communauté d'agglomération",
    "CU": "communauté urbaine",
    "ME": "métropole",
    "METLYON": "Métropole de Lyon",
    "EPT": "établissement public territorial",
}


def render_milestones(page: Page, milestones: pl.DataFrame) -> str:
    """HTML table of the programme's milestones: territories and envelopes announced, with sources."""
    rows = milestones.sort("date")
    table = pl.DataFrame(
        {
            "Date": [fmt.format_date_fr(d) for d in rows["date"]],
            "Étape": rows["event"],
            "Territoires": [fmt.format_int(n) for n in rows["territories"]],
            "Enveloppe annoncée": [
                "—" if a is None else fmt.format_eur(a) for a in rows["amount_eur"]
            ],
            "Source": rows["source"],
        }
    )
    return page.table(
        table,
        "Jalons du programme : territoires et enveloppes annoncées",
        source="colonne « Source » (communiqués, ANCT)",
        champ="étapes publiques du programme, 2018-2023",
        note=(
            "Enveloppes annoncées = engagements, pas dépenses (le rapprochement avec les chiffres "
            "publiés met en regard les montants déployés relevés par la Cour des comptes)."
        ),
    )


def show_timeline(page: Page) -> None:
    """The timeline chart and the milestones table (when the milestones were published)."""
    from IPython.display import HTML, display

    from analyse import charts

    milestones = read_milestones(page.processed_dir)
    if milestones is None:
        display(HTML("<p class='analyse-note'>Chronologie non disponible.</p>"))
        return
    title = "Territoires labellisés au fil du programme"
    reading = describe_timeline(milestones)
    source = "Source : communiqués du programme (2018-2021), ANCT (périmètres publiés)."
    chart = charts.chart_timeline(
        prepare_timeline(milestones), title=title, reading=reading, source=source
    )
    show_figure(page, chart, title, reading=reading, source=source)
    display(HTML(render_milestones(page, milestones)))
