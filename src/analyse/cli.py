"""The ``analyse`` command: thin wrappers over the library.

analyse fetch [--reference | --mirror DIR | --base-url URL] [--source ID ...]
              [--accept-new-vintage] [--deadline-s S] [--timeout-s S]
analyse demo [--seed N] [--world real|synthetic]
analyse clean [--public]
analyse figures [--force]
analyse report {national,region,territory,all,list} ...
analyse audit-secrecy RUN_DIR
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from analyse import __version__
from analyse.errors import InputFileError, ParameterError
from analyse.paths import get_processed_dir, get_raw_dir


def _cmd_fetch(args: argparse.Namespace) -> int:
    from analyse.fetch import fetch_sources, materialise_reference

    if args.reference:
        if args.mirror or args.base_url or args.accept_new_vintage:
            raise ParameterError("--reference takes no --mirror, --base-url or new vintage")
        results = materialise_reference(args.raw_dir, args.source or None)
        for r in results:
            detail = f" ({r['detail']})" if r["detail"] else ""
            print(f"{r['source_id']:26s} {r['status']:8s} {r['path']}{detail}")
        absent = [r["source_id"] for r in results if r["status"] == "absent"]
        if absent:
            raise ParameterError(f"not in the reference snapshot: {', '.join(absent)}")
        print(f"reference snapshot materialised in {args.raw_dir} ({len(results)} files)")
        return 0
    manifest = fetch_sources(
        args.raw_dir,
        mirror=args.mirror,
        base_url=args.base_url,
        source_ids=args.source or None,
        accept_new_vintage=args.accept_new_vintage,
        **{k: v for k in ("timeout_s", "deadline_s") if (v := getattr(args, k)) is not None},
    )
    print(
        f"fetched {len(manifest['fetched'])} files into {args.raw_dir}, "
        f"{len(manifest['from_reference'])} from the reference snapshot, "
        f"skipped {len(manifest['skipped'])} (manifest.json lists {len(manifest['files'])})"
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from analyse.demo import write_demo

    write_demo(args.raw_dir, seed=args.seed, world=args.world)
    if args.world == "real":
        print(
            f"demo (seed {args.seed}): synthetic fund extract and MEF list written to "
            f"{args.raw_dir} on the real public reference data"
        )
    else:
        print(f"fully synthetic world (seed {args.seed}) written to {args.raw_dir}")
    return 0


def _cmd_clean(args: argparse.Namespace) -> int:
    from analyse.clean import run_clean

    quality = run_clean(args.raw_dir, args.processed_dir, public_only=args.public)
    for source_id, counts in quality["sources"].items():
        print(
            f"{source_id:32s} in {counts['rows_in']:>8} out {counts['rows_out']:>8} "
            f"quarantined {counts['rows_quarantined']:>6}"
        )
    print(
        f"snapshot {quality['snapshot_id']} ({quality['mode']} data) is now current in "
        f"{args.processed_dir}"
    )
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from analyse.figures import ensure_figures

    bundle = ensure_figures(args.processed_dir, force=args.force)
    manifest = bundle.manifest
    timings = manifest.get("timings_s", {})
    cells = bundle["cells"].height if "cells" in bundle else 0
    print(
        f"figures {bundle.key} of snapshot {manifest['snapshot_id']}: {cells} published cells, "
        f"{len(manifest.get('frames', []))} frames, computed in {timings.get('total_s', '?')} s "
        f"-> {bundle.path}"
    )
    return 0


def _warn_last_clean(processed_dir: Path) -> None:
    """Say on every command when the last clean failed or was killed (its snapshot is unused)."""
    from analyse.snapshots import describe_last_clean

    problem = describe_last_clean(processed_dir)
    if problem:
        print(f"analyse: warning: {problem}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``analyse`` command."""
    parser = argparse.ArgumentParser(
        prog="analyse",
        description="Evaluate Territoires d'industrie and the acceleration fund.",
    )
    parser.add_argument("--version", action="version", version=f"analyse {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--raw-dir", type=Path, default=None, help="raw data folder (default: data/raw)"
    )
    parser.add_argument(
        "--processed-dir",
        type=Path,
        default=None,
        help="processed data folder (default: data/processed)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "fetch", help="get the raw sources: reference snapshot, publishers or a mirror, verified"
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="offline: decompress the shipped reference snapshot (data/reference) into the raw "
        "folder; files already there are kept",
    )
    p.add_argument("--mirror", type=Path, help="copy from this folder instead of downloading")
    p.add_argument("--base-url", help="download from this base URL instead of the publishers'")
    p.add_argument("--source", action="append", help="only this source id (repeatable)")
    p.add_argument(
        "--accept-new-vintage",
        action="store_true",
        help="take files that differ from their pinned size and sha256 (recorded in the manifest)",
    )
    p.add_argument(
        "--deadline-s",
        type=float,
        help="overall time limit of each download in seconds (default 300)",
    )
    p.add_argument("--timeout-s", type=float, help="socket timeout in seconds (default 60)")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser(
        "demo",
        help="write a synthetic fund extract (the only non-public input) over the real data",
    )
    p.add_argument("--seed", type=int, default=2018, help="random seed (default 2018)")
    p.add_argument(
        "--world",
        choices=("real", "synthetic"),
        default="real",
        help="real (default): real public files, synthetic fund projects; synthetic: every "
        "file invented, with a planted label effect (to validate estimators)",
    )
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "clean", help="clean raw files into a new snapshot of core tables (atomic switch)"
    )
    p.add_argument(
        "--public",
        action="store_true",
        help="public-data mode: ignore the operator extract and any synthetic project list",
    )
    p.set_defaults(func=_cmd_clean)

    p = sub.add_parser(
        "figures",
        help="compute every published figure of the current snapshot once (reports run it too)",
    )
    p.add_argument("--force", action="store_true", help="recompute even if the bundle exists")
    p.set_defaults(func=_cmd_figures)

    try:
        from analyse.report.cli import add_report_parser
    except ImportError:  # pragma: no cover - report package not built yet
        pass
    else:
        add_report_parser(sub)

    from analyse.audit.cli import add_audit_parser

    add_audit_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.raw_dir = args.raw_dir or get_raw_dir()
    args.processed_dir = args.processed_dir or get_processed_dir()
    _warn_last_clean(args.processed_dir)
    try:
        return int(args.func(args) or 0)
    except (InputFileError, ParameterError, FileNotFoundError) as exc:
        print(f"analyse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("analyse: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
