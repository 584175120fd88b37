"""``analyse report``: the report commands (thin; the work is in :mod:`analyse.report.runner`).

    analyse report national
    analyse report region CODE [CODE ...]
    analyse report territory TI_ID [TI_ID ...] [--phase {1,2}]
    analyse report all [--phase {1,2}]      national + every région in the data + every
                                            territory of the phase (default phase 2)
    analyse report list [--phase {1,2}]     valid région codes and territory ids
    analyse report --run-file FILE          what a YAML run file asks for

Options (before or after the kind): ``--workers N`` (default: number of cores), ``--out DIR``
(default: reports/), ``--force`` (ignore reports reusable from earlier runs),
``--notebooks-dir DIR`` (default: notebooks/), ``--published-dir DIR``, ``--self-contained``
(inline the chart library in every page), ``--cell-timeout SECONDS``, ``--n-boot N`` and
``--seed N`` (bootstrap settings of every report), ``--engine {warm,papermill}``,
``--executor {local,dask}`` and ``--scheduler ADDRESS`` (Dask).

Exit code: 0 every report produced, 1 some report failed, 2 invalid parameters (nothing ran),
130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from analyse.errors import ParameterError
from analyse.paths import find_project_root, get_reports_dir
from analyse.report.executors import EXECUTORS
from analyse.report.jobs import ENGINES
from analyse.report.params import (
    DEFAULT_PHASE,
    ReportOptions,
    ReportSelection,
    TerritorySelection,
    build_params,
    format_validation_error,
    list_region_codes,
    list_territories,
    read_run_file,
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted both before and after the report kind."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    _add_page_options(parser, default)
    _add_execution_options(parser, default)


def _add_page_options(parser: argparse.ArgumentParser, default: Callable[[Any], Any]) -> None:
    """What is run and where the pages go."""
    parser.add_argument(
        "--out", type=Path, default=default(None), help="output folder (default: reports/)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        default=default(False),
        help="re-run reports even when an earlier run has them with the same cache key",
    )
    parser.add_argument(
        "--notebooks-dir",
        type=Path,
        default=default(None),
        help="folder of the report notebooks (default: notebooks/)",
    )
    parser.add_argument(
        "--published-dir",
        type=Path,
        default=default(None),
        help="published figures for reconciliation (passed to the notebooks)",
    )
    parser.add_argument(
        "--self-contained",
        action="store_true",
        default=default(False),
        help="inline the chart library in every page (larger pages, single-file sharing)",
    )
    parser.add_argument(
        "--n-boot",
        type=_positive_int,
        default=default(None),
        help="bootstrap replications in every report (default: the notebooks', 999)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=default(None),
        help="bootstrap seed in every report (default: the notebooks', 2018)",
    )


def _add_execution_options(parser: argparse.ArgumentParser, default: Callable[[Any], Any]) -> None:
    """How and where the notebooks run."""
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=default(None),
        help=f"parallel notebooks (default: number of cores, {os.cpu_count()})",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=default(None),
        help="warm: reports forked from workers that imported the libraries once (default); "
        "papermill: papermill + nbclient on a fresh kernel per report",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=default(None),
        help="local: process pool on this machine (default); dask: an existing Dask cluster",
    )
    parser.add_argument(
        "--scheduler",
        default=default(None),
        metavar="ADDRESS",
        help="Dask scheduler address (tcp://host:8786) for --executor dask",
    )
    parser.add_argument(
        "--cell-timeout",
        type=_positive_int,
        default=default(None),
        metavar="SECONDS",
        help="fail a report whose cell runs longer than this (default: no limit)",
    )


def _add_phase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--phase",
        type=int,
        choices=(1, 2),
        default=DEFAULT_PHASE,
        help=f"programme phase of the territories (default {DEFAULT_PHASE}: 2023-2027)",
    )


def add_report_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` to the ``analyse`` command's subparsers."""
    report = subparsers.add_parser(
        "report",
        help="run report notebooks in parallel and publish offline HTML",
        description="Run the report notebooks (papermill pool) and publish offline HTML pages.",
    )
    report.add_argument("--run-file", type=Path, help="YAML run file (see config/run.example.yml)")
    _add_common(report, suppress=False)
    kinds = report.add_subparsers(dest="report_kind", metavar="KIND")

    p = kinds.add_parser("national", help="the national review")
    _add_common(p, suppress=True)

    p = kinds.add_parser("region", help="one or more régions, by INSEE code (e.g. 84)")
    p.add_argument("codes", nargs="+", metavar="CODE")
    _add_common(p, suppress=True)

    p = kinds.add_parser("territory", help="one or more territories, by ti_id")
    p.add_argument("ids", nargs="+", metavar="TI_ID")
    _add_phase(p)
    _add_common(p, suppress=True)

    p = kinds.add_parser(
        "all", help="national + every région in the data + every territory of the phase"
    )
    _add_phase(p)
    _add_common(p, suppress=True)

    p = kinds.add_parser("list", help="list valid région codes and territory ids")
    _add_phase(p)

    report.set_defaults(func=run_report_command)
    return report


