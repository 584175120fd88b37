"""Reconciliation of micro-data aggregates with the fund's published figures.

Published figures (``fund_announcements.csv``: press releases, press, Cour des comptes) are
*announcements*: ex-ante declarations by beneficiaries, at a given date, with job counts defined
differently from one source to the next. They are read here only to be compared with our
aggregates, never used as inputs to any estimate. Each published figure becomes one row with our
aggregate on the same perimeter (nation or région) and cut-off date, the gap, and a
``definition_note`` (in French, for the report) explaining which differences of definition the
gap may come from.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl

from analyse.errors import InputFileError, ParameterError
from analyse.estimate.leverage import Projects
from analyse.paths import get_published_dir
from analyse.reference import REGION_NAMES
from analyse.sources import get_source

#: Columns of ``fund_announcements.csv``, as the source registry declares them.
PUBLISHED_COLUMNS = get_source("published_announcements").columns

#: Published column -> (our measure, unit).
MEASURES: dict[str, tuple[str, str]] = {
    "projects": ("n_projects", "projets"),
    "aid_eur": ("aid_eur", "EUR"),
    "investment_eur": ("investment_eur", "EUR"),
    "jobs_created": ("jobs_created", "emplois"),
    "jobs_maintained": ("jobs_maintained", "emplois"),
}

_REGION_CODES = {name.casefold(): code for code, name in REGION_NAMES.items()}

OUTPUT_SCHEMA = {
    "date": pl.Date,
    "scope": pl.String,
    "region": pl.String,
    "region_code": pl.String,
    "measure": pl.String,
    "unit": pl.String,
    "published_value": pl.Float64,
    "our_value_at_date": pl.Float64,
    "our_value_all": pl.Float64,
    "gap_abs": pl.Float64,
    "gap_pct": pl.Float64,
    "n_projects_at_date": pl.Int64,
    "source": pl.String,
    "published_note": pl.String,
    "definition_note": pl.String,
}


def read_published_figures(published_csv: Path | str) -> pl.DataFrame:
    """Read ``fund_announcements.csv`` (typed, one row per published statement).

    Raises :class:`InputFileError` naming the file, row and column on a missing column, a bad date,
    an unknown scope or a non-numeric figure.
    """
    path = Path(published_csv)
    if not path.is_file():
        raise InputFileError(path, "a CSV file of published figures", found="no such file")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in PUBLISHED_COLUMNS if c not in header]
        if missing:
            raise InputFileError(
                path, f"columns {list(PUBLISHED_COLUMNS)}", row=1, found=f"missing {missing}"
            )
        records = []
        for line, raw in enumerate(reader, start=2):
            rec: dict[str, object] = {}
            try:
                rec["date"] = dt.date.fromisoformat(raw["date"].strip())
            except ValueError:
                raise InputFileError(
                    path, "an ISO date (YYYY-MM-DD)", row=line, column="date", found=raw["date"]
                ) from None
            scope = raw["scope"].strip()
            if scope not in ("national", "region"):
                raise InputFileError(
                    path, "scope 'national' or 'region'", row=line, column="scope", found=scope
                )
            rec["scope"] = scope
            rec["region"] = raw["region"].strip() or None
            if scope == "region" and rec["region"] is None:
                raise InputFileError(
                    path, "a région name for scope 'region'", row=line, column="region", found=""
                )
            for col in MEASURES:
                text = (raw[col] or "").strip().replace(" ", "").replace("\u202f", "")
                try:
                    rec[col] = float(text) if text else None
                except ValueError:
                    raise InputFileError(
                        path, "a number or an empty cell", row=line, column=col, found=raw[col]
                    ) from None
            rec["note"] = (raw["note"] or "").strip() or None
            rec["source"] = (raw["source"] or "").strip() or None
            rec["source_row"] = line
            records.append(rec)
    schema = {
        "date": pl.Date,
        "scope": pl.String,
        "region": pl.String,
        **dict.fromkeys(MEASURES, pl.Float64),
        "note": pl.String,
        "source": pl.String,
        "source_row": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema)


def _definition_note(measure: str, row: dict[str, object], region_code: str | None) -> str:
    """Why our aggregate and the published figure may differ (French, for the report)."""
    note = str(row.get("note") or "").casefold()
    source = str(row.get("source") or "").casefold()
    date = row["date"]
    parts: list[str] = []
    if "cour des comptes" in source or "all instruments" in note:
        parts.append(
            "Montant effectivement déployé par l'ensemble des instruments du programme (pas "
            "seulement le fonds d'accélération), constaté par la Cour des comptes : ni le même "
            "périmètre ni la même nature (dépense réalisée) que l'aide accordée du fonds."
        )
    elif measure == "n_projects":
        parts.append(
            "Nombre de lauréats annoncé à la date de publication, souvent arrondi (« plus de "
            "1 400 ») ; notre décompte compte les projets de l'extrait décidés à cette date."
        )
    elif measure == "aid_eur":
        parts.append(
            "Aide accordée annoncée (engagements à la décision), pas l'aide versée ; la nôtre "
            "somme l'aide accordée de l'extrait (l'aide versée en est une autre colonne)."
        )
    elif measure == "investment_eur":
        parts.append(
            "Investissement total annoncé, déclaré ex ante par les lauréats, aide comprise ; "
            "l'investissement réalisé peut s'en écarter."
        )
    elif measure == "jobs_created":
        if "2023" in note or "expected" in note or "to be created" in note:
            parts.append(
                "Emplois attendus à un horizon donné (« d'ici 2023 » ou « à créer »), un "
                "décompte différent des créations déclarées par projet."
            )
        else:
            parts.append(
                "Créations d'emplois déclarées ex ante par les lauréats (annonce), non "
                "constatées ; distinctes des emplois maintenus."
            )
    elif measure == "jobs_maintained":
        parts.append(
            "Emplois déclarés « maintenus » (non créés), non constatés : ne pas additionner aux "
            "créations."
        )
    if row["scope"] == "region":
        if region_code is None:
            parts.append("Nom de région non reconnu : pas d'agrégat comparable.")
        else:
            parts.append(
                "Périmètre régional : projets localisés dans la région par leur commune "
                "d'implantation, qui peut différer du rattachement à l'enveloppe régionale."
            )
    parts.append(
        f"Date d'arrêt : publication du {date:%d/%m/%Y} ; notre valeur à date ne compte que les "
        "projets décidés au plus tard ce jour (date de décision connue)."
    )
    return " ".join(parts)


def _aggregates(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Lazy query: n_projects and sums of every measure of :data:`MEASURES` (null if never known)."""

    def total(col: str) -> pl.Expr:
        return pl.when(pl.col(col).is_not_null().any()).then(pl.col(col).sum()).alias(col)

    return lf.select(
        pl.len().cast(pl.Float64).alias("n_projects"),
        *[total(c) for c in ("aid_eur", "investment_eur", "jobs_created", "jobs_maintained")],
    )


