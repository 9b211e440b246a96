"""The headless Chromium the product drives (Debian's chromium through Playwright): to print reports as PDF,
to render dashboards in the bench, and in the browser tests. `make browser` installs it."""
from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
