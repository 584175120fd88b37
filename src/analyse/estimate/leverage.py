"""Descriptive leverage of the acceleration fund: investment and jobs per euro of aid.

Everything here is **descriptive** (``kind="descriptive"`` in :data:`METRICS`): totals and ratios
of what beneficiaries declared when applying. They say how much investment and how many jobs were
*announced alongside* each euro of aid, not what the aid *caused* (the Cour des comptes, 2024:
correlation, not causality). Causal estimates live in ``analyse.estimate.models`` / ``did``.

Headline ratios are **ratios of sums** (``sum(investment) / sum(aid)`` over the projects of a
cell). They weight each project by its aid, so they equal the total investment announced per euro
of aid actually granted in the cell, add up across cells in the usual way (a national ratio is the
aid-weighted mean of regional ratios) and are not dominated by small projects with extreme ratios
(EUR 10 k of aid towards a EUR 5 M line has a per-project ratio of 500). The **mean of per-project
ratios** (``mean_project_investment_per_aid``) is reported next to it as a secondary, unweighted
figure: it answers "what does a typical project look like", and the gap between the two shows how
much small, high-ratio projects weigh.

Every ratio is computed on the projects where both its numerator and denominator are known
(pairwise complete), so a missing investment never silently lowers a ratio. The project-level
parts of each ratio (:data:`RATIO_PARTS`) are shared with the cluster bootstrap, so point
estimates and bootstrap centres are the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import polars as pl

from analyse.errors import ParameterError
from analyse.reference import REGION_NAMES
from analyse.schemas import PROJECTS, conform

#: Project frames accepted by every function of this module.
Projects = pl.DataFrame | pl.LazyFrame

#: Columns derived from the phase-specific territory columns (usable in ``by``).
DERIVED_KEYS = ("ti_id", "in_ti")

#: Name of the column marking margin rows (see :func:`summarise_leverage`, ``margins=True``).
MARGIN_COL = "total_over"


@dataclass(frozen=True)
class RatioParts:
    """A ratio of sums: ``sum(numerator) / sum(denominator)`` over projects where both are known."""

    numerator: pl.Expr
    denominator: pl.Expr


_AID = pl.col("aid_eur")
_INV = pl.col("investment_eur")
_JC = pl.col("jobs_created")
_JM = pl.col("jobs_maintained")


def _both(num: pl.Expr, den: pl.Expr, *, cond: pl.Expr | None = None) -> RatioParts:
    ok = num.is_not_null() & den.is_not_null()
    if cond is not None:
        ok = ok & cond
    return RatioParts(pl.when(ok).then(num), pl.when(ok).then(den))


#: Project-level numerator and denominator of every ratio metric (ratio of their cell sums).
RATIO_PARTS: dict[str, RatioParts] = {
    "investment_per_aid_eur": _both(_INV, _AID),
    "private_investment_per_aid_eur": _both(_INV - _AID, _AID),
    "jobs_created_per_meur_aid": _both(_JC, _AID / 1e6),
    "jobs_maintained_per_meur_aid": _both(_JM, _AID / 1e6),
    "aid_per_job_created_eur": _both(_AID, _JC),
    # Mean of per-project ratios = sum(ratio_i) / count_i over projects with aid > 0.
    "mean_project_investment_per_aid": _both(
        _INV / _AID, pl.lit(1.0), cond=_AID.is_not_null() & (_AID > 0)
    ),
}

#: Ratio metrics, headline first (default of the bootstrap and sensitivity functions).
RATIO_METRICS: tuple[str, ...] = tuple(RATIO_PARTS)

#: Additive columns summed per cell (null when no project of the cell reports the column).
SUM_COLUMNS: tuple[str, ...] = (
    "aid_eur",
    "investment_eur",
    "private_investment_eur",
    "jobs_created",
    "jobs_maintained",
    "aid_paid_eur",
    "investment_realised_eur",
)

_D = "descriptive"

#: Every output metric: French label and definition (for report tables), unit, and kind.
METRICS: dict[str, dict[str, str]] = {
    "n_projects": {
        "label_fr": "Nombre de projets",
        "definition_fr": "Projets lauréats du fonds dans la cellule.",
        "unit": "projets",
        "kind": _D,
    },
    "n_firms": {
        "label_fr": "Nombre d'entreprises",
        "definition_fr": "Entreprises distinctes (SIREN connus) porteuses d'au moins un projet.",
        "unit": "entreprises",
        "kind": _D,
    },
    "aid_eur": {
        "label_fr": "Aide accordée",
        "definition_fr": "Somme des aides accordées à la décision (montants annoncés, non versés).",
        "unit": "EUR",
        "kind": _D,
    },
    "investment_eur": {
        "label_fr": "Investissement annoncé",
        "definition_fr": "Somme des investissements totaux déclarés par les lauréats, aide comprise.",
        "unit": "EUR",
        "kind": _D,
    },
    "private_investment_eur": {
        "label_fr": "Investissement hors aide",
        "definition_fr": "Investissement annoncé moins l'aide accordée.",
        "unit": "EUR",
        "kind": _D,
    },
    "jobs_created": {
        "label_fr": "Emplois à créer (déclarés)",
        "definition_fr": "Créations d'emplois déclarées ex ante par les lauréats, non constatées.",
        "unit": "emplois",
        "kind": _D,
    },
    "jobs_maintained": {
        "label_fr": "Emplois maintenus (déclarés)",
        "definition_fr": "Emplois déclarés maintenus par les lauréats, non constatés.",
        "unit": "emplois",
        "kind": _D,
    },
    "aid_paid_eur": {
        "label_fr": "Aide versée",
        "definition_fr": "Somme des aides effectivement versées, projets renseignés seulement.",
        "unit": "EUR",
        "kind": _D,
    },
    "investment_realised_eur": {
        "label_fr": "Investissement réalisé",
        "definition_fr": "Somme des investissements réalisés déclarés, projets renseignés seulement.",
        "unit": "EUR",
        "kind": _D,
    },
    "investment_per_aid_eur": {
        "label_fr": "Investissement par euro d'aide",
        "definition_fr": (
            "Ratio des sommes : investissement annoncé total / aide accordée totale (chiffre de "
            "référence, pondéré par l'aide)."
        ),
        "unit": "EUR par EUR d'aide",
        "kind": _D,
    },
    "private_investment_per_aid_eur": {
        "label_fr": "Investissement hors aide par euro d'aide",
        "definition_fr": "Ratio des sommes : (investissement annoncé - aide) / aide accordée.",
        "unit": "EUR par EUR d'aide",
        "kind": _D,
    },
    "jobs_created_per_meur_aid": {
        "label_fr": "Emplois à créer par million d'euros d'aide",
        "definition_fr": "Ratio des sommes : emplois à créer déclarés / aide accordée (en M EUR).",
        "unit": "emplois par M EUR d'aide",
        "kind": _D,
    },
    "jobs_maintained_per_meur_aid": {
        "label_fr": "Emplois maintenus par million d'euros d'aide",
        "definition_fr": "Ratio des sommes : emplois maintenus déclarés / aide accordée (en M EUR).",
        "unit": "emplois par M EUR d'aide",
        "kind": _D,
    },
    "aid_per_job_created_eur": {
        "label_fr": "Aide par emploi à créer",
        "definition_fr": "Ratio des sommes : aide accordée / emplois à créer déclarés.",
        "unit": "EUR par emploi",
        "kind": _D,
    },
    "mean_project_investment_per_aid": {
        "label_fr": "Investissement par euro d'aide, moyenne des projets",
        "definition_fr": (
            "Moyenne non pondérée des ratios investissement / aide de chaque projet : sensible aux "
            "petits projets à ratio extrême, donnée en complément du ratio des sommes."
        ),
        "unit": "EUR par EUR d'aide",
        "kind": _D,
    },
}


def describe_metrics(metrics: Sequence[str] | None = None) -> pl.DataFrame:
    """:data:`METRICS` as a table (metric, label_fr, definition_fr, unit, kind) for reports."""
    names = list(metrics) if metrics is not None else list(METRICS)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ParameterError(f"unknown metrics {unknown}; known: {list(METRICS)}")
    return pl.DataFrame([{"metric": m, **METRICS[m]} for m in names])


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def check_by(by: Sequence[str] | None) -> list[str]:
    """Return ``by`` as a list of grouping columns (empty list = nation); reject duplicates."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    keys = list(by)
    if len(set(keys)) != len(keys):
        raise ParameterError(f"duplicate grouping columns in by={keys}")
    if MARGIN_COL in keys:
        raise ParameterError(f"{MARGIN_COL!r} is reserved for margin rows")
    return keys


