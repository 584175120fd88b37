#!/usr/bin/env python3
"""One entry point for set-up and the project's jobs, on a fresh machine with Python 3.11+.

    python3 tasks.py run     # main job: demo data -> clean -> every report (reports/latest/index.html)
    python3 tasks.py test    # the whole test suite (what CI runs), lint included
    python3 tasks.py lab     # JupyterLab on the project's environment, notebooks/explore ready
    python3 tasks.py bench   # benchmark scripts (figures and ratios, not pass/fail)
    python3 tasks.py lock    # refresh uv.lock after editing pyproject.toml

Each command creates or reuses the local virtual environment ``.venv`` from the lock file
``uv.lock`` (exact versions), installing ``uv`` itself into ``.tools/`` if it is not on PATH.
Only the standard library is used here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
TOOLS = ROOT / ".tools"
UV_VERSION = "0.13.9"


def _bin(venv: Path, name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return venv / sub / f"{name}{suffix}"


def find_uv() -> str:
    """Return a uv executable: on PATH, in .tools, or freshly installed into .tools."""
    found = shutil.which("uv")
    if found:
        return found
    uv = _bin(TOOLS, "uv")
    if not uv.exists():
        print(f"[tasks] installing uv {UV_VERSION} into {TOOLS}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run(
            [str(_bin(TOOLS, "python")), "-m", "pip", "install", "-q", f"uv=={UV_VERSION}"],
            check=True,
        )
    return str(uv)


def sync() -> None:
    """Create or update .venv exactly as uv.lock says (bytecode compiled at install)."""
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)}
    subprocess.run(
        [
            find_uv(),
            "sync",
            "--locked",
            "--all-extras",
            "--compile-bytecode",
            "--python",
            sys.executable,
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        env=env,
    )


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command in the project's environment; exit with its code on failure."""
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{_bin(VENV, 'python').parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env["VIRTUAL_ENV"] = str(VENV)
    print("[tasks] $ " + " ".join(str(a) for a in args), flush=True)
    code = subprocess.run([str(a) for a in args], cwd=ROOT, env=full_env).returncode
    if code != 0:
        sys.exit(code)


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser tests when missing and we may (root + apt)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        print("[tasks] installing chromium (apt) for the browser tests", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    else:
        print("[tasks] chromium not found: browser tests will be skipped", flush=True)


def cmd_run(extra: list[str]) -> None:
    sync()
    install_output_filter()
    py = _bin(VENV, "python")
    run(py, "-m", "analyse", "demo")
    run(py, "-m", "analyse", "clean")
    run(py, "-m", "analyse", "report", "all", *extra)


def cmd_test(extra: list[str]) -> None:
    sync()
    install_output_filter()
    ensure_chromium()
    py = _bin(VENV, "python")
    lint_paths = ["src", "tests", "notebooks", "benchmarks", "tasks.py", "conftest.py"]
    run(py, "-m", "ruff", "check", *lint_paths)
    run(py, "-m", "ruff", "format", "--check", *lint_paths)
    run(py, "-m", "pytest", *extra)


def install_output_filter() -> None:
    """Strip notebook outputs at ``git add`` (nbstripout as a git filter, .gitattributes is
    committed): outputs of an exploration, possibly confidential, never reach git."""
    if not (ROOT / ".git").exists():
        return
    nbstripout = _bin(VENV, "nbstripout")
    subprocess.run([str(nbstripout), "--install"], cwd=ROOT, check=False)


def cmd_lab(extra: list[str]) -> None:
    sync()
    install_output_filter()
    py = _bin(VENV, "python")
    if not (ROOT / "data" / "processed" / "CURRENT").exists():
        run(py, "-m", "analyse", "demo")
        run(py, "-m", "analyse", "clean")
    run(py, "-m", "jupytext", "--sync", *sorted(ROOT.glob("notebooks/*.py")))
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    run(
        py, "-m", "jupyter", "lab", "notebooks/explore.ipynb",
        f"--ServerApp.root_dir={ROOT}", *root_flag, *extra,
    )  # fmt: skip


def cmd_bench(extra: list[str]) -> None:
    sync()
    py = _bin(VENV, "python")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        if not extra or script.stem in extra:
            run(py, script)


def cmd_lock(extra: list[str]) -> None:
    subprocess.run([find_uv(), "lock", *extra], cwd=ROOT, check=True)


COMMANDS = {
    "run": cmd_run,
    "test": cmd_test,
    "lab": cmd_lab,
    "bench": cmd_bench,
    "lock": cmd_lock,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
