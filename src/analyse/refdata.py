"""The reference snapshot: the real public files the project reads, shipped with it.

``data/reference/`` holds each file of the snapshot compressed with xz (stdlib :mod:`lzma`),
``reference.json`` (per source: path under ``data/raw``, compressed file name, size and SHA-256
of the original and of the compressed file, vintage, where the bytes were obtained) and
``REFERENCE.md`` (the table of publishers, addresses, licences and checksums, with the
attribution the licences ask for), generated from ``reference.json`` and the registry.

The snapshot is three things at once:

- the offline default: ``analyse fetch --reference`` (:func:`materialise_reference`)
  decompresses the files into ``data/raw``, checking every SHA-256;
- the pins: a downloaded or mirrored file must equal the pinned size and SHA-256 of its source
  (:func:`get_pin`), or be accepted explicitly as a new vintage (``--accept-new-vintage``);
- the attribution: :func:`attribution_fr` gives the lines (source and date of last update)
  that Licence Ouverte 2.0 asks reusers to show.

Maintenance (a new source such as ``outlines``, or a new supported vintage)::

    python -m analyse.refdata build <source_id> <original file> [--from "where it came from"]
    python -m analyse.refdata verify
    python -m analyse.refdata render

``build`` checks the file with fetch's format check, compresses it, updates ``reference.json``,
``REFERENCE.md`` and ``docs/sources.md``; the source must be in :data:`analyse.sources.SOURCES`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from analyse.errors import InputFileError, ParameterError
from analyse.files import sha256_file, write_bytes_atomic, write_text_atomic
from analyse.sources import SOURCES, Source, get_source

REFERENCE_JSON = "reference.json"
REFERENCE_MD = "REFERENCE.md"
#: Manifest ``origin`` of a file materialised from the snapshot.
ORIGIN = "reference snapshot (data/reference)"
#: Budget of the compressed files in git.
BUDGET_BYTES = 8 * 1024 * 1024
_PRESET = 9 | lzma.PRESET_EXTREME
_CHUNK = 1 << 20
_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ReferenceFile:
    """One file of the snapshot, as ``reference.json`` records it (the pin of its source)."""

    id: str  # source id
    path: str  # under data/raw
    file: str  # compressed file name in data/reference
    size_bytes: int  # original
    sha256: str  # original
    compressed_size_bytes: int
    compressed_sha256: str
    vintage: str
    obtained_from: str


def get_reference_dir() -> Path:
    """``data/reference`` of this checkout (``ANALYSE_REFERENCE_DIR`` overrides it)."""
    value = os.environ.get("ANALYSE_REFERENCE_DIR")
    return Path(value).resolve() if value else _ROOT / "data" / "reference"


_CACHE: dict[Path, tuple[tuple[int, int], dict[str, ReferenceFile]]] = {}


def load_reference(reference_dir: Path | None = None) -> dict[str, ReferenceFile]:
    """Every file of the snapshot by source id (``{}`` when there is no ``reference.json``)."""
    path = Path(reference_dir or get_reference_dir()) / REFERENCE_JSON
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["sources"]
        files = {e["id"]: ReferenceFile(**e) for e in entries}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(path, "the snapshot's list of files", found=str(exc)) from exc
    _CACHE[path] = (key, files)
    return files


def get_pin(source_id: str, reference_dir: Path | None = None) -> ReferenceFile | None:
    """The pinned vintage (size, SHA-256) of ``source_id``, or ``None`` if it is not pinned."""
    return load_reference(reference_dir).get(get_source(source_id).id)


def compressed_name(source: Source) -> str:
    """File name of ``source`` in the snapshot: ``<id><suffix of its path>.xz``."""
    return f"{source.id}{Path(source.path).suffix}.xz"


def decompress(ref: ReferenceFile, out: IO[bytes], reference_dir: Path | None = None) -> str:
    """Write the original bytes of ``ref`` to ``out``; return their SHA-256.

    Raises :class:`InputFileError` when the compressed file is missing or corrupt, or when the
    bytes differ from the pinned size or SHA-256 (``out`` then holds bytes to discard).
    """
    path = Path(reference_dir or get_reference_dir()) / ref.file
    digest, size = hashlib.sha256(), 0
    try:
        with lzma.open(path, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except FileNotFoundError as exc:
        raise InputFileError(path, f"the snapshot file of {ref.id!r}", found="no file") from exc
    except (lzma.LZMAError, EOFError) as exc:
        raise InputFileError(path, "an intact xz file", found=str(exc)) from exc
    sha = digest.hexdigest()
    if (size, sha) != (ref.size_bytes, ref.sha256):
        raise InputFileError(
            path,
            f"{ref.size_bytes} bytes with sha256 {ref.sha256} once decompressed",
            found=f"{size} bytes with sha256 {sha}",
        )
    return sha


def materialise_reference(
    raw_dir: Path, source_ids: Sequence[str] | None = None, *, reference_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Decompress the snapshot into ``raw_dir``; see :func:`analyse.fetch.materialise_reference`."""
    from analyse.fetch import materialise_reference as materialise

    return materialise(raw_dir, source_ids, reference_dir=reference_dir)


