"""``analyse audit-secrecy RUN_DIR``: the secrecy attack on a published run (thin wrapper over
:mod:`analyse.audit.secrecy`, imported only when the command runs).

    analyse audit-secrecy reports/latest
    analyse audit-secrecy reports/<run-id> --truth cells_true.parquet --zero-fill

Writes ``RUN_DIR/logs/audit.json`` and prints a French / English summary. Exit code: 0 no masked
value recovered or bounded within +-25 % and the pages agree with each other; 1 otherwise;
2 invalid parameters (no such folder, bad truth file).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_audit_secrecy(args: argparse.Namespace) -> int:
    from analyse.audit.secrecy import audit_secrecy, read_truth, summarise, write_audit

    truth = read_truth(args.truth) if args.truth else None
    result = audit_secrecy(
        args.run_dir, protection=args.protection, truth=truth, zero_fill=args.zero_fill
    )
    out = write_audit(result, args.out or Path(args.run_dir) / "logs" / "audit.json")
    print(summarise(result))
    print(f"details: {out}")
    return 1 if result.failed else 0


def add_audit_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``audit-secrecy`` on the ``analyse`` command's sub-parsers."""
    p = sub.add_parser(
        "audit-secrecy",
        help="attack a report run's published values: exit 1 when a masked value is recovered",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, help="a report run folder (reports/<run-id>)")
    p.add_argument(
        "--truth",
        type=Path,
        help="parquet of true values (cell_key, measure, value): apply the ±25 %% rule to them",
    )
    p.add_argument(
        "--protection", type=float, default=0.25, help="protection interval (default 0.25)"
    )
    p.add_argument(
        "--zero-fill",
        action="store_true",
        help="read a breakdown's values missing from the pages as 0 (tables omit empty rows)",
    )
    p.add_argument(
        "--out", type=Path, help="where to write the JSON (default RUN_DIR/logs/audit.json)"
    )
    p.set_defaults(func=_cmd_audit_secrecy)
