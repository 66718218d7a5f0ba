"""Headless Chromium for the page tests: one way to start it, at a window size each test names.

A module that imports this is skipped as a whole when Debian's chromium and chromium-driver are
missing; CI installs both, so there it always runs. Use it as::

    from tests.browser import PHONE, DESK, chromium  # first, before selenium's own imports

    @pytest.fixture
    def browser(tmp_path):
        with chromium(tmp_path, PHONE) as driver:
            yield driver

Screenshots for review go under ``var/screenshots/`` (:func:`screenshot`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

PHONE = (390, 844)  # the portal and the status page are mobile first
DESK = (1366, 768)  # the console is a desk's screen
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"


@contextlib.contextmanager
def chromium(tmp_path: Path, size: tuple[int, int] = PHONE) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with its own profile under ``tmp_path``, quit on the way out."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    width, height = size
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / f'chromium-profile-{width}x{height}'}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    emulate(driver, size)
    try:
        yield driver
    finally:
        driver.quit()


def emulate(driver: webdriver.Chrome, size: tuple[int, int]) -> None:
    """Headless Chromium keeps a window at least 500 px wide whatever --window-size says: below that, emulate
    the phone's viewport exactly (DevTools' device metrics), so a 390 px test really lays out at 390 px."""
    width, height = size
    if width < 500:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
        )


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save what the window shows as ``var/screenshots/<name>.png`` for a person to review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