def _check_phase(phase: int) -> None:
    if phase not in (1, 2):
        raise ParameterError(f"phase must be 1 or 2, got {phase!r}")


def with_project_parts(projects: Projects, *, phase: int = 1) -> pl.LazyFrame:
    """Lazy query: projects plus derived keys and the per-project parts of every ratio.

    Adds ``ti_id`` (= ``ti_id_phase{phase}``), ``ti_phase``, ``in_ti`` (the project lies in a
    territory of that phase), ``_firm`` (SIREN, or the project id when the SIREN is unknown, so an
    unknown firm is never merged with another), ``_num_<metric>`` / ``_den_<metric>`` per ratio and
    ``private_investment_eur``.
    """
    _check_phase(phase)
    ti = pl.col(f"ti_id_phase{phase}")
    parts = []
    for name, rp in RATIO_PARTS.items():
        parts += [rp.numerator.alias(f"_num_{name}"), rp.denominator.alias(f"_den_{name}")]
    return projects.lazy().with_columns(
        ti.alias("ti_id"),
        pl.lit(phase, dtype=pl.Int8).alias("ti_phase"),
        ti.is_not_null().alias("in_ti"),
        pl.coalesce(pl.col("siren"), pl.lit("project:") + pl.col("project_id")).alias("_firm"),
        (_INV - _AID).alias("private_investment_eur"),
        *parts,
    )