def reconcile_with_published(
    projects: Projects, published_csv: Path | str | None = None
) -> pl.DataFrame:
    """Our aggregates against each published figure, with the gap and its definitional reasons.

    One row per non-empty figure of ``published_csv`` (default: ``fund_announcements.csv`` in
    :func:`analyse.paths.get_published_dir`), national rows and régions named in it (mapped to
    ``region_code`` through :data:`analyse.reference.REGION_NAMES`). Columns: ``date``, ``scope``,
    ``region``, ``region_code``, ``measure`` (``n_projects``, ``aid_eur``, ``investment_eur``,
    ``jobs_created``, ``jobs_maintained``), ``unit``, ``published_value``, ``our_value_at_date``
    (projects decided on or before the publication date), ``our_value_all`` (whole extract),
    ``gap_abs`` = ours at date - published, ``gap_pct`` = 100 x gap / published,
    ``n_projects_at_date``, ``source``, ``published_note`` and ``definition_note``.

    The published figures are never inputs to estimates: this table only documents the gaps.
    """
    if published_csv is None:
        folder = get_published_dir()
        if folder is None:
            raise ParameterError(
                "no published figures found: pass published_csv or set ANALYSE_PUBLISHED_DIR"
            )
        published_csv = folder / "fund_announcements.csv"
    published = read_published_figures(published_csv)
    lf = projects.lazy()
    queries: list[pl.LazyFrame] = []
    contexts: list[tuple[dict[str, object], str | None]] = []
    for row in published.iter_rows(named=True):
        region_code = None
        scoped = lf
        if row["scope"] == "region":
            region_code = _REGION_CODES.get(str(row["region"]).strip().casefold())
            scoped = lf.filter(pl.col("region_code") == pl.lit(region_code, dtype=pl.String))
        at_date = scoped.filter(pl.col("decision_date") <= pl.lit(row["date"], dtype=pl.Date))
        queries += [_aggregates(at_date), _aggregates(scoped)]
        contexts.append((row, region_code))
    results = pl.collect_all(queries) if queries else []
    records = []
    for i, (row, region_code) in enumerate(contexts):
        at_date, everything = (
            results[2 * i].row(0, named=True),
            results[2 * i + 1].row(0, named=True),
        )
        for col, (measure, unit) in MEASURES.items():
            published_value = row[col]
            if published_value is None:
                continue
            if row["scope"] == "region" and region_code is None:
                ours = ours_all = None
            else:
                ours, ours_all = at_date[measure], everything[measure]
            gap = None if ours is None else ours - published_value
            records.append(
                {
                    "date": row["date"],
                    "scope": row["scope"],
                    "region": row["region"],
                    "region_code": region_code,
                    "measure": measure,
                    "unit": unit,
                    "published_value": published_value,
                    "our_value_at_date": ours,
                    "our_value_all": ours_all,
                    "gap_abs": gap,
                    "gap_pct": None
                    if gap is None or published_value == 0
                    else 100.0 * gap / published_value,
                    "n_projects_at_date": None if ours is None else int(at_date["n_projects"] or 0),
                    "source": row["source"],
                    "published_note": row["note"],
                    "definition_note": _definition_note(measure, row, region_code),
                }
            )
    return pl.DataFrame(records, schema=OUTPUT_SCHEMA)
