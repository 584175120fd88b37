"""The text of each page of a PDF printed by Chromium (Skia), with the standard library only.

Enough of PDF for what Skia writes: indirect objects with Flate streams, a page tree, Type0 /
TrueType fonts with a ``ToUnicode`` CMap, text shown by ``Tj`` / ``TJ`` in content streams and
form XObjects. It answers "which words are printed on page n" (the print test checks the running
header on every page); it does not rebuild the layout. A glyph whose font has no ``ToUnicode``
entry reads as U+FFFD.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

_OBJ_START = re.compile(rb"(\d+)\s+(\d+)\s+obj\b")
_STREAM = re.compile(rb"stream\r?\n")
_REF = rb"(\d+)\s+\d+\s+R"
_TOKEN = re.compile(
    rb"""(?P<ws>\s+|%[^\r\n]*)
       | (?P<hex><[0-9A-Fa-f\s]*>)
       | (?P<dict><<|>>)
       | (?P<lit>\()
       | (?P<arr>[\[\]])
       | (?P<name>/[^\s/\[\]()<>{}%]*)
       | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+))
       | (?P<op>[A-Za-z'"*][A-Za-z0-9'"*]*)
       | (?P<other>.)""",
    re.S | re.X,
)
_LIT_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


@dataclass
class _Obj:
    body: bytes
    stream: bytes | None = None


@dataclass
class _Font:
    width: int = 1  # bytes per character code
    to_unicode: dict[int, str] = field(default_factory=dict)

    def decode(self, raw: bytes) -> str:
        out = []
        for i in range(0, len(raw) - self.width + 1, self.width):
            code = int.from_bytes(raw[i : i + self.width], "big")
            out.append(self.to_unicode.get(code, "\ufffd"))
        return "".join(out)


def _objects(data: bytes) -> dict[int, _Obj]:
    """Every ``n 0 obj ... endobj`` of the file (streams inflated)."""
    objects: dict[int, _Obj] = {}
    pos = 0
    while True:
        match = _OBJ_START.search(data, pos)
        if match is None:
            return objects
        start = match.end()
        end = data.find(b"endobj", start)
        stream_at = data.find(b"stream", start, end if end >= 0 else len(data))
        if stream_at < 0:
            objects[int(match.group(1))] = _Obj(data[start:end])
            pos = end + 6
            continue
        head = data[start:stream_at]
        opening = _STREAM.match(data, stream_at)
        body_at = opening.end() if opening else stream_at + 7
        length = re.search(rb"/Length\s+(\d+)(?!\s+\d+\s+R)", head)
        if length:
            raw = data[body_at : body_at + int(length.group(1))]
        else:
            raw = data[body_at : data.find(b"endstream", body_at)].rstrip(b"\r\n")
        stream = zlib.decompress(raw) if b"/FlateDecode" in head else raw
        objects[int(match.group(1))] = _Obj(head, stream)
        pos = data.find(b"endobj", body_at + len(raw))
        pos = len(data) if pos < 0 else pos + 6


def _hex(token: bytes) -> bytes:
    digits = re.sub(rb"\s+", b"", token[1:-1])
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits.decode("ascii"))


def _literal(data: bytes, start: int) -> tuple[bytes, int]:
    """A ``(...)`` string starting after its opening parenthesis: (bytes, end offset)."""
    out, depth, i = bytearray(), 1, start
    while i < len(data):
        c = data[i : i + 1]
        if c == b"\\":
            nxt = data[i + 1 : i + 2]
            octal = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out += _LIT_ESCAPES.get(nxt, nxt if nxt not in (b"\n", b"\r") else b"")
            i += 2
            continue
        if c == b"(":
            depth += 1
        elif c == b")":
            depth -= 1
            if depth == 0:
                return bytes(out), i + 1
        out += c
        i += 1
    return bytes(out), i


def _tokens(data: bytes) -> Iterator[tuple[str, bytes]]:
    pos = 0
    while pos < len(data):
        match = _TOKEN.match(data, pos)
        if match is None:  # pragma: no cover - the pattern matches any byte
            return
        kind = match.lastgroup or "other"
        if kind == "lit":
            text, pos = _literal(data, match.end())
            yield "str", text
            continue
        pos = match.end()
        if kind == "hex":
            yield "str", _hex(match.group(0))
        elif kind != "ws":
            yield kind, match.group(0)


def _cmap(stream: bytes) -> tuple[int, dict[int, str]]:
    """A ToUnicode CMap: (bytes per code, code -> text)."""
    table: dict[int, str] = {}
    width = 2

    def text(raw: bytes) -> str:
        return raw.decode("utf-16-be", errors="replace")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        pairs = re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block)
        for src, dst in pairs:
            width = len(src) // 2
            table[int(src, 16)] = text(bytes.fromhex(dst.decode()))
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
        entries = re.findall(
            rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])", block
        )
        for lo, hi, dst in entries:
            width = len(lo) // 2
            first, last = int(lo, 16), int(hi, 16)
            if dst.startswith(b"["):
                targets = re.findall(rb"<([0-9A-Fa-f]*)>", dst)
                for offset, target in enumerate(targets[: last - first + 1]):
                    table[first + offset] = text(bytes.fromhex(target.decode()))
            else:
                base = bytes.fromhex(dst[1:-1].decode())
                start = int.from_bytes(base, "big")
                for offset in range(last - first + 1):
                    value = (start + offset).to_bytes(len(base), "big")
                    table[first + offset] = text(value)
    return width, table


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.objects = _objects(data)
        self.fonts: dict[int, _Font] = {}

    def body(self, ref: int) -> bytes:
        obj = self.objects.get(ref)
        return obj.body if obj else b""

    def resolve_dict(self, body: bytes, key: bytes) -> bytes:
        """The value of ``/key`` in ``body``: an inline ``<<...>>`` or the referenced object."""
        match = re.search(rb"/" + key + rb"\s*(?:" + _REF + rb"|<<)", body)
        if match is None:
            return b""
        if match.group(1):
            return self.body(int(match.group(1)))
        start, depth, i = match.end() - 2, 0, match.end() - 2
        while i < len(body):
            if body.startswith(b"<<", i):
                depth += 1
                i += 2
            elif body.startswith(b">>", i):
                depth -= 1
                i += 2
                if depth == 0:
                    return body[start:i]
            else:
                i += 1
        return body[start:]

    def named_refs(self, resources: bytes, key: bytes) -> dict[bytes, int]:
        table = self.resolve_dict(resources, key)
        return {m.group(1): int(m.group(2)) for m in re.finditer(rb"/(\S+?)\s+" + _REF, table)}

    def font(self, ref: int) -> _Font:
        if ref not in self.fonts:
            font = _Font()
            match = re.search(rb"/ToUnicode\s+" + _REF, self.body(ref))
            obj = self.objects.get(int(match.group(1))) if match else None
            if obj is not None and obj.stream is not None:
                font.width, font.to_unicode = _cmap(obj.stream)
            self.fonts[ref] = font
        return self.fonts[ref]

    def pages(self) -> list[int]:
        """Page objects in reading order (the page tree from the catalogue's /Pages)."""
        root = next(
            (n for n, o in self.objects.items() if re.search(rb"/Type\s*/Catalog\b", o.body)), None
        )
        match = re.search(rb"/Pages\s+" + _REF, self.body(root)) if root is not None else None
        if match is None:
            return sorted(
                n for n, o in self.objects.items() if re.search(rb"/Type\s*/Page\b", o.body)
            )
        out: list[int] = []

        def walk(ref: int, depth: int = 0) -> None:
            body = self.body(ref)
            if re.search(rb"/Type\s*/Page\b", body) or depth > 50:
                out.append(ref)
                return
            kids = re.search(rb"/Kids\s*\[([^\]]*)\]", body)
            for kid in re.findall(_REF, kids.group(1) if kids else b""):
                walk(int(kid), depth + 1)

        walk(int(match.group(1)))
        return out

    def resources_of(self, ref: int) -> bytes:
        body = self.body(ref)
        while b"/Resources" not in body:  # inherited from the parent node
            parent = re.search(rb"/Parent\s+" + _REF, body)
            if parent is None:
                return b""
            body = self.body(int(parent.group(1)))
        return self.resolve_dict(body, b"Resources")

    def contents(self, ref: int) -> list[bytes]:
        body = self.body(ref)
        match = re.search(rb"/Contents\s*(\[[^\]]*\]|" + _REF + rb")", body)
        if match is None:
            return []
        refs = re.findall(_REF, match.group(1))
        return [s for r in refs if (s := self.objects[int(r)].stream) is not None]

    def text(self, streams: list[bytes], resources: bytes, depth: int = 0) -> str:
        fonts = self.named_refs(resources, b"Font")
        xobjects = self.named_refs(resources, b"XObject")
        out: list[str] = []
        for stream in streams:
            operands: list[tuple[str, bytes]] = []
            font = _Font()
            for kind, value in _tokens(stream):
                if kind != "op":
                    operands.append((kind, value))
                    continue
                if value == b"Tf" and len(operands) >= 2 and operands[-2][0] == "name":
                    ref = fonts.get(operands[-2][1][1:])
                    font = self.font(ref) if ref is not None else _Font()
                elif value in (b"Tj", b"TJ", b"'", b'"'):
                    out.extend(font.decode(v) for k, v in operands if k == "str")
                elif value in (b"ET", b"T*", b"TD"):  # end of a run, or a new line
                    out.append(" ")
                elif value == b"Do" and operands and operands[-1][0] == "name" and depth < 10:
                    ref = xobjects.get(operands[-1][1][1:])
                    obj = self.objects.get(ref) if ref is not None else None
                    if obj is not None and obj.stream is not None and b"/Form" in obj.body:
                        own = self.resolve_dict(obj.body, b"Resources") or resources
                        out.append(self.text([obj.stream], own, depth + 1))
                operands = []
        return "".join(out)


def pdf_page_texts(data: bytes) -> list[str]:
    """The text printed on each page of a PDF, in page order: glyphs as drawn (Skia draws the
    spaces), text objects separated by a space, whitespace runs collapsed."""
    reader = _Reader(data)
    return [
        " ".join(reader.text(reader.contents(page), reader.resources_of(page)).split())
        for page in reader.pages()
    ]
