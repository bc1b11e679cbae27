"""Merging label PDFs into one document without a PDF library."""

from __future__ import annotations

import re
import zlib

import pytest

from zaplecze.shipping import pdfmerge

from .fakeshipx import make_pdf


def _check_xref(pdf: bytes) -> None:
    """Every offset of the cross-reference table points at its object."""
    start = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))
    assert pdf[start : start + 4] == b"xref"
    m = re.match(rb"xref\n0 (\d+)\n", pdf[start:])
    count = int(m.group(1))
    entries = pdf[start + m.end() :].split(b"\r\n")[:count]
    for num, entry in enumerate(entries[1:], start=1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj" % num)


def object_stream_pdf(text: str) -> bytes:
    """A PDF 1.5 whose catalog, page tree and page sit in a compressed object stream, with an xref stream."""
    content = f"BT /F1 12 Tf 10 10 Td ({text}) Tj ET".encode()
    objs = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1/MediaBox[0 0 200 200]>>",
        b"<</Type/Page/Parent 2 0 R/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
    ]
    header, body = b"", b""
    for i, o in enumerate(objs):
        header += b"%d %d " % (i + 1, len(body))
        body += o + b" "
    packed = zlib.compress(header + body)
    out = bytearray(b"%PDF-1.5\n")
    out += b"4 0 obj\n<</Length %d>>\nstream\n" % len(content) + content + b"\nendstream\nendobj\n"
    out += b"5 0 obj\n<</Type/Font/Subtype/Type1/BaseFont/Courier>>\nendobj\n"
    out += (
        b"6 0 obj\n<</Type/ObjStm/N 3/First %d/Filter/FlateDecode/Length %d>>\nstream\n"
        % (len(header), len(packed))
        + packed
        + b"\nendstream\nendobj\n"
    )
    xref_at = len(out)
    out += b"7 0 obj\n<</Type/XRef/Root 1 0 R/Size 8/W[1 2 1]/Length 0>>\nstream\n\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def test_merge_keeps_every_page_in_order():
    a, b = make_pdf("FIRST", pages=2), make_pdf("SECOND", pages=1)
    merged = pdfmerge.merge([a, b])
    assert pdfmerge.page_count(merged) == 3
    _check_xref(merged)
    texts = [m.group(1) for m in re.finditer(rb"\((\w+ \d)\) Tj", merged)]
    assert texts == [b"FIRST 1", b"FIRST 2", b"SECOND 1"]
    # the merged file merges again
    assert pdfmerge.page_count(pdfmerge.merge([merged, a])) == 5


def test_object_streams_and_inherited_media_box_are_handled():
    merged = pdfmerge.merge([object_stream_pdf("PACKED"), make_pdf("PLAIN")])
    doc = pdfmerge.Document(merged)
    pages = doc.pages()
    assert len(pages) == 2
    assert [bytes(x) for x in pages[0][1][b"MediaBox"]] == [b"0", b"0", b"200", b"200"]
    assert b"(PACKED) Tj" in merged
    _check_xref(merged)


def test_a_real_world_pdf_from_vl_convert_merges():
    import vl_convert

    chart = vl_convert.vegalite_to_pdf(
        {
            "data": {"values": [{"a": 1}]},
            "mark": "point",
            "encoding": {"x": {"field": "a", "type": "quantitative"}},
        }
    )
    merged = pdfmerge.merge([chart, make_pdf("X"), chart])
    assert pdfmerge.page_count(merged) == 3
    _check_xref(merged)
    # every stream is copied byte for byte
    assert merged.count(b"endstream") == 2 * chart.count(b"endstream") + 1


def test_bad_input_is_refused_with_the_document_named():
    with pytest.raises(pdfmerge.PdfError) as exc:
        pdfmerge.merge([make_pdf(), b"<html>nope</html>"])
    assert "document 2" in str(exc.value)
    encrypted = make_pdf().replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R")
    with pytest.raises(pdfmerge.PdfError, match="encrypted"):
        pdfmerge.merge([encrypted])
    with pytest.raises(pdfmerge.PdfError):
        pdfmerge.merge([])
