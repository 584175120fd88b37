"""Synthetic acceleration-fund projects, calibrated to the published headline figures, and the
operator-export writer (French headers, kEUR with decimal commas, dd/mm/yyyy, ``;``).

Planted relations (recorded in the demo manifest)::

    log(investment_eur) = a + ELASTICITY_AID * log(aid_eur) + size_effect + sector_effect + e,
                          e ~ N(0, INVESTMENT_NOISE_SD)      (investment >= aid / 0.8 enforced)
    jobs_created ~ Poisson(exp(b + ELASTICITY_JOBS * log(investment_eur)) * g),
                   g ~ Gamma(JOBS_GAMMA_SHAPE, 1 / JOBS_GAMMA_SHAPE) (frailty, mean 1)

``a`` and ``b`` are solved so that the totals match the headlines; aid amounts are rescaled so
that their total matches exactly (per project: EUR 573 M / 1,416).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analyse.demo.formats import (
    digits_to_series,
    luhn_check_digits,
    numbers_to_digits,
    write_text,
)

#: Published headlines (Oct 2021) the demo is calibrated to.
HEADLINE_PROJECTS = 1416
HEADLINE_AID_EUR = 573e6
HEADLINE_INVESTMENT_EUR = 5.4e9
HEADLINE_JOBS_CREATED = 27_250

ELASTICITY_AID = 0.9
INVESTMENT_NOISE_SD = 0.35
MAX_AID_SHARE = 0.8
ELASTICITY_JOBS = 0.6
JOBS_GAMMA_SHAPE = 3.0
SHARE_IN_PHASE1 = 0.75

FIRM_SIZES = ("TPE", "PME", "ETI", "GE")
FIRM_SIZE_PROBS = (0.15, 0.55, 0.20, 0.10)
#: Mean log aid (EUR) by firm size before rescaling, and log-investment effect (PME = 0).
AID_LOG_MEAN = {
    "TPE": np.log(60e3),
    "PME": np.log(200e3),
    "ETI": np.log(600e3),
    "GE": np.log(1.5e6),
}
SIZE_EFFECT = {"TPE": -0.6, "PME": 0.0, "ETI": 0.6, "GE": 1.3}
AID_LOG_SD = 0.9
SECTORS = (
    "Agroalimentaire", "Métallurgie", "Chimie", "Plasturgie", "Bois", "Automobile",
    "Aéronautique", "Santé", "Électronique", "Textile",
)  # fmt: skip
SECTOR_PROBS = (0.22, 0.18, 0.08, 0.08, 0.08, 0.08, 0.06, 0.07, 0.07, 0.08)
SECTOR_EFFECT = dict(
    zip(SECTORS, (0.0, 0.1, 0.2, 0.0, -0.1, 0.15, 0.2, 0.1, 0.05, -0.15), strict=True)
)

#: Canonical project fields (see docs/fund_extract_schema.md), EUR units.
CANONICAL_SCHEMA: dict[str, Any] = {
    "project_id": pl.String,
    "firm_name": pl.String,
    "siren_or_siret": pl.String,
    "commune_insee": pl.String,
    "commune_name": pl.String,
    "departement_code": pl.String,
    "postal_code": pl.String,
    "decision_date": pl.Date,
    "sector": pl.String,
    "firm_size": pl.String,
    "aid_eur": pl.Float64,
    "investment_eur": pl.Float64,
    "jobs_created": pl.Int64,
    "jobs_maintained": pl.Int64,
    "aid_paid_eur": pl.Float64,
    "investment_realised_eur": pl.Float64,
}

#: Operator export: column order and French headers (canonical field -> header).
OPERATOR_HEADERS: dict[str, str] = {
    "project_id": "N° dossier",
    "decision_date": "Date décision CP",
    "firm_name": "Raison sociale bénéficiaire",
    "siren_or_siret": "SIRET / SIREN",
    "firm_size": "Catégorie entreprise",
    "sector": "Secteur d'activité",
    "commune_name": "Commune du projet",
    "commune_insee": "Code INSEE commune",
    "postal_code": "CP",
    "departement_code": "Dépt",
    "investment_eur": "Montant investissement (k€)",
    "aid_eur": "Montant aide accordée (k€)",
    "jobs_created": "Nb emplois créés",
    "jobs_maintained": "Nb emplois maintenus",
    "aid_paid_eur": "Aide versée (k€)",
    "investment_realised_eur": "Investissement réalisé (k€)",
}
#: Extra operator columns that map to no canonical field.
OPERATOR_EXTRA = ("Commentaire instructeur",)
EXTRACT_TITLE = (
    "Fonds d'accélération des investissements industriels dans les territoires - "
    "extraction des lauréats - DONNÉES SYNTHÉTIQUES (analyse demo)"
)
AMOUNT_FIELDS = ("aid_eur", "investment_eur", "aid_paid_eur", "investment_realised_eur")
NBSP = "\u00a0"
DATE_FORMAT = "%d/%m/%Y"


def fund_mapping() -> dict[str, Any]:
    """The ``fund/mapping.yml`` content describing the operator export written here."""
    return {
        "format": "csv",
        "encoding": "utf-8-sig",
        "delimiter": ";",
        "skip_rows": 1,
        "decimal": ",",
        "thousands": " ",  # the file uses no-break spaces (U+00A0): every kind of space is removed
        "date_formats": [DATE_FORMAT],
        "columns": dict(OPERATOR_HEADERS),
        "units": {field: "kEUR" for field in AMOUNT_FIELDS},
    }


def simulate_projects(
    rng: np.random.Generator,
    n: int,
    communes: pl.DataFrame,
    phase1_communes: pl.Series,
    *,
    placement: tuple[np.ndarray, np.ndarray] | None = None,
    aid_targets: dict[str, float] | None = None,
    date_plan: list[tuple[date, date, int]] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``n`` canonical projects (EUR) and the true parameters used to draw them.

    ``placement`` = ``(firm_of, commune_of_firm)``: the firm of each project and the row of
    ``communes`` of each firm, chosen by the caller (real-geography demo); by default firms are
    drawn here with :data:`SHARE_IN_PHASE1` of them in ``phase1_communes``. ``aid_targets`` maps
    région codes to a published total of aid that the projects of that région must match
    exactly (the other régions share the rest of the national headline). ``date_plan`` lists
    ``(first day, last day, number of projects)`` segments of decision dates (e.g. the published
    cumulative counts); by default dates spread over October 2020 - December 2022.
    """
    # ---- firms (a few have several projects)
    if placement is not None:
        firm_of, commune_f = placement
        n_firms = int(firm_of.max()) + 1
    else:
        n_firms = max(1, int(np.ceil(0.93 * n)))
        firm_of = np.concatenate([np.arange(n_firms), rng.integers(0, n_firms, size=n - n_firms)])
        firm_of = rng.permutation(firm_of)[:n]
    siren_digits = _unique_siren_digits(rng, n_firms)
    siren = digits_to_series(siren_digits)
    nic = numbers_to_digits(rng.integers(1, 40, size=n_firms), 4)
    siret_digits = np.column_stack([siren_digits, nic])
    siret = digits_to_series(np.column_stack([siret_digits, luhn_check_digits(siret_digits)]))
    size_f = rng.choice(len(FIRM_SIZES), size=n_firms, p=FIRM_SIZE_PROBS)
    sector_f = rng.choice(len(SECTORS), size=n_firms, p=SECTOR_PROBS)
    form = rng.choice(4, size=n_firms, p=[0.55, 0.25, 0.12, 0.08])
    if placement is None:
        in_ti = communes["commune_insee"].is_in(phase1_communes.implode()).to_numpy()
        ti_idx, other_idx = np.flatnonzero(in_ti), np.flatnonzero(~in_ti)
        pick_ti = rng.random(n_firms) < SHARE_IN_PHASE1
        commune_f = np.where(
            pick_ti,
            ti_idx[rng.integers(0, len(ti_idx), size=n_firms)],
            other_idx[rng.integers(0, len(other_idx), size=n_firms)],
        )
    give_siret = rng.random(n) < 0.8

    # ---- amounts
    size = size_f[firm_of]
    sector = sector_f[firm_of]
    size_names = pl.Series(FIRM_SIZES).gather(size)
    sector_names = pl.Series(SECTORS).gather(sector)
    mu = np.array([AID_LOG_MEAN[s] for s in FIRM_SIZES])[size]
    log_aid = mu + AID_LOG_SD * np.clip(rng.standard_normal(n), -3.5, 3.5)
    aid_target = HEADLINE_AID_EUR * n / HEADLINE_PROJECTS
    log_aid += np.log(aid_target) - np.log(np.exp(log_aid).sum())
    if aid_targets:
        region = communes["region_code"].to_numpy()[commune_f[firm_of]]
        log_aid = _calibrate_regions(log_aid, region, aid_targets, aid_target)
    aid = np.round(np.exp(log_aid))
    fe = (
        np.array([SIZE_EFFECT[s] for s in FIRM_SIZES])[size]
        + np.array([SECTOR_EFFECT[s] for s in SECTORS])[sector]
    )
    noise = INVESTMENT_NOISE_SD * rng.standard_normal(n)
    lin = ELASTICITY_AID * np.log(aid) + fe + noise
    inv_target = HEADLINE_INVESTMENT_EUR * n / HEADLINE_PROJECTS
    intercept = float(np.log(inv_target) - np.log(np.exp(lin).sum()))
    investment = np.exp(intercept + lin)
    clipped = investment < aid / MAX_AID_SHARE
    investment = np.round(np.where(clipped, aid / MAX_AID_SHARE, investment))

    # ---- jobs
    jobs_target = HEADLINE_JOBS_CREATED * n / HEADLINE_PROJECTS
    base = np.exp(ELASTICITY_JOBS * np.log(investment))
    frailty = rng.gamma(JOBS_GAMMA_SHAPE, 1.0 / JOBS_GAMMA_SHAPE, size=n)
    frailty *= (base.sum()) / (base * frailty).sum()  # frailty mean 1, weighted by base
    jobs_intercept = float(np.log(jobs_target) - np.log(base.sum()))
    jobs = rng.poisson(np.exp(jobs_intercept) * base * frailty)
    maintained = rng.poisson(np.exp(-3.0 + 0.5 * np.log(investment)))
    has_maintained = rng.random(n) < 0.7

    # ---- dates: Oct 2020 - Dec 2022, most in 2021
    epoch = date(1970, 1, 1)
    starts = np.array(
        [(d - epoch).days for d in (date(2020, 10, 1), date(2021, 1, 1), date(2022, 1, 1))]
    )
    spans = np.array([92, 365, 365])
    period = rng.choice(3, size=n, p=[0.2, 0.6, 0.2])
    decision_days = starts[period] + np.floor(rng.random(n) * spans[period]).astype(np.int64)
    if date_plan is not None:
        decision_days = _dates_from_plan(rng, date_plan, n)
        period = np.where(decision_days >= (date(2022, 1, 1) - epoch).days, 2, 1)

    # ---- realised amounts, reported for part of the older projects
    reported = (period != 2) & (rng.random(n) < 0.6)
    paid_share = np.where(rng.random(n) < 0.4, 1.0, rng.uniform(0.3, 1.0, size=n))
    aid_paid = np.where(reported, np.round(aid * paid_share), np.nan)
    inv_real = np.where(
        reported, np.round(investment * np.clip(rng.normal(0.9, 0.2, size=n), 0.2, 1.4)), np.nan
    )

    com = communes[commune_f[firm_of]]
    df = pl.DataFrame(
        {
            "project_id": pl.int_range(1, n + 1, eager=True).cast(pl.String).str.zfill(7),
            "firm_name": pl.Series(firm_of).cast(pl.String).str.zfill(6),
            "firm_form": pl.Series(["SAS", "SARL", "SA", "SASU"]).gather(form[firm_of]),
            "siren_or_siret": pl.select(
                pl.when(pl.Series(give_siret))
                .then(siret.gather(firm_of))
                .otherwise(siren.gather(firm_of))
            ).to_series(),
            "commune_insee": com["commune_insee"],
            "commune_name": com["commune_name"],
            "departement_code": com["departement_code"],
            "postal_code": com["postal_code"],
            "decision_date": pl.Series(decision_days).cast(pl.Date),
            "sector": sector_names,
            "firm_size": size_names,
            "aid_eur": aid,
            "investment_eur": investment,
            "jobs_created": jobs.astype(np.int64),
            "jobs_maintained": maintained.astype(np.int64),
            "aid_paid_eur": aid_paid,
            "investment_realised_eur": inv_real,
        }
    )
    df = df.with_columns(
        (pl.lit("FAIT-") + pl.col("project_id")).alias("project_id"),
        (
            pl.lit("Entreprise-Démo ") + pl.col("firm_name") + pl.lit(" ") + pl.col("firm_form")
        ).alias("firm_name"),
        pl.col("aid_paid_eur").fill_nan(None),
        pl.col("investment_realised_eur").fill_nan(None),
        pl.when(pl.Series(has_maintained)).then(pl.col("jobs_maintained")).otherwise(None),
    ).select([pl.col(c).cast(t) for c, t in CANONICAL_SCHEMA.items()])
    truth = {
        "n_projects": n,
        "log_investment_model": {
            "formula": (
                "log(investment_eur) = intercept + elasticity_aid * log(aid_eur) "
                "+ firm_size_effect + sector_effect + N(0, noise_sd)"
            ),
            "elasticity_aid": ELASTICITY_AID,
            "intercept": round(intercept, 6),
            "noise_sd": INVESTMENT_NOISE_SD,
            "firm_size_effect": SIZE_EFFECT,
            "sector_effect": SECTOR_EFFECT,
            "n_clipped_to_max_aid_share": int(clipped.sum()),
            "max_aid_share": MAX_AID_SHARE,
        },
        "jobs_model": {
            "formula": (
                "jobs_created ~ Poisson(exp(intercept + elasticity_investment * "
                "log(investment_eur)) * gamma_frailty)"
            ),
            "elasticity_investment": ELASTICITY_JOBS,
            "intercept": round(jobs_intercept, 6),
            "gamma_shape": JOBS_GAMMA_SHAPE,
        },
        "share_in_phase1_communes_target": SHARE_IN_PHASE1,
        "totals": {
            "aid_eur": float(aid.sum()),
            "investment_eur": float(investment.sum()),
            "jobs_created": int(jobs.sum()),
        },
        "headlines": {
            "projects": HEADLINE_PROJECTS,
            "aid_eur": HEADLINE_AID_EUR,
            "investment_eur": HEADLINE_INVESTMENT_EUR,
            "jobs_created": HEADLINE_JOBS_CREATED,
        },
    }
    return df, truth