# ---------------------------------------------------------------------------------------------
# attribution


def _date_fr(updated: str) -> str:
    from analyse.formatting import MONTHS_FR, format_date_fr

    if len(updated) == 10:
        return format_date_fr(updated)
    if len(updated) == 7:
        return f"{MONTHS_FR[int(updated[5:7]) - 1]} {updated[:4]}"
    return updated


def _licence_fr(licence: str) -> str:
    return "domaine public" if licence.lower().startswith("public domain") else licence


def attributions(source_ids: Iterable[str] | None = None) -> list[dict[str, str]]:
    """Attribution of the sources (default: those in the snapshot), one per data set.

    Sources sharing their ``attribution_fr`` text (the three baromètre files...) form one data
    set, dated by the latest ``updated`` among them. Keys: ``text``, ``licence``, ``updated``
    (ISO, possibly empty), ``url`` (first official address or page), ``source_ids``.
    """
    ids = list(load_reference()) if source_ids is None else [get_source(i).id for i in source_ids]
    groups: dict[str, dict[str, Any]] = {}
    for source in (SOURCES[i] for i in SOURCES if i in ids):
        text = source.attribution_fr or source.title
        group = groups.setdefault(
            text,
            {"text": text, "licence": source.licence, "updated": "", "url": "", "source_ids": []},
        )
        group["source_ids"].append(source.id)
        group["updated"] = max(group["updated"], source.updated)
        group["url"] = group["url"] or source.url or source.extra.get("page", "")
    return [{**g, "source_ids": ",".join(g["source_ids"])} for g in groups.values()]


def attribution_fr(source_ids: Iterable[str] | None = None) -> list[str]:
    """French attribution lines (source, licence, date of last update) for pages and README.

    Licence Ouverte 2.0 asks reusers to name the source of the information and the date of its
    last update; one line per data set of :func:`attributions`, e.g. ``"Zones d'emploi 2020 au
    1er janvier 2023, composition communale : INSEE — Licence Ouverte / Etalab 2.0, dernière
    mise à jour : 2023."``
    """
    lines = []
    for a in attributions(source_ids):
        line = f"{a['text']} — {_licence_fr(a['licence'])}"
        if a["updated"]:
            line += f", dernière mise à jour : {_date_fr(a['updated'])}"
        lines.append(line + ".")
    return lines


# ---------------------------------------------------------------------------------------------
# REFERENCE.md


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _address(source: Source) -> str:
    if source.url:
        return f"<{source.url}>"
    page = source.extra.get("page")
    return f"none (page <{page}>)" if page else "none"