def check_columns(lf: pl.LazyFrame, cols: Sequence[str], what: str) -> None:
    names = lf.collect_schema().names()
    missing = [c for c in cols if c not in names]
    if missing:
        raise ParameterError(f"{what}: unknown columns {missing}; available: {names}")


def leverage_query(projects: Projects, by: Sequence[str] | None, *, phase: int = 1) -> pl.LazyFrame:
    """Lazy query behind :func:`summarise_leverage` (one row per cell of ``by``).

    Two aggregation steps: projects -> (cell, firm) -> cell. The intermediate firm level gives
    the number of distinct firms and each firm's share of the cell's aid and investment (the
    dominance rule of statistical secrecy), with every additive column summed once.
    """
    keys = check_by(by)
    lf = with_project_parts(projects, phase=phase)
    check_columns(lf, keys, "summarise_leverage(by=...)")
    group = keys or [pl.lit(0).alias("_all")]
    group_names = keys or ["_all"]
    num_den = [c for name in RATIO_PARTS for c in (f"_num_{name}", f"_den_{name}")]
    firm_level = lf.group_by([*group, "_firm"]).agg(
        pl.len().alias("n_projects"),
        pl.col("siren").is_not_null().any().alias("_known_firm"),
        *[pl.col(c).sum().alias(c) for c in SUM_COLUMNS],
        *[pl.col(c).is_not_null().sum().alias(f"_nn_{c}") for c in SUM_COLUMNS],
        *[pl.col(c).sum() for c in num_den],
    )

    def share(col: str) -> pl.Expr:
        total = pl.col(col).sum()
        return pl.when(total > 0).then(pl.col(col).max() / total).alias(f"max_firm_share_{col}")

    cells = firm_level.group_by(group_names).agg(
        pl.col("n_projects").sum().cast(pl.Int64),
        pl.col("_known_firm").sum().cast(pl.Int64).alias("n_firms"),
        *[
            pl.when(pl.col(f"_nn_{c}").sum() > 0).then(pl.col(c).sum()).alias(c)
            for c in SUM_COLUMNS
        ],
        *[pl.col(c).sum() for c in num_den],
        share("aid_eur").alias("max_firm_share_aid"),
        share("investment_eur").alias("max_firm_share_investment"),
    )
    ratios = [
        pl.when(pl.col(f"_den_{name}") > 0)
        .then(pl.col(f"_num_{name}") / pl.col(f"_den_{name}"))
        .alias(name)
        for name in RATIO_PARTS
    ]
    out = cells.with_columns(*ratios).with_columns(
        pl.max_horizontal("max_firm_share_aid", "max_firm_share_investment").alias("max_firm_share")
    )
    head = list(keys)
    if any(k in DERIVED_KEYS for k in keys):
        out = out.with_columns(pl.lit(phase, dtype=pl.Int8).alias("ti_phase"))
        head.append("ti_phase")
    cols = [
        *head,
        "n_projects",
        "n_firms",
        *SUM_COLUMNS,
        *RATIO_PARTS,
        "max_firm_share_aid",
        "max_firm_share_investment",
        "max_firm_share",
    ]
    return out.select(cols).sort(keys, nulls_last=True) if keys else out.select(cols)