def _from_root(value: str | Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else find_project_root() / path


def _list(args: argparse.Namespace) -> int:
    from analyse.report.snapshot import pin_snapshot

    processed_dir = Path(args.processed_dir)
    with contextlib.suppress(ParameterError):  # no snapshot yet: the COG's régions
        processed_dir = pin_snapshot(processed_dir).path
    print("régions:")
    for code, name in list_region_codes(processed_dir).items():
        print(f"  {code}  {name}")
    try:
        territories = list_territories(processed_dir, args.phase)
    except ParameterError as exc:
        print(f"territories: {exc}")
        return 0
    print(f"territories (phase {args.phase}): {len(territories)}")
    for ti_id, name in territories.items():
        print(f"  {ti_id}  {name}")
    return 0


def _selection(args: argparse.Namespace, kind: str | None) -> ReportSelection:
    if kind == "national":
        return ReportSelection(national=True)
    if kind == "region":
        return ReportSelection(regions=list(args.codes))
    if kind == "territory":
        return ReportSelection(territories=TerritorySelection(phase=args.phase, ids=list(args.ids)))
    return ReportSelection(  # all
        national=True, regions=["all"], territories=TerritorySelection(phase=args.phase)
    )


def _request(
    args: argparse.Namespace,
) -> tuple[ReportSelection, str, dict[str, Any], ReportOptions]:
    """What to run: selection, where it was asked, run-file settings, analysis options."""
    kind = getattr(args, "report_kind", None)
    run_file = getattr(args, "run_file", None)
    if run_file is not None and kind is not None:
        raise ParameterError("give either a report kind or --run-file, not both")
    if run_file is None and kind is None:
        raise ParameterError(
            "say which reports: national, region CODE, territory TI_ID, all, or --run-file FILE"
        )
    if run_file is not None:
        spec = read_run_file(run_file)
        settings = spec.model_dump(exclude={"reports", "parameters"})
        return spec.reports, str(run_file), settings, spec.parameters
    return _selection(args, kind), "command line", {}, ReportOptions()


def _options(args: argparse.Namespace, options: ReportOptions) -> ReportOptions:
    overrides = {"n_boot": args.n_boot, "seed": args.seed}
    try:
        options = options.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        return ReportOptions.model_validate(options.model_dump())
    except ValidationError as exc:
        raise ParameterError("\n".join(format_validation_error(exc, "command line"))) from exc


def figures_step(options: ReportOptions) -> Callable[[Path], Path] | None:
    """The figures stage, run once on the pinned snapshot before any report (its bundle
    folder is passed to every notebook as ``figures_dir``; its name is the figures key)."""
    try:
        from analyse.figures import FiguresOptions, ensure_figures
    except ImportError:  # a tree without the figures stage: notebooks compute their own
        return None
    fields = {k: v for k in ("n_boot", "seed") if (v := getattr(options, k)) is not None}

    def prepare(snapshot_dir: Path) -> Path:
        return Path(ensure_figures(snapshot_dir, FiguresOptions(**fields)).path)

    return prepare


def run_report_command(args: argparse.Namespace) -> int:
    """Validate everything, run the batch, print a summary; return the exit code."""
    from analyse.report.batch import run_batch
    from analyse.report.jobs import iter_jobs, summarise
    from analyse.report.snapshot import pin_snapshot

    if getattr(args, "report_kind", None) == "list":
        return _list(args)
    selection, source, settings, options = _request(args)

    def pick(key: str, cli_key: str | None = None) -> Any:
        value = getattr(args, cli_key or key, None)
        return value if value is not None else settings.get(key)

    processed = _from_root(settings.get("processed_dir")) or Path(args.processed_dir)
    snapshot = pin_snapshot(processed)  # once: every report reads this snapshot
    published_dir = _from_root(pick("published_dir"))
    notebooks_dir = _from_root(pick("notebooks_dir")) or find_project_root() / "notebooks"
    options = _options(args, options)
    params = build_params(
        selection,
        processed_dir=snapshot.path,
        published_dir=published_dir.resolve() if published_dir else None,
        options=options,
        source=source,
    )
    result = run_batch(
        iter_jobs(params, notebooks_dir),
        _from_root(pick("output_dir", "out")) or get_reports_dir(),
        workers=pick("workers"),
        force=bool(args.force or settings.get("force")),
        processed_dir=snapshot.path,
        self_contained=bool(args.self_contained or settings.get("self_contained")),
        cell_timeout_s=pick("cell_timeout_s", "cell_timeout"),
        engine=pick("engine") or "warm",
        executor=pick("executor") or "local",
        scheduler=pick("scheduler"),
        prepare=figures_step(options),
    )
    print(summarise(result))
    return result.exit_code
