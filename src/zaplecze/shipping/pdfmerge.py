"""Merge PDF documents (carrier labels) into one, page after page, with the standard library only.

No PDF library is installed, so this is a small, deliberately limited reader/writer:

* objects are found by scanning the file for `N G obj ... endobj` (so a damaged cross-reference table does
  not matter; a later definition of an object wins, as with incremental updates), and compressed object
  streams (`/Type /ObjStm`, FlateDecode) are unpacked;
* the catalog comes from the last `trailer` or cross-reference stream (`/Root`), else the last `/Catalog`;
* each page is copied with every object it reaches (fonts, images, content streams, annotations) renumbered;
  inherited page attributes (Resources, MediaBox, CropBox, Rotate) are written onto the page;
* streams are copied byte for byte, filters untouched. Encrypted documents are refused.

That covers what carriers' label services produce. If `pypdf` is ever pinned, it can replace this module
behind the same `merge()` function."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any


class PdfError(ValueError):
    pass


class Name(bytes):
    """/Name (stored without the slash, #xx escapes decoded)."""


class PString(bytes):
    """A string (literal or hex), decoded to its bytes."""


class Raw(bytes):
    """A number, true, false or null, kept exactly as written."""


@dataclass(frozen=True)
class Ref:
    num: int
    gen: int


@dataclass
class Stream:
    dict: dict
    data: bytes


WS = b"\x00\t\n\x0c\r "
DELIM = b"()<>[]{}/%"
_OBJ = re.compile(rb"(?<![0-9])(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj(?![A-Za-z])")
_INT = re.compile(rb"[+-]?\d+$")
INHERITED = (b"Resources", b"MediaBox", b"CropBox", b"Rotate")


def _skip_ws(data: bytes, pos: int) -> int:
    n = len(data)
    while pos < n:
        c = data[pos]
        if c in WS:
            pos += 1
        elif c == 0x25:  # % comment
            while pos < n and data[pos] not in b"\r\n":
                pos += 1
        else:
            break
    return pos


def _token(data: bytes, pos: int) -> tuple[bytes, int]:
    start = pos
    n = len(data)
    while pos < n and data[pos] not in WS and data[pos] not in DELIM:
        pos += 1
    return data[start:pos], pos


def _literal(data: bytes, pos: int) -> tuple[PString, int]:
    out = bytearray()
    depth = 1
    pos += 1
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 0x5C:  # backslash
            pos += 1
            if pos >= n:
                break
            e = data[pos]
            simple = {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x66: 12, 0x28: 0x28, 0x29: 0x29, 0x5C: 0x5C}
            if e in simple:
                out.append(simple[e])
                pos += 1
            elif 0x30 <= e <= 0x37:
                digits = data[pos : pos + 3]
                m = re.match(rb"[0-7]{1,3}", digits)
                assert m is not None
                out.append(int(m.group(0), 8) & 0xFF)
                pos += len(m.group(0))
            elif e == 0x0D:
                pos += 2 if data[pos + 1 : pos + 2] == b"\n" else 1
            elif e == 0x0A:
                pos += 1
            else:
                out.append(e)
                pos += 1
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return PString(bytes(out)), pos + 1
        out.append(c)
        pos += 1
    raise PdfError("unterminated string")


def parse_object(data: bytes, pos: int) -> tuple[Any, int]:
    pos = _skip_ws(data, pos)
    if pos >= len(data):
        raise PdfError("unexpected end of data")
    c = data[pos : pos + 1]
    if data.startswith(b"<<", pos):
        pos += 2
        out: dict = {}
        while True:
            pos = _skip_ws(data, pos)
            if data.startswith(b">>", pos):
                return out, pos + 2
            key, pos = parse_object(data, pos)
            if not isinstance(key, Name):
                raise PdfError("dictionary key is not a name")
            value, pos = parse_object(data, pos)
            out[key] = value
    if c == b"<":
        end = data.find(b">", pos)
        if end < 0:
            raise PdfError("unterminated hex string")
        hexdigits = re.sub(rb"[^0-9A-Fa-f]", b"", data[pos + 1 : end])
        if len(hexdigits) % 2:
            hexdigits += b"0"
        return PString(bytes.fromhex(hexdigits.decode())), end + 1
    if c == b"(":
        return _literal(data, pos)
    if c == b"[":
        pos += 1
        items = []
        while True:
            pos = _skip_ws(data, pos)
            if data.startswith(b"]", pos):
                return items, pos + 1
            item, pos = parse_object(data, pos)
            items.append(item)
    if c == b"/":
        raw, end = _token(data, pos + 1)
        return Name(re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)), end
    tok, end = _token(data, pos)
    if not tok:
        raise PdfError(f"unexpected byte {c!r} at {pos}")
    if _INT.match(tok):
        # "N G R" is a reference
        p2 = _skip_ws(data, end)
        gen, p3 = _token(data, p2)
        if gen and _INT.match(gen):
            p4 = _skip_ws(data, p3)
            r, p5 = _token(data, p4)
            if r == b"R":
                return Ref(int(tok), int(gen)), p5
    return Raw(tok), end