def summarise_leverage(
    projects: Projects,
    by: Sequence[str] | None = None,
    *,
    phase: int = 1,
    margins: bool = False,
) -> pl.DataFrame:
    """Totals and leverage ratios per cell of ``by`` (``None`` = one national row).

    ``by`` may name any column of the projects table (``region_code``, ``ti_id_phase1``,
    ``sector``, ``firm_size``, ``decision_year``, ...) and the derived ``ti_id`` / ``in_ti`` (the
    territory of phase ``phase``, and whether the project lies in one; null ``ti_id`` = outside
    every territory). Filter ``projects`` beforehand for subsets.

    Columns: the keys (plus ``ti_phase`` when a derived key is used), ``n_projects``, ``n_firms``
    (distinct known SIREN), the sums of :data:`SUM_COLUMNS`, the ratios of :data:`RATIO_METRICS`
    (``investment_per_aid_eur`` = sum of investment / sum of aid, the headline; ``..._per_meur_aid``
    per million euros of aid; ``mean_project_investment_per_aid`` = unweighted mean of per-project
    ratios, secondary), and the secrecy control columns ``max_firm_share_aid``,
    ``max_firm_share_investment`` (largest single firm's share of the cell's aid / investment) and
    ``max_firm_share`` (the larger of the two; feed it to ``apply_secrecy``, never publish it).

    With ``margins=True`` the output also holds every margin of the cross-table (each subset of
    ``by`` aggregated away, the grand total included); column ``total_over`` lists the aggregated
    keys (comma-separated, in ``by`` order; null for inner cells) and aggregated keys are null.
    Margins are computed from the projects, so their firm counts and shares are exact.
    """
    keys = check_by(by)
    if not margins:
        return leverage_query(projects, keys, phase=phase).collect()
    lf = projects.lazy()
    frames = []
    for size in range(len(keys), -1, -1):
        for kept in combinations(keys, size):
            over = [k for k in keys if k not in kept]
            frames.append(
                leverage_query(lf, list(kept), phase=phase).with_columns(
                    pl.lit(",".join(over) if over else None, dtype=pl.String).alias(MARGIN_COL)
                )
            )
    out = pl.concat(pl.collect_all(frames), how="diagonal_relaxed")
    head = list(keys)
    if "ti_phase" in out.columns:  # derived keys: the grand total has no ti_phase of its own
        out = out.with_columns(pl.col("ti_phase").fill_null(pl.lit(phase, dtype=pl.Int8)))
        head.append("ti_phase")
    return out.select(*head, MARGIN_COL, *[c for c in out.columns if c not in {*head, MARGIN_COL}])


# --------------------------------------------------------------------------------------------
# Synthetic projects (tests, benchmarks, demos): known true ratios
# --------------------------------------------------------------------------------------------

