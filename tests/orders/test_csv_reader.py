import io

import pytest

from zaplecze.orders.csvio.parse import known_columns_score
from zaplecze.orders.csvio.reader import SAMPLE_SIZE, ImportFileError, open_csv

HEADER = "external_id,placed_at,sku,quantity,unit_price_gross,customer_name\n"


def _open(data: bytes):
    return open_csv(fileobj=io.BytesIO(data), known_columns=known_columns_score)


def test_utf8_with_bom_is_detected_and_the_bom_is_not_part_of_the_first_column():
    src = _open(b"\xef\xbb\xbf" + HEADER.encode() + "1,2026-01-01T10:00:00+01:00,A,1,1,Żaneta\n".encode())
    assert src.encoding == "utf-8-sig"
    assert src.header[0] == "external_id"
    assert [r.fields[5] for r in src.records()] == ["Żaneta"]


def test_cp1250_is_detected_and_decoded():
    src = _open((HEADER + "1,2026-01-01T10:00:00+01:00,A,1,1,Łukasz Żółć\n").encode("cp1250"))
    assert src.encoding == "cp1250"
    assert [r.fields[5] for r in src.records()] == ["Łukasz Żółć"]


def test_ascii_start_then_cp1250_later_switches_encoding_instead_of_failing():
    filler = "".join(f"{i},2026-01-01T10:00:00+01:00,A,1,1,Anna\n" for i in range(3000))
    data = (HEADER + filler + "9999,2026-01-01T10:00:00+01:00,A,1,1,Paweł\n").encode("cp1250")
    assert len(data) > SAMPLE_SIZE  # the Polish letter is beyond the sample
    src = _open(data)
    records = list(src.records())
    assert records[-1].fields[5] == "Paweł"
    assert records[-1].problem == ""
    assert src.detected_encoding == "cp1250"


def test_mixed_encodings_flag_only_the_bad_line():
    filler = "".join(f"{i},2026-01-01T10:00:00+01:00,A,1,1,Anna\n" for i in range(3000))
    data = (
        (HEADER + "1,2026-01-01T10:00:00+01:00,A,1,1,Żaneta\n" + filler).encode()
        + "2,2026-01-01T10:00:00+01:00,A,1,1,Paweł\n".encode("cp1250")
        + b"3,2026-01-01T10:00:00+01:00,A,1,1,Ola\n"
    )
    assert len(data) > SAMPLE_SIZE
    records = list(_open(data).records())
    flagged = [(r.line, r.fields[0]) for r in records if r.problem]
    assert flagged == [(3003, "2")]
    assert "line 3003 is not valid utf-8 text" in records[-2].problem
    assert records[-1].fields[5] == "Ola"


def test_semicolon_delimiter_is_chosen_by_the_header():
    src = _open(HEADER.replace(",", ";").encode() + b"1;2026-01-01 10:00;A;1;1,50;Anna\n")
    assert src.delimiter == ";"
    assert next(src.records()).fields == ["1", "2026-01-01 10:00", "A", "1", "1,50", "Anna"]


def test_records_carry_the_physical_line_they_start_on():
    data = (
        HEADER + '1,2026-01-01T10:00:00+01:00,A,1,1,"two\nlines"\n\n2,2026-01-01T10:00:00+01:00,B,1,1,x\n'
    ).encode()
    assert [(r.line, r.fields[0]) for r in _open(data).records()] == [(2, "1"), (5, "2")]


def test_a_row_in_another_delimiter_is_reported():
    data = HEADER.encode() + b"1;2026-01-01;A;1;1;x\n"
    record = next(_open(data).records())
    assert "another delimiter" in record.problem


def test_a_row_with_extra_values_is_reported():
    data = HEADER.encode() + b"1,2026-01-01,A,1,1,x,surplus\n"
    record = next(_open(data).records())
    assert "7 values but the header has 6 columns" in record.problem


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"PK\x03\x04" + b"\x00" * 50, "XLSX"),
        ("external_id,sku\n".encode("utf-16"), "UTF-16"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ImportFileError, match=message):
        _open(data)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ImportFileError, match="File not found"):
        open_csv(path=tmp_path / "nope.csv", known_columns=known_columns_score)
