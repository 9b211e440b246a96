"""HTML to PDF by Chromium's own print engine (Debian's chromium, driven by Playwright): one browser and one
page for a whole build, each document replacing the last whole. Documents are self-contained (styles inline,
charts as data: URIs) and the page may fetch nothing, so a report prints the same on a machine with no
network."""
from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from safestats.browser import CHROMIUM, CHROMIUM_ARGS


class PdfUnavailable(RuntimeError):
    pass


class Printer:
    """`with Printer() as p: p.pdf(html)`: A4 PDFs of self-contained HTML."""

    def __enter__(self) -> "Printer":
        if not Path(CHROMIUM).exists():
            raise PdfUnavailable(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            self._context = self._browser.new_context(java_script_enabled=False, offline=True)
            self._context.route("**/*", lambda route: route.abort()
                                if not route.request.url.startswith("data:") else route.continue_())
            self._page = None
        except BaseException:
            self._pw.stop()
            raise
        return self

    def pdf(self, html: str) -> bytes:
        """The document printed on the build's one page. Opening a page costs more than printing on it (69 trend
        reports: 26 s with a page each, 11 s on one), and set_content replaces the whole document, its styles and
        @page rules included, so nothing of one document reaches the next (tests/test_outputs_pdf.py). A page
        that failed is closed and the next document gets a new one."""
        if self._page is None:
            self._page = self._context.new_page()
        try:
            self._page.set_content(html, wait_until="load")
            return self._page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                                  margin={"top": "14mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                                  display_header_footer=False)
        except BaseException:
            page, self._page = self._page, None
            with suppress(Exception):       # a page that failed may have gone with its renderer
                page.close()
            raise

    def __exit__(self, *exc) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()
