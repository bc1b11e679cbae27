"""Streaming CSV reading: encoding and delimiter detection, physical line numbers, bounded memory.

The file is never read whole: a 64 KiB sample decides the encoding, the header line decides the
delimiter, then lines are decoded one at a time and fed to `csv.reader`. Each record comes with the
physical line number it starts on (a quoted value may span several lines)."""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError

SAMPLE_SIZE = 64 * 1024
MAX_LINE_BYTES = 4 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(MAX_LINE_BYTES)


class ImportFileError(DomainError):
    """The file cannot be read at all (missing, binary, unknown columns...). Nothing was imported."""

    code = "unreadable_file"


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").strip().lower().split())


def _looks_binary(sample: bytes) -> str | None:
    if sample.startswith(b"PK\x03\x04"):
        return _("This is an XLSX/ZIP file, not CSV. Save or export it as CSV (UTF-8) and import that file.")
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _("The file is UTF-16 encoded. Save it as CSV UTF-8 (or Windows-1250) and import it again.")
    if sample.startswith(b"%PDF"):
        return _("This is a PDF file, not CSV.")
    if b"\x00" in sample[:8192]:
        return _("This is a binary file, not CSV text.")
    return None


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig (BOM), utf-8, else the best single-byte Central European guess (cp1250 by default)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # the sample ends inside a multi-byte character
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1250", "iso8859_2"]).best()
    return "iso8859_2" if best is not None and best.encoding == "iso8859_2" else "cp1250"


class _Lines:
    """Decoded physical lines, one at a time. A line that does not decode is replaced and remembered.

    A file whose first 64 KiB are plain ASCII may still be Windows-1250 further on: the first line that
    is not UTF-8, when no non-ASCII UTF-8 text was seen before it, switches the file to cp1250."""

    def __init__(self, raw: BinaryIO, sample: bytes, encoding: str):
        self.raw = raw
        self.sample = sample
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.line_no = 0
        self.bytes_read = 0
        self.bad_lines: dict[int, str] = {}
        self.seen_non_ascii = False
        self._strip_bom = encoding == "utf-8-sig"

    def _raw_lines(self) -> Iterator[bytes]:
        pending = b""
        for line in io.BytesIO(self.sample):
            if line.endswith(b"\n"):
                yield line
            else:
                pending = line
        while True:
            line = self.raw.readline(MAX_LINE_BYTES)
            if not line:
                break
            if pending:
                line, pending = pending + line, b""
            if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise ImportFileError(
                    _("Line %(line)s is longer than 4 MiB: this is not a CSV file of orders.")
                    % {"line": self.line_no + 1},
                    field="file",
                )
            yield line
        if pending:
            yield pending

    def _decode(self, line: bytes) -> str:
        if self.encoding != "utf-8":
            try:
                return line.decode(self.encoding)
            except UnicodeDecodeError:
                self.bad_lines[self.line_no] = self.encoding
                return line.decode(self.encoding, errors="replace")
        try:
            text = line.decode("utf-8")
            if not self.seen_non_ascii and not line.isascii():
                self.seen_non_ascii = True
            return text
        except UnicodeDecodeError:
            if not self.seen_non_ascii:
                self.encoding = "cp1250"
                return self._decode(line)
            self.bad_lines[self.line_no] = "utf-8"
            return line.decode("utf-8", errors="replace")

    def __iter__(self) -> Iterator[str]:
        for line in self._raw_lines():
            self.line_no += 1
            self.bytes_read += len(line)
            if len(line) > MAX_LINE_BYTES:
                raise ImportFileError(
                    _("Line %(line)s is longer than 4 MiB: this is not a CSV file of orders.")
                    % {"line": self.line_no},
                    field="file",
                )
            text = self._decode(line)
            if self._strip_bom and self.line_no == 1:
                text = text.removeprefix("\ufeff")
            yield text


@dataclass
class Record:
    line: int  # physical line the record starts on
    fields: list[str]
    problem: str = ""  # set when the record could not be read cleanly