def _dates_from_plan(
    rng: np.random.Generator, plan: list[tuple[date, date, int]], n: int
) -> np.ndarray:
    """Decision days (since 1970) with ``k`` uniform dates in each ``(first, last, k)`` segment,
    scaled to ``n`` projects and shuffled."""
    epoch = date(1970, 1, 1)
    total = sum(k for _, _, k in plan)
    counts = np.floor(np.array([k for _, _, k in plan]) * n / total).astype(int)
    counts[-1] += n - counts.sum()
    days = [
        (first - epoch).days + rng.integers(0, max(1, (last - first).days + 1), size=k)
        for (first, last, _), k in zip(plan, counts, strict=True)
    ]
    return rng.permutation(np.concatenate(days)).astype(np.int64)


def _calibrate_regions(
    log_aid: np.ndarray, region: np.ndarray, targets: dict[str, float], total: float
) -> np.ndarray:
    """Shift log aid by région so that each targeted région's total is its published figure and
    the others share the rest of ``total`` in proportion to their drawn amounts."""
    out = log_aid.copy()
    aid = np.exp(log_aid)
    fixed = np.isin(region, list(targets))
    for code, target in targets.items():
        here = region == code
        if here.any():
            out[here] += np.log(target) - np.log(aid[here].sum())
    rest = total - sum(t for c, t in targets.items() if (region == c).any())
    if (~fixed).any():
        out[~fixed] += np.log(rest) - np.log(aid[~fixed].sum())
    return out