def _stream_after(data: bytes, header: dict, pos: int) -> tuple[bytes, int]:
    """The stream's bytes starting at `pos` (just after the `stream` keyword) and the position after it."""
    if data.startswith(b"\r\n", pos):
        pos += 2
    elif data[pos : pos + 1] in (b"\n", b"\r"):
        pos += 1
    length = header.get(b"Length")
    if isinstance(length, Raw) and length.isdigit():
        end = pos + int(length)
        after = _skip_ws(data, end)
        if data.startswith(b"endstream", after):
            return data[pos:end], after + 9
    end = data.find(b"endstream", pos)
    if end < 0:
        raise PdfError("unterminated stream")
    body = data[pos:end]
    if body.endswith(b"\r\n"):
        body = body[:-2]
    elif body.endswith((b"\n", b"\r")):
        body = body[:-1]
    return body, end + 9


def _decode(stream: Stream) -> bytes:
    filt = stream.dict.get(b"Filter")
    filters = filt if isinstance(filt, list) else ([filt] if filt is not None else [])
    data = stream.data
    for f in filters:
        if f != b"FlateDecode":
            raise PdfError(f"unsupported filter {bytes(f)!r} in an object stream")
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise PdfError(f"broken compressed object stream: {exc}")
    parms = stream.dict.get(b"DecodeParms")
    if isinstance(parms, dict) and parms.get(b"Predictor") not in (None, Raw(b"1")):
        raise PdfError("predictors in object streams are not supported")
    return data


class Document:
    def __init__(self, data: bytes) -> None:
        if not data.startswith(b"%PDF-"):
            raise PdfError("not a PDF")
        self.data = data
        self.objects: dict[int, Any] = {}
        self.trailers: list[dict] = []
        self._scan()
        self.root = self._root()

    def _scan(self) -> None:
        data = self.data
        pos = 0
        streams: list[tuple[int, Stream]] = []
        while True:
            m = _OBJ.search(data, pos)
            if m is None:
                break
            num = int(m.group(1))
            try:
                obj, p = parse_object(data, m.end())
                if isinstance(obj, Raw) and obj == b"endobj":
                    obj, p = None, p - 6  # an empty object
                p = _skip_ws(data, p)
                if isinstance(obj, dict) and data.startswith(b"stream", p):
                    body, p = _stream_after(data, obj, p + 6)
                    obj = Stream(obj, body)
                    streams.append((num, obj))
            except PdfError:
                pos = m.end()
                continue
            self.objects[num] = obj
            pos = p
        for m in re.finditer(rb"trailer", data):
            try:
                obj, _ = parse_object(data, m.end())
            except PdfError:
                continue
            if isinstance(obj, dict):
                self.trailers.append(obj)
        for _num, stream in streams:
            kind = stream.dict.get(b"Type")
            if kind == b"XRef":
                self.trailers.append(stream.dict)
            elif kind == b"ObjStm":
                self._unpack(stream)

    def _unpack(self, stream: Stream) -> None:
        body = _decode(stream)
        try:
            n = int(stream.dict[b"N"])
            first = int(stream.dict[b"First"])
        except (KeyError, ValueError):
            raise PdfError("object stream without N / First")
        header = body[:first].split()
        for i in range(n):
            num, offset = int(header[2 * i]), int(header[2 * i + 1])
            if num in self.objects:
                continue  # a direct definition wins
            obj, _ = parse_object(body, first + offset)
            self.objects[num] = obj

    def _root(self) -> dict:
        for trailer in reversed(self.trailers):
            if b"Encrypt" in trailer:
                raise PdfError("encrypted PDFs are not supported")
        for trailer in reversed(self.trailers):
            root = self.resolve(trailer.get(b"Root"))
            if isinstance(root, dict):
                return root
        catalogs = [o for o in self.objects.values() if isinstance(o, dict) and o.get(b"Type") == b"Catalog"]
        if not catalogs:
            raise PdfError("no document catalog")
        return catalogs[-1]

    def resolve(self, value: Any) -> Any:
        seen = 0
        while isinstance(value, Ref):
            value = self.objects.get(value.num)
            seen += 1
            if seen > 32:
                raise PdfError("reference loop")
        return value

    def pages(self) -> list[tuple[Ref | None, dict]]:
        """(reference, page dictionary with inherited attributes filled in) in reading order."""
        out: list[tuple[Ref | None, dict]] = []
        visited: set[int] = set()

        def walk(ref: Any, inherited: dict, depth: int) -> None:
            if depth > 64:
                raise PdfError("page tree too deep")
            if isinstance(ref, Ref):
                if ref.num in visited:
                    return
                visited.add(ref.num)
            node = self.resolve(ref)
            if not isinstance(node, dict):
                return
            attrs = dict(inherited)
            for key in INHERITED:
                if key in node:
                    attrs[key] = node[key]
            kids = self.resolve(node.get(b"Kids"))
            if node.get(b"Type") == b"Pages" or (isinstance(kids, list) and node.get(b"Type") != b"Page"):
                for kid in kids if isinstance(kids, list) else []:
                    walk(kid, attrs, depth + 1)
                return
            page = dict(node)
            for key, value in attrs.items():
                page.setdefault(key, value)
            out.append((ref if isinstance(ref, Ref) else None, page))

        walk(self.root.get(b"Pages"), {}, 0)
        return out


