"""One headless Chromium (Debian's package, driven by its chromedriver) for the whole session, and axe-core.

Nothing is downloaded at run time: selenium is told where the browser and the driver are and
to stay offline. axe-core comes from the npm registry, installed by .ci/run into build/axe.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("BROADCASTER_AXE_JS", ROOT / "build/axe/node_modules/axe-core/axe.min.js"))
SCREENSHOTS = ROOT / "build/screenshots"
READER_ZONE = "America/New_York"  # the browser's time zone: the pages must show times in it
SERIOUS = {"serious", "critical"}


def _missing(what: str, fix: str) -> None:
    """In CI a missing browser or axe is a failure that says what to install; elsewhere the test is skipped."""
    message = f"{what} is missing: {fix}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        _missing("Chromium or chromedriver", "apt-get install -y chromium chromium-driver (.ci/run does)")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, "TZ": READER_ZONE})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        _missing(f"axe-core ({AXE})", "npm install --prefix build/axe axe-core@4 (.ci/run does)")
    return AXE.read_text()


def serious_violations(driver: object, axe_source: str) -> list[dict]:
    """axe-core's WCAG 2 A/AA and best-practice rules on the page shown: the serious and critical findings."""
    driver.execute_script(axe_source)  # type: ignore[attr-defined]
    found = driver.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']})"
        ".then(r => done(JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))})))));")
    return [v for v in json.loads(found) if v["impact"] in SERIOUS]


def screenshot(driver: object, name: str) -> list[Path]:
    """The whole page at a phone's width (390 px) and a desktop's (1280 px), kept in build/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for label, width in (("phone", 390), ("desktop", 1280)):
        driver.set_window_size(width, 900)  # type: ignore[attr-defined]
        height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
        driver.set_window_size(width, max(600, int(height) + 20))  # type: ignore[attr-defined]
        path = SCREENSHOTS / f"{name}-{label}.png"
        driver.save_screenshot(str(path))  # type: ignore[attr-defined]
        paths.append(path)
    driver.set_window_size(1280, 900)  # type: ignore[attr-defined]
    return paths
