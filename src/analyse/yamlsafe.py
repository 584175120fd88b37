"""Bounded YAML for the project's configuration files (fund mapping, report run file).

``yaml.safe_load`` refuses arbitrary Python objects, but not inputs built to exhaust the machine:
a 530-byte file of nested aliases expands to billions of nodes (the "billion laughs"), 20,000
nested brackets overflow Python's recursion, and error messages that ``repr()`` the input can
take minutes. The loaders here check, **before any Python object is built**:

* the size of the file (:data:`MAX_BYTES`, read at most that many bytes plus one);
* the parse events, scanned with yaml's safe parser (libyaml when available): aliases and
  anchors are refused outright (configuration files never need them), the nesting depth is
  capped (:data:`MAX_DEPTH`), only one document is allowed;

then build the objects with yaml's safe loader. Every problem raises :class:`YamlError` naming
the file, line and column, with values shortened (:func:`short_repr`), never the whole input.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_BYTES", "MAX_DEPTH", "YamlError", "load_yaml", "read_yaml_text", "short_repr"]

#: Largest configuration file accepted (a mapping or run file is a few KiB).
MAX_BYTES = 256 * 1024
#: Deepest nesting of mappings and sequences accepted (configuration files use 3 or 4).
MAX_DEPTH = 32
#: Longest problem text kept in an error message.
_MAX_PROBLEM = 200

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """A configuration file that is not acceptable YAML: names the file, line and column."""

    def __init__(
        self,
        source: str | Path,
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.source = str(source)
        self.problem = problem[:_MAX_PROBLEM]
        self.line = line  # 1-based
        self.column = column  # 1-based
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        at = f": {', '.join(where)}" if where else ""
        super().__init__(f"{self.source}{at}: {self.problem}")


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` of a value shortened while it is built (a huge nested value costs nothing)."""
    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxstring = shortener.maxother = limit
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 6
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml_text(path: str | Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The text of a configuration file: at most ``max_bytes`` bytes of UTF-8 (BOM allowed).

    FileNotFoundError when it is missing; :class:`YamlError` when it is too large or not UTF-8.
    """
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlError(path, f"file larger than {max_bytes // 1024} KiB (a configuration file)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(
            path, f"byte 0x{data[exc.start]:02x} is not UTF-8", line=line, column=column
        ) from exc


def _mark_error(source: str | Path, problem: str, mark: Any) -> YamlError:
    if mark is None:
        return YamlError(source, problem)
    return YamlError(source, problem, line=mark.line + 1, column=mark.column + 1)


def _check_events(text: str, source: str | Path, max_depth: int) -> None:
    """Scan the parse events (no object built): refuse aliases, anchors, deep nesting and
    several documents."""
    depth = documents = 0
    for event in yaml.parse(text, Loader=_Loader):
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            raise _mark_error(source, "aliases (*name) are not allowed", mark)
        if getattr(event, "anchor", None) is not None:
            raise _mark_error(source, "anchors (&name) are not allowed", mark)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _mark_error(source, f"nested deeper than {max_depth} levels", mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _mark_error(source, "one YAML document expected, found several", mark)


class _BoundedLoader(_Loader):  # type: ignore[misc, valid-type]
    """yaml's safe loader whose value errors (a 5,000-digit integer, 30 February) name the node
    instead of escaping as a traceback."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, yaml.YAMLError):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read value ({str(exc)[:120]})", node.start_mark
            ) from exc


def load_yaml(text: str, *, source: str | Path, max_depth: int = MAX_DEPTH) -> Any:
    """Python objects of a YAML configuration text, checked as the module docstring says.

    ``source`` names the file in error messages. Raises :class:`YamlError`.
    """
    try:
        _check_events(text, source, max_depth)
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise _mark_error(source, problem, exc.problem_mark or exc.context_mark) from exc
    except yaml.YAMLError as exc:
        raise YamlError(source, f"not valid YAML ({str(exc)[:120]})") from exc
    except RecursionError as exc:  # pragma: no cover - depth is capped before building
        raise YamlError(source, "nested too deeply") from exc
