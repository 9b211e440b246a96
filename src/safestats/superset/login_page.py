"""A named user's login in a real browser (Playwright page): the login page's form, then the one-time code's.
What the bench and the browser tests both do, with the same retry: on a loaded machine the React login form can
take the click before it is ready and stay put, so each form is filled at most twice, the page shot between."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

FORM_TIMEOUT_MS = 30_000
LEAVE_TIMEOUT_MS = 15_000


def submit_password(page, base: str, username: str, password: str, shots: Path, *, refused: bool = False) -> None:
    """Fill and submit the login form until the browser leaves /login/ (twice at most; once, not waiting, when
    the login is meant to be refused)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in (1,) if refused else (1, 2):
        page.goto(f"{base}/login/")
        page.wait_for_selector("input[type=password]", timeout=FORM_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        if refused:
            return
        try:
            page.wait_for_url(lambda url: "/login/" not in url, timeout=LEAVE_TIMEOUT_MS)
            return
        except PlaywrightTimeout:
            page.screenshot(path=str(shots / f"login-still-on-form-{username}-{attempt}.png"))
    raise RuntimeError(f"{username}: the login form was submitted twice and the browser is still on /login/")


def submit_one_time_code(page, username: str, code: Callable[[], str], shots: Path) -> None:
    """Give `code()` (the code of the moment) on the one-time code's page until the browser leaves it (twice at
    most)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in (1, 2):
        page.wait_for_selector("#code", timeout=FORM_TIMEOUT_MS)
        page.fill("#code", code())
        page.click("button[type=submit]")
        try:
            page.wait_for_url(lambda url: "/second-factor/" not in url, timeout=LEAVE_TIMEOUT_MS)
            return
        except PlaywrightTimeout:
            page.screenshot(path=str(shots / f"second-factor-still-on-form-{username}-{attempt}.png"))
            if attempt == 2:
                raise
