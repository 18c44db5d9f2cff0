"""Look at an email's HTML part as a reader would: headless Chromium (Debian's package) through selenium.

Nothing is downloaded at run time: the driver is /usr/bin/chromedriver and the browser /usr/bin/chromium.
Screenshots go to build/screenshots/ (git-ignored), kept by CI as build artefacts.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PHONE, DESKTOP = 390, 1280


@dataclass(frozen=True)
class Rendered:
    width: int
    overflow: int  # CSS pixels the page is wider than the window: 0 is readable without scrolling sideways
    text: str


@contextmanager
def chromium() -> Iterator[object]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium is missing: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def render(driver, html_file: Path, width: int, screenshot: Path) -> Rendered:
    """Open the HTML at ``width`` CSS pixels, measure sideways overflow, keep a full-height screenshot."""
    driver.set_window_size(width, 900)
    driver.get(html_file.resolve().as_uri())
    inner = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width + (width - inner), 900)  # the window's frame: make the viewport exactly width
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width + (width - inner), max(900, height + 40))
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    text = driver.execute_script("return document.body.innerText")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(screenshot))
    return Rendered(width, overflow, text)