SYNTHETIC_SECTORS = (
    "Agroalimentaire",
    "Chimie",
    "Métallurgie",
    "Automobile",
    "Aéronautique",
    "Bois",
    "Électronique",
    "Santé",
    "Plasturgie",
    "Textile",
)
SYNTHETIC_SIZES = ("TPE", "PME", "ETI", "GE")
_SIZE_P = (0.18, 0.57, 0.2, 0.05)


def _luhn_siren(base8: np.ndarray) -> np.ndarray:
    """Complete 8-digit integers into Luhn-valid 9-digit SIREN strings."""
    digits = (base8[:, None] // (10 ** np.arange(7, -1, -1))) % 10  # left to right
    doubled = digits.copy()
    doubled[:, 1::2] *= 2  # positions 1, 3, 5, 7 from the left are doubled (check digit last)
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return np.char.mod("%09d", base8 * 10 + check)


def make_synthetic_projects(
    n: int = 1416,
    *,
    seed: int = 2018,
    true_ratio: float = 9.4,
    true_jobs_per_meur: float = 47.6,
    n_epci: int | None = None,
    cluster_sd: float = 0.35,
    project_sd: float = 0.6,
    realised_share: float = 0.45,
) -> pl.DataFrame:
    """Synthetic projects in the :data:`analyse.schemas.PROJECTS` schema, with known true ratios.

    ``investment_eur = true_ratio * aid_eur * u_epci * e_project`` and
    ``jobs_created ~ Poisson(true_jobs_per_meur * aid_meur * v_epci)``, with log-normal EPCI random
    effects (``cluster_sd``) and project noise (``project_sd``) of mean 1, independent of aid: the
    population ratio of sums is exactly ``true_ratio`` (and ``true_jobs_per_meur``). Aid is
    log-normal with mean about EUR 405 k (EUR 573 M / 1,416). Firms (Luhn-valid SIREN) sit in one
    EPCI; EPCI sit in one région and in at most one territory per phase (about 149 phase-1 and 183
    phase-2 territories). ``aid_paid_eur`` / ``investment_realised_eur`` are reported for
    ``realised_share`` of projects. ``n_epci`` defaults to ``min(1250, max(20, n))`` (France has
    about 1,250 EPCI). Jobs maintained: Poisson, three times the jobs created on average.
    ``is_synthetic`` is true on every row.
    """
    if n < 1:
        raise ParameterError(f"n must be positive, got {n}")
    rng = np.random.default_rng(seed)
    n_epci = n_epci if n_epci is not None else int(min(1250, max(20, n)))
    regions = np.array(sorted(REGION_NAMES))
    region_w = np.array(
        [0.3 if r in {"01", "02", "03", "04", "06", "94"} else 1.0 for r in regions]
    )
    epci_region = rng.choice(regions, size=n_epci, p=region_w / region_w.sum())
    epci_siren = np.char.mod("2%08d", rng.choice(10**8, size=n_epci, replace=False))
    epci_dep = np.char.add(
        np.char.zfill(epci_region.astype(str), 2), rng.integers(0, 4, size=n_epci).astype(str)
    )
    epci_ze = np.char.mod("%04d", rng.integers(1, 9999, size=n_epci))

    def territories(member_p: float, n_target: int) -> np.ndarray:
        """Group a random share of EPCI into territories that never cross régions."""
        out = np.full(n_epci, None, dtype=object)
        members = np.flatnonzero(rng.random(n_epci) < member_p)
        for reg in regions:
            here = members[epci_region[members] == reg]
            if len(here) == 0:
                continue
            n_ti = max(1, round(n_target * len(here) / len(members)))
            out[here] = np.char.mod(f"ti-{reg}%02d", rng.integers(1, n_ti + 1, size=len(here)))
        return out

    scale = n_epci / 1250
    ti1 = territories(0.45, max(1, round(149 * scale)))
    ti2 = territories(0.55, max(1, round(183 * scale)))
    u_epci = rng.lognormal(-(cluster_sd**2) / 2, cluster_sd, size=n_epci)
    v_epci = rng.lognormal(-(cluster_sd**2) / 2, cluster_sd, size=n_epci)
    epci_w = np.array([3.0 if t is not None else 1.0 for t in ti1])

    n_firms = max(1, round(0.92 * n))
    firm_epci = rng.choice(n_epci, size=n_firms, p=epci_w / epci_w.sum())
    firm_siren = _luhn_siren(rng.choice(10**8 - 10**7, size=n_firms, replace=False) + 10**7)
    firm_size = rng.choice(SYNTHETIC_SIZES, size=n_firms, p=_SIZE_P)
    firm_sector = rng.choice(SYNTHETIC_SECTORS, size=n_firms)
    firm = np.concatenate([np.arange(n_firms), rng.integers(0, n_firms, size=n - n_firms)])[:n]
    rng.shuffle(firm)
    epci = firm_epci[firm]

    sigma_aid = 1.1
    aid = np.round(rng.lognormal(np.log(405_000) - sigma_aid**2 / 2, sigma_aid, size=n), -2)
    e_proj = rng.lognormal(-(project_sd**2) / 2, project_sd, size=n)
    investment = np.round(true_ratio * aid * u_epci[epci] * e_proj, -2)
    jobs = rng.poisson(true_jobs_per_meur * aid / 1e6 * v_epci[epci]).astype(float)
    maintained = rng.poisson(3.0 * true_jobs_per_meur * aid / 1e6).astype(float)
    reported = rng.random(n) < realised_share
    aid_paid = np.where(reported, np.round(aid * rng.uniform(0.5, 1.0, size=n), -2), np.nan)
    inv_real = np.where(reported, np.round(investment * rng.uniform(0.6, 1.2, size=n), -2), np.nan)
    first, last = dt.date(2020, 10, 1), dt.date(2022, 6, 30)
    days = (first - dt.date(1970, 1, 1)).days + rng.integers(0, (last - first).days + 1, size=n)
    commune_suffix = rng.integers(1, 99, size=n)

    def lookup(values: np.ndarray, index: str) -> pl.Expr:
        """Gather a small lookup array (EPCI- or firm-level) by a project-level index column."""
        return pl.lit(pl.Series(values.tolist(), dtype=pl.String)).gather(pl.col(index))

    base = pl.DataFrame(
        {
            "_row": np.arange(1, n + 1),
            "_firm": firm,
            "_epci": epci,
            "_days": days,
            "_commune": commune_suffix,
            "aid_eur": aid,
            "investment_eur": investment,
            "jobs_created": jobs,
            "jobs_maintained": maintained,
            "aid_paid_eur": aid_paid,
            "investment_realised_eur": inv_real,
        },
        nan_to_null=True,
    )
    date = pl.col("_days").cast(pl.Int32).cast(pl.Date)
    df = base.with_columns(
        pl.format("SYN-{}", pl.col("_row").cast(pl.String).str.zfill(6)).alias("project_id"),
        pl.format("Entreprise synthétique {}", pl.col("_firm") + 1).alias("firm_name"),
        lookup(firm_siren, "_firm").alias("siren"),
        pl.lit(None, dtype=pl.String).alias("siret"),
        date.alias("decision_date"),
        date.dt.year().alias("decision_year"),
        lookup(firm_sector, "_firm").alias("sector"),
        lookup(firm_size, "_firm").alias("firm_size"),
        (lookup(epci_dep, "_epci") + pl.col("_commune").cast(pl.String).str.zfill(2)).alias(
            "commune_insee"
        ),
        lookup(epci_siren, "_epci").alias("epci_siren"),
        lookup(epci_dep, "_epci").alias("departement_code"),
        lookup(epci_region, "_epci").alias("region_code"),
        lookup(epci_ze, "_epci").alias("ze2020_code"),
        lookup(ti1, "_epci").alias("ti_id_phase1"),
        lookup(ti2, "_epci").alias("ti_id_phase2"),
        pl.lit("synthetic").alias("source_file"),
        pl.col("_row").alias("source_row"),
        pl.lit(True).alias("is_synthetic"),
    )
    return conform(df, PROJECTS, name="projects")