def _unique_siren_digits(rng: np.random.Generator, n: int) -> np.ndarray:
    """Digits ``(n, 9)`` of ``n`` distinct Luhn-valid company SIRENs (first digit 3-9)."""
    step = 70_000_000 // n  # one SIREN per stratum: distinct by construction, O(n)
    bases = 30_000_000 + np.arange(n, dtype=np.int64) * step + rng.integers(0, step, size=n)
    digits = numbers_to_digits(rng.permutation(bases), 8)
    return np.column_stack([digits, luhn_check_digits(digits)])


# ---------------------------------------------------------------------------------------------
# operator export


def _format_keur(col: str) -> pl.Expr:
    """EUR amounts as kEUR text: 3 decimals, decimal comma, non-breaking-space thousands."""
    eur = pl.col(col).round(0).cast(pl.Int64)
    k = eur // 1000

    def pad3(e: pl.Expr) -> pl.Expr:  # 0 <= e < 1000 as 3 digits ("007")
        return (e + 1000).cast(pl.String).str.slice(1)

    frac = pad3(eur % 1000)
    int_part = (
        pl.when(k >= 1_000_000)
        .then(
            pl.concat_str(
                [(k // 1_000_000).cast(pl.String), pad3((k // 1000) % 1000), pad3(k % 1000)],
                separator=NBSP,
            )
        )
        .when(k >= 1000)
        .then(pl.concat_str([(k // 1000).cast(pl.String), pad3(k % 1000)], separator=NBSP))
        .otherwise(k.cast(pl.String))
    )
    return pl.concat_str([int_part, frac], separator=",").alias(col)


def format_fund_extract(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical projects as the operator's export: string columns under French headers."""
    missing = [c for c in CANONICAL_SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(f"canonical project frame lacks columns {missing}")
    exprs = []
    for field, header in OPERATOR_HEADERS.items():
        if field in AMOUNT_FIELDS:
            expr = _format_keur(field)
        elif field == "decision_date":
            expr = pl.col(field).dt.strftime(DATE_FORMAT)
        else:
            expr = pl.col(field).cast(pl.String)
        exprs.append(expr.alias(header))
    exprs += [pl.lit(None, dtype=pl.String).alias(h) for h in OPERATOR_EXTRA]
    return df.select(exprs)


def operator_csv_text(strings: pl.DataFrame) -> str:
    """The export text: a title line, then the ``;``-separated table, CRLF line ends."""
    body = strings.write_csv(
        separator=";", line_terminator="\r\n", quote_style="necessary", null_value=""
    )
    return EXTRACT_TITLE + "\r\n" + body


def write_mapping(path_mapping: Path) -> None:
    """Write ``fund/mapping.yml`` (keys: format, encoding, delimiter, columns, units...)."""
    import yaml

    body = yaml.safe_dump(fund_mapping(), sort_keys=False, allow_unicode=True, width=100)
    body = body.replace(
        "thousands: ' '\n",
        "thousands: ' '  # the file has no-break spaces (U+00A0); every kind of space is removed\n",
    )
    text = (
        "# Mapping of the acceleration-fund operator export to the canonical project schema\n"
        "# (docs/fund_extract_schema.md). Written by `analyse demo` for its SYNTHETIC extract.\n"
        + body
    )
    write_text(Path(path_mapping), text)


def write_fund_extract(df: pl.DataFrame, path_csv: Path, path_mapping: Path) -> None:
    """Write canonical projects ``df`` (EUR) in the operator-export format, plus its mapping."""
    text = operator_csv_text(format_fund_extract(df))
    write_text(Path(path_csv), text, bom=True)
    write_mapping(Path(path_mapping))
