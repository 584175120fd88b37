"""Hostile YAML configuration files (run file, fund mapping): refused quickly, with bounded
memory, a message naming file, line and column, and exit code 2 from the command line."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_clean_reference import write_minimal_raw_dir

from analyse.clean.extract_mapping import MappingError, load_mapping
from analyse.cli import main
from analyse.errors import ParameterError
from analyse.report.params import read_run_file
from analyse.sources import SOURCE_PATHS
from analyse.yamlsafe import MAX_BYTES, YamlError, load_yaml, read_yaml_text, short_repr


def alias_bomb(size: int) -> str:
    """A "billion laughs" of ``size`` bytes: 9 levels of 9 aliases each (9**9 leaves)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    text = "\n".join(lines) + "\n"
    return text + "#" * (size - len(text) - 1) + "\n"


BOMB = alias_bomb(530)
BRACKETS = "[" * 20_000 + "]" * 20_000


def measured(fn: Callable[[], Any]) -> tuple[Exception, float, int]:
    """(exception raised, seconds, peak traced bytes) of ``fn``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        error = exc
    else:  # pragma: no cover - the call must fail
        pytest.fail("no error raised")
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, seconds, peak


def test_alias_bomb_is_530_bytes() -> None:
    assert len(BOMB.encode()) == 530 and BOMB.count("*") == 72


@pytest.mark.parametrize(
    ("text", "line", "column", "problem"),
    [
        (BOMB, 1, 4, "anchors (&name) are not allowed"),
        ("a: [1, 2]\nb: *a\n", 2, 4, "aliases (*name) are not allowed"),
        (BRACKETS, 1, 33, "nested deeper than 32 levels"),
        ("{a: " * 20_000, 1, 129, "nested deeper than 32 levels"),
        ("a: 1\n---\nb: 2\n", 2, 1, "one YAML document expected"),
        ("n: " + "9" * 5000, 1, 4, "cannot read value"),
        ("d: 2021-02-30\n", 1, 4, "cannot read value"),
        ("k: !!python/object/apply:os.system [ls]\n", 1, 4, "could not determine a constructor"),
        ("a: [1, 2\n", 2, 1, "did not find expected"),
    ],
)
def test_hostile_yaml_is_refused_at_once(text: str, line: int, column: int, problem: str) -> None:
    error, seconds, peak = measured(lambda: load_yaml(text, source="conf.yml"))
    assert isinstance(error, YamlError)
    assert (error.line, error.column) == (line, column)
    assert problem in error.problem
    assert str(error).startswith(f"conf.yml: line {line}, column {column}: ")
    assert seconds < 0.5 and peak < 4 * 1024 * 1024
    assert len(str(error)) < 300  # built from short values, never the input


def test_ordinary_yaml_still_loads() -> None:
    text = "reports:\n  national: true\n  regions: ['84', '93']\nparameters: {n_boot: 199}\n"
    assert load_yaml(text, source="run.yml") == {
        "reports": {"national": True, "regions": ["84", "93"]},
        "parameters": {"n_boot": 199},
    }
    deep = "a: " + "[" * 31 + "]" * 31  # the mapping and 31 sequences: 32 levels
    assert load_yaml(deep, source="x.yml")["a"] is not None


def test_size_is_checked_before_reading_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    path.write_bytes(b"k: v\n" + b"#" * (4 * MAX_BYTES))
    error, seconds, peak = measured(lambda: read_yaml_text(path))
    assert isinstance(error, YamlError) and "larger than 256 KiB" in str(error)
    assert peak < 2 * MAX_BYTES
    path.write_bytes(b"k: v\n" + b"#" * (MAX_BYTES - 10))
    assert load_yaml(read_yaml_text(path), source=path) == {"k": "v"}


def test_not_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("a: 1\nnom: \xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(YamlError, match=r"latin1\.yml: line 2, column 6: byte 0xe9"):
        read_yaml_text(path)


def test_short_repr_never_builds_the_whole_value() -> None:
    huge: list[Any] = [["x" * 10_000] * 10_000] * 10_000
    start = time.perf_counter()
    text = short_repr(huge, 60)
    assert len(text) <= 60 and time.perf_counter() - start < 0.1


@pytest.mark.parametrize("text", [BOMB, BRACKETS])
def test_run_file_limits(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.yml"
    path.write_text(text, encoding="utf-8")
    error, seconds, peak = measured(lambda: read_run_file(path))
    assert isinstance(error, ParameterError)
    assert str(error).startswith(f"{path}: line 1, column ")
    assert seconds < 0.5 and peak < 4 * 1024 * 1024


@pytest.mark.parametrize("text", [BOMB, BRACKETS])
def test_mapping_limits(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text(text, encoding="utf-8")
    error, seconds, peak = measured(lambda: load_mapping(path))
    assert isinstance(error, MappingError)
    assert str(error).startswith(f"{path}, line 1, column ")
    assert seconds < 0.5 and peak < 4 * 1024 * 1024


def test_mapping_validation_error_shows_a_short_value(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yml"
    path.write_text("delimiter: [" + ", ".join(["';'"] * 20_000) + "]\n", encoding="utf-8")
    with pytest.raises(MappingError, match="key 'delimiter'") as err:
        load_mapping(path)
    assert len(str(err.value)) < 400


@pytest.mark.parametrize("text", [BOMB, BRACKETS])
def test_cli_report_run_file_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "run.yml"
    path.write_text(text, encoding="utf-8")
    code = main(["--processed-dir", str(tmp_path / "p"), "report", "--run-file", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}: line 1, column " in err and "Traceback" not in err


def test_cli_clean_with_a_hostile_mapping_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = write_minimal_raw_dir(tmp_path / "raw")
    projects = raw / SOURCE_PATHS["fund_projects"]
    projects.parent.mkdir(parents=True, exist_ok=True)
    projects.write_text("siren_or_siret\n552100554\n", encoding="utf-8")
    (raw / SOURCE_PATHS["fund_mapping"]).write_text(BRACKETS, encoding="utf-8")
    code = main(["--raw-dir", str(raw), "--processed-dir", str(tmp_path / "p"), "clean"])
    err = capsys.readouterr().err
    assert code == 2
    assert "mapping.yml, line 1, column 33" in err and "nested deeper" in err
    assert "Traceback" not in err