def _name(value: bytes) -> bytes:
    out = bytearray(b"/")
    for b in value:
        if 0x21 <= b <= 0x7E and b not in DELIM and b != 0x23:
            out.append(b)
        else:
            out += b"#%02X" % b
    return bytes(out)


class _Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.objects: list[Any] = [None]  # 1-based

    def reserve(self) -> int:
        self.objects.append(None)
        return len(self.objects) - 1

    def set(self, num: int, obj: Any) -> None:
        self.objects[num] = obj

    def serialize(self, value: Any) -> bytes:
        if isinstance(value, Ref):
            return b"%d 0 R" % value.num
        if isinstance(value, Name):
            return _name(value)
        if isinstance(value, PString):
            return b"<" + value.hex().encode() + b">"
        if isinstance(value, Raw):
            return bytes(value)
        if isinstance(value, dict):
            return b"<<" + b" ".join(_name(k) + b" " + self.serialize(v) for k, v in value.items()) + b">>"
        if isinstance(value, list):
            return b"[" + b" ".join(self.serialize(v) for v in value) + b"]"
        if value is None:
            return b"null"
        raise PdfError(f"cannot write {type(value).__name__}")

    def output(self, root_num: int) -> bytes:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = [0]
        for num in range(1, len(self.objects)):
            offsets.append(len(out))
            obj = self.objects[num]
            out += b"%d 0 obj\n" % num
            if isinstance(obj, Stream):
                header = {k: v for k, v in obj.dict.items() if k != b"Length"}
                header[Name(b"Length")] = Raw(str(len(obj.data)).encode())
                out += self.serialize(header) + b"\nstream\n" + obj.data + b"\nendstream"
            else:
                out += self.serialize(obj)
            out += b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f\r\n" % len(self.objects)
        for off in offsets[1:]:
            out += b"%010d 00000 n\r\n" % off
        out += b"trailer\n<</Size %d /Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
            len(self.objects),
            root_num,
            xref,
        )
        return bytes(out)


def merge(documents: list[bytes]) -> bytes:
    """One PDF with every page of every document, in order. Raises PdfError for input it cannot read."""
    if not documents:
        raise PdfError("nothing to merge")
    w = _Writer()
    catalog_num = w.reserve()
    pages_num = w.reserve()
    kids: list[Ref] = []
    for index, data in enumerate(documents):
        try:
            doc = Document(data)
        except PdfError as exc:
            raise PdfError(f"document {index + 1}: {exc}") from None
        mapping: dict[int, int] = {}

        def copy(value: Any, doc: Document = doc, mapping: dict[int, int] = mapping) -> Any:
            if isinstance(value, Ref):
                if value.num not in doc.objects:
                    return None
                if value.num not in mapping:
                    mapping[value.num] = w.reserve()
                    target = doc.objects[value.num]
                    if isinstance(target, dict) and target.get(b"Type") == b"Page":
                        # a page reached through a link: its place in the old page tree is not copied
                        target = {k: v for k, v in target.items() if k != b"Parent"}
                    w.set(mapping[value.num], copy(target))
                return Ref(mapping[value.num], 0)
            if isinstance(value, Stream):
                return Stream({k: copy(v) for k, v in value.dict.items() if k != b"Length"}, value.data)
            if isinstance(value, dict):
                return {k: copy(v) for k, v in value.items()}
            if isinstance(value, list):
                return [copy(v) for v in value]
            return value

        for ref, page in doc.pages():
            num = mapping.get(ref.num) if ref is not None else None
            if num is None:
                num = w.reserve()
                if ref is not None:
                    mapping[ref.num] = num
            body = {k: v for k, v in page.items() if k != b"Parent"}
            copied = {k: copy(v) for k, v in body.items()}
            copied[Name(b"Parent")] = Ref(pages_num, 0)
            w.set(num, copied)
            kids.append(Ref(num, 0))
    if not kids:
        raise PdfError("the documents have no pages")
    w.set(
        pages_num,
        {Name(b"Type"): Name(b"Pages"), Name(b"Kids"): kids, Name(b"Count"): Raw(b"%d" % len(kids))},
    )
    w.set(catalog_num, {Name(b"Type"): Name(b"Catalog"), Name(b"Pages"): Ref(pages_num, 0)})
    return w.output(catalog_num)


def page_count(data: bytes) -> int:
    return len(Document(data).pages())