def render_reference_markdown(reference: dict[str, ReferenceFile] | None = None) -> str:
    """``REFERENCE.md``: the snapshot's sources, checksums and attribution."""
    files = load_reference() if reference is None else reference
    total = sum(f.compressed_size_bytes for f in files.values())
    lines = [
        "# Reference snapshot of the public sources",
        "",
        "Generated by `python -m analyse.refdata render` from `reference.json` and the source",
        "registry (`analyse.sources`); do not edit by hand (a test compares).",
        "",
        "These are the real public files the project reads, each compressed with xz. They are",
        "the offline default (`analyse fetch --reference` decompresses them into `data/raw`,",
        "checking every SHA-256), and they pin the vintage the project supports: a downloaded",
        "or mirrored file whose size or SHA-256 differs from the row below is refused unless",
        "`analyse fetch --accept-new-vintage` is given. Read through the same readers as a",
        "fetched file.",
        "",
        f"{len(files)} files, {total:,} bytes compressed (budget {BUDGET_BYTES:,} bytes).",
        "",
        "| source | publisher | title | official address | licence | vintage "
        "| size (bytes) | sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ref in files.values():
        s = SOURCES[ref.id]
        row = (f"`{s.id}`", s.publisher, s.title, _address(s), s.licence, ref.vintage)
        lines.append(
            "| " + " | ".join(_cell(x) for x in row) + f" | {ref.size_bytes:,} | `{ref.sha256}` |"
        )
    lines += [
        "",
        "## Files",
        "",
        "| source | path under `data/raw` | compressed file | xz size (bytes) | xz sha256 "
        "| bytes obtained from |",
        "|---|---|---|---|---|---|",
    ]
    for ref in files.values():
        lines.append(
            f"| `{ref.id}` | `{ref.path}` | `{ref.file}` | {ref.compressed_size_bytes:,} "
            f"| `{ref.compressed_sha256}` | {_cell(ref.obtained_from)} |"
        )
    lines += [
        "",
        "## Attribution",
        "",
        "Licence Ouverte / Etalab 2.0 asks reusers to mention the source of the information and",
        "the date of its last update. `analyse.refdata.attribution_fr()` returns these lines for",
        "the README and every page's provenance block:",
        "",
        *(f"- {line}" for line in attribution_fr(files)),
        "",
        "## Adding or refreshing a file",
        "",
        "```",
        'python -m analyse.refdata build <source_id> <original file> [--from "origin"]',
        "```",
        "",
        "checks the file with the format check of `analyse fetch`, compresses it here and",
        "rewrites `reference.json`, this page and `docs/sources.md`. The source must be in the",
        "registry (`analyse.sources`), whose `vintage` the pin records. "
        "`python -m analyse.refdata verify`",
        "re-hashes every file.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# maintenance


def _write_reference(files: dict[str, ReferenceFile], reference_dir: Path) -> None:
    order = {source_id: n for n, source_id in enumerate(SOURCES)}
    ordered = dict(sorted(files.items(), key=lambda item: order[item[0]]))
    document = {
        "about": (
            "Pinned vintage of each public source, shipped compressed with xz "
            "(see REFERENCE.md); sizes and sha256 of the original and of the compressed file."
        ),
        "compression": "xz (Python lzma, preset 9 extreme, CRC64 check)",
        "sources": [asdict(f) for f in ordered.values()],
    }
    write_text_atomic(
        reference_dir / REFERENCE_JSON, json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    )
    write_text_atomic(reference_dir / REFERENCE_MD, render_reference_markdown(ordered))
    if reference_dir.resolve() == _ROOT / "data" / "reference" and (_ROOT / "docs").is_dir():
        from analyse.sources import render_sources_markdown

        write_text_atomic(_ROOT / "docs" / "sources.md", render_sources_markdown())


def build_reference_file(
    source_id: str,
    original: Path,
    *,
    reference_dir: Path | None = None,
    obtained_from: str | None = None,
) -> ReferenceFile:
    """Compress ``original`` into the snapshot as the pinned file of ``source_id``.

    The file must pass the format check of ``analyse fetch`` for its source; the snapshot must
    stay within :data:`BUDGET_BYTES`. Rewrites ``reference.json`` and ``REFERENCE.md`` (and
    ``docs/sources.md`` for the project's own snapshot). Returns the new entry.
    """
    from analyse.fetch import check_format

    source = get_source(source_id)
    original = Path(original)
    if not original.is_file():
        raise InputFileError(original, f"the original file of {source_id!r}", found="no file")
    check_format(source, original, shown=original, length_known=True)
    reference_dir = Path(reference_dir or get_reference_dir())
    reference_dir.mkdir(parents=True, exist_ok=True)
    files = dict(load_reference(reference_dir))
    data = lzma.compress(original.read_bytes(), preset=_PRESET)
    others = sum(f.compressed_size_bytes for i, f in files.items() if i != source.id)
    if others + len(data) > BUDGET_BYTES:
        raise ParameterError(
            f"{source_id}: {len(data):,} compressed bytes would bring the snapshot to "
            f"{others + len(data):,} bytes, over its budget of {BUDGET_BYTES:,}"
        )
    entry = ReferenceFile(
        id=source.id,
        path=source.path,
        file=compressed_name(source),
        size_bytes=original.stat().st_size,
        sha256=sha256_file(original),
        compressed_size_bytes=len(data),
        compressed_sha256=hashlib.sha256(data).hexdigest(),
        vintage=source.vintage,
        obtained_from=obtained_from or source.url or f"local file {original.name}",
    )
    write_bytes_atomic(reference_dir / entry.file, data)
    files[source.id] = entry
    _write_reference(files, reference_dir)
    return entry


def verify_reference(reference_dir: Path | None = None) -> list[str]:
    """Re-hash every compressed file and its decompressed bytes; return the problems."""
    reference_dir = Path(reference_dir or get_reference_dir())
    problems = []
    for ref in load_reference(reference_dir).values():
        path = reference_dir / ref.file
        if not path.is_file():
            problems.append(f"missing: {ref.file}")
            continue
        if sha256_file(path) != ref.compressed_sha256:
            problems.append(f"changed: {ref.file} (compressed sha256)")
            continue
        try:
            with open(os.devnull, "wb") as sink:
                decompress(ref, sink, reference_dir)
        except InputFileError as exc:
            problems.append(f"changed: {exc}")
        if SOURCES[ref.id].path != ref.path:
            problems.append(f"moved: {ref.id} is at {SOURCES[ref.id].path} in the registry")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analyse.refdata {build,verify,render}``."""
    parser = argparse.ArgumentParser(prog="python -m analyse.refdata", description=__doc__)
    parser.add_argument("--reference-dir", type=Path, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="compress a file into the snapshot and pin it")
    p.add_argument("source_id")
    p.add_argument("original", type=Path)
    p.add_argument("--from", dest="obtained_from", help="where the bytes were obtained")
    sub.add_parser("verify", help="re-hash every file of the snapshot")
    sub.add_parser("render", help="rewrite REFERENCE.md (and docs/sources.md)")
    args = parser.parse_args(argv)
    reference_dir = args.reference_dir or get_reference_dir()
    try:
        if args.command == "build":
            entry = build_reference_file(
                args.source_id,
                args.original,
                reference_dir=reference_dir,
                obtained_from=args.obtained_from,
            )
            print(
                f"{entry.id}: {entry.size_bytes:,} bytes -> {entry.file} "
                f"({entry.compressed_size_bytes:,} bytes), sha256 {entry.sha256}"
            )
        elif args.command == "verify":
            problems = verify_reference(reference_dir)
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"{len(load_reference(reference_dir))} files, {len(problems)} problems")
            return 1 if problems else 0
        else:
            _write_reference(dict(load_reference(reference_dir)), reference_dir)
    except (InputFileError, ParameterError) as exc:
        print(f"refdata: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
