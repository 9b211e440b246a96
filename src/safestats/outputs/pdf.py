"""HTML to PDF by Chromium's own print engine (Debian's chromium, driven by Playwright): one browser for a
whole build, one page per document. Documents are self-contained (styles inline, charts as data: URIs) and the
page may fetch nothing, so a report prints the same on a machine with no network."""
from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


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
        except BaseException:
            self._pw.stop()
            raise
        return self

    def pdf(self, html: str) -> bytes:
        page = self._context.new_page()
        try:
            page.set_content(html, wait_until="load")
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                            margin={"top": "14mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                            display_header_footer=False)
        finally:
            page.close()

    def __exit__(self, *exc) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()
