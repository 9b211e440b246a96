"""The outputs' printer keeps one Chromium page for a whole build: a document printed after another holds
nothing of it, neither its text nor its page size, and a document that fails to print does not stop the next."""
from __future__ import annotations

import subprocess

import pytest

from safestats.outputs.pdf import Printer

pytestmark = pytest.mark.server      # Debian's chromium (`make browser`), as every test that prints

FIRST = "FIRST-DOCUMENT-ONLY"
# A3 landscape, several pages, a background and a running text the next document must not carry
WIDE_AND_LONG = (f"<html><head><style>@page {{ size: A3 landscape; }} body {{ background: #c00; }}</style></head>"
                 f"<body>{''.join(f'<p>{FIRST} paragraph {i}</p>' for i in range(400))}</body></html>")
PLAIN = "<html><body><p>SECOND-DOCUMENT</p></body></html>"


def _text_and_pages(pdf: bytes, tmp_path, name: str) -> tuple[str, int, str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    info = dict(line.split(":", 1) for line in subprocess.run(
        ["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout.splitlines() if ":" in line)
    return text, int(info["Pages"]), info["Page size"].strip()


def test_a_document_printed_after_another_holds_nothing_of_it(tmp_path):
    with Printer() as printer:
        first = printer.pdf(WIDE_AND_LONG)
        second = printer.pdf(PLAIN)
    text, pages, size = _text_and_pages(first, tmp_path, "first")
    assert FIRST in text and pages > 1 and size.startswith("1191") # A3 landscape: the first's own rule held
    text, pages, size = _text_and_pages(second, tmp_path, "second")
    assert "SECOND-DOCUMENT" in text and FIRST not in text
    assert pages == 1 and size.startswith("595")                     # A4 portrait, not the first's page


def test_a_document_that_fails_to_print_does_not_stop_the_next(tmp_path):
    with Printer() as printer:
        printer.pdf(PLAIN)
        printer._page.close()                           # the page gone under the printer, as a crashed renderer
        with pytest.raises(Exception):
            printer.pdf(WIDE_AND_LONG)
        text, pages, _ = _text_and_pages(printer.pdf(PLAIN), tmp_path, "after")
    assert "SECOND-DOCUMENT" in text and FIRST not in text and pages == 1