@dataclass
class CsvSource:
    name: str
    encoding: str
    delimiter: str
    header: list[str]
    total_lines: int | None
    _lines: _Lines
    _reader: Iterator[list[str]] = field(repr=False)
    _close: Callable[[], None] | None = None

    @property
    def line_no(self) -> int:
        return self._lines.line_no

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    @property
    def detected_encoding(self) -> str:
        """The encoding in use now: a file that looked like UTF-8 may have switched to cp1250 further on."""
        if self.encoding == "utf-8-sig" and self._lines.encoding == "utf-8":
            return self.encoding
        return self._lines.encoding

    def records(self) -> Iterator[Record]:
        """Data records after the header, each with its starting physical line number."""
        reader = self._reader
        width = len(self.header)
        prev_end = self._lines.line_no
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                start, prev_end = prev_end + 1, self._lines.line_no
                yield Record(
                    start, [], problem=_("the line cannot be read as CSV: %(error)s") % {"error": exc}
                )
                continue
            start, prev_end = prev_end + 1, self._lines.line_no
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            problem = ""
            bad = self._lines.bad_lines
            if bad:
                for n in range(start, prev_end + 1):
                    if n in bad:
                        problem = _("line %(line)s is not valid %(encoding)s text (mixed encodings?)") % {
                            "line": n,
                            "encoding": bad[n],
                        }
                        break
            if (
                len(fields) == 1
                and width > 1
                and any(d in fields[0] for d in DELIMITERS if d != self.delimiter)
            ):
                problem = problem or _(
                    "the row is one value but the header has %(expected)s columns: is it separated by another "
                    "delimiter than the header (“%(delimiter)s”)?"
                ) % {"expected": width, "delimiter": self.delimiter}
            if len(fields) < width:
                fields += [""] * (width - len(fields))
            elif len(fields) > width and any(f.strip() for f in fields[width:]):
                problem = problem or _(
                    "the row has %(found)s values but the header has %(expected)s columns "
                    "(a wrong delimiter, or an unquoted value containing “%(delimiter)s”?)"
                ) % {"found": len(fields), "expected": width, "delimiter": self.delimiter}
            yield Record(start, fields, problem)

    def close(self) -> None:
        if self._close:
            self._close()
            self._close = None


def _count_lines(fh: BinaryIO) -> int:
    count, last = 0, b"\n"
    while chunk := fh.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def open_csv(
    *,
    path: str | os.PathLike | None = None,
    fileobj: BinaryIO | None = None,
    known_columns: Callable[[list[str]], int],
    count_lines: bool = False,
    name: str = "",
) -> CsvSource:
    """Open a CSV file for streaming. `known_columns(header)` scores a parsed header line (how many of
    its columns some import format knows); the delimiter that scores best wins.

    Raises ImportFileError when the file cannot be read at all."""
    if (path is None) == (fileobj is None):
        raise ValueError("give exactly one of path or fileobj")
    close = None
    if path is not None:
        p = Path(path)
        name = name or p.name
        try:
            fh: BinaryIO = open(p, "rb")  # noqa: SIM115 - closed by CsvSource.close()
        except FileNotFoundError:
            raise ImportFileError(_("File not found: %(path)s") % {"path": str(path)}, field="file")
        except IsADirectoryError:
            raise ImportFileError(
                _("%(path)s is a directory, not a file") % {"path": str(path)}, field="file"
            )
        except OSError as exc:
            raise ImportFileError(
                _("Cannot open %(path)s: %(error)s") % {"path": str(path), "error": exc.strerror},
                field="file",
            )
        close = fh.close
    else:
        assert fileobj is not None
        fh = fileobj
        if isinstance(fh, io.TextIOBase):
            raise ValueError("open_csv needs a binary file object")
        name = name or getattr(fileobj, "name", "") or "upload.csv"
    try:
        total = None
        if count_lines and fh.seekable():
            pos = fh.tell()
            total = _count_lines(fh)
            fh.seek(pos)
        sample = fh.read(SAMPLE_SIZE)
        if not sample.strip():
            raise ImportFileError(_("The file is empty."), field="file")
        problem = _looks_binary(sample)
        if problem:
            raise ImportFileError(problem, field="file")
        encoding = detect_encoding(sample)
        lines = _Lines(fh, sample, encoding)
        it = iter(lines)
        first = next(it, "")
        while first is not None and not first.strip():
            first = next(it, None)
        if first is None:
            raise ImportFileError(_("The file is empty."), field="file")
        best, best_score, best_width = ",", -1, 0
        for delimiter in DELIMITERS:
            header = next(csv.reader([first], delimiter=delimiter), [])
            score = known_columns(header)
            if score > best_score or (score == best_score and len(header) > best_width):
                best, best_score, best_width = delimiter, score, len(header)
        header_line = first

        def chained() -> Iterator[str]:
            yield header_line
            yield from it

        reader = csv.reader(chained(), delimiter=best)
        header = next(reader)
        return CsvSource(
            name=name,
            encoding=encoding,
            delimiter=best,
            header=header,
            total_lines=total,
            _lines=lines,
            _reader=reader,
            _close=close,
        )
    except BaseException:
        if close:
            close()
        raise
