"""The file's shape, worked out before the load: line counts, and the cuts a large file is loaded in pieces at."""
from __future__ import annotations

import pytest

from safestats import copy_load, records


@pytest.fixture
def small_cuts(monkeypatch):
    monkeypatch.setattr(records, "CUT_BYTES", 100)


def csv_bytes(rows: int, newline: bytes = b"\n") -> bytes:
    return newline.join([b"a,b"] + [b"%d,row %d" % (i, i) for i in range(1, rows + 1)]) + newline


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_each_cut_follows_a_line_break_and_counts_the_lines_before_it(small_cuts, newline):
    data = csv_bytes(200, newline)
    shape = records.shape_of(data)
    assert shape.data_lines == 200 and shape.quotes_ok and len(shape.cuts) > 10
    for offset, lines_before in shape.cuts:
        assert data[offset - 1:offset] == b"\n" and data[:offset].count(b"\n") == lines_before


def test_the_pieces_are_the_file_in_order_and_number_its_rows(small_cuts):
    data = csv_bytes(200)
    parts = copy_load.pieces(data, records.shape_of(data))
    assert b"".join(bytes(p.data) for p in parts) == data
    assert [p.header for p in parts] == [True] + [False] * (len(parts) - 1)
    for part in parts:
        first = bytes(part.data).split(b"\n")[1 if part.header else 0]
        assert first == b"%d,row %d" % (part.first_row, part.first_row)


def test_a_file_without_line_feeds_or_with_mixed_breaks_has_no_cuts(small_cuts):
    assert records.shape_of(csv_bytes(200, b"\r")).cuts == ()
    mixed = csv_bytes(100) + csv_bytes(100, b"\r\n")
    assert records.shape_of(mixed) == records.FileShape(mixed.count(b"\n") - 1, False)
    assert [len(p.data) for p in copy_load.pieces(mixed, records.shape_of(mixed))] == [len(mixed)]


def test_a_small_file_is_one_piece():
    data = csv_bytes(50)
    shape = records.shape_of(data)
    assert shape.cuts == () and len(copy_load.pieces(data, shape)) == 1


def test_bytes_are_counted_as_bytes_count_counts_them(monkeypatch):
    monkeypatch.setattr(records, "COUNT_CHUNK", 7)     # numpy's path, over ranges across its chunks
    data = csv_bytes(40, b"\r\n") + b"\n\n\r"
    for start, end in [(0, None), (3, 50), (5, 6), (11, len(data) - 1), (0, 0)]:
        for byte in (records.LF, records.CR):
            assert records.count_byte(data, byte, start, end) == data.count(bytes([byte]), start, end)
    assert records.count_byte(bytearray(data), records.LF) == data.count(b"\n")
