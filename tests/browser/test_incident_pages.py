"""What a person sees and does on the incident pages, in headless Chromium: reading, following, managing, by keyboard.

One test, one browser (the session's), one server on SQLite: the HTTP and both databases are
covered by tests/integration/test_pages.py; this checks what only a browser shows. Screenshots at
phone and desktop widths are kept in build/screenshots, and axe-core checks every page shown.
"""

from collections.abc import Callable, Iterator

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from broadcaster.bootstrap import bootstrap
from broadcaster.config import Settings
from broadcaster.domain.notifications import NotificationKind
from tests.browser.conftest import screenshot, serious_violations
from tests.support.intake import Intake, running_intake
from tests.support.pages import Desk, link
from tests.support.waiting import wait_for

INCIDENT = "INC-261126-CSV1"


@pytest.fixture
def site(sqlite_url: str, broker: str, settings_factory: Callable[..., Settings],
         topics_on: Callable[[Settings], None]) -> Iterator[tuple[Intake, Desk]]:
    settings = settings_factory(sqlite_url, kafka_bootstrap=broker)
    topics_on(settings)
    with running_intake(settings) as intake:
        desk = Desk(bootstrap(settings))
        yield intake, desk
        desk.services.engine.dispose()


def tab_to(driver: WebDriver, matches: Callable[[object], bool], most: int = 30) -> None:
    """Press Tab until the focused element is the wanted one, as a keyboard user would."""
    for _ in range(most):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if matches(driver.switch_to.active_element):
            return
    raise AssertionError("the element cannot be reached with Tab")


def main_text(driver: WebDriver) -> str:
    """The page's main text; empty while the browser is between pages (a form just sent has no <main> yet)."""
    try:
        return driver.find_element(By.TAG_NAME, "main").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def checked(driver: WebDriver, axe_source: str, name: str, found: dict[str, list]) -> None:
    """Screenshots at both widths and axe-core's serious findings on the page shown, kept for one assertion."""
    screenshot(driver, name)
    found[name] = serious_violations(driver, axe_source)


def test_a_reader_follows_an_incident_from_its_page_to_the_fix_and_manages_their_emails(
        site, chromium: WebDriver, axe_source: str) -> None:
    intake, desk = site
    driver, violations = chromium, {}
    desk.declare(INCIDENT, "CSV upload to pre-approved members fails", workaround="Add members one by one.")
    ann = desk.report("ann@example.com")
    page = f"{intake.url}/incidents/{INCIDENT}"

    driver.get(page)
    assert driver.find_element(By.TAG_NAME, "h1").text == "CSV upload to pre-approved members fails"
    started = driver.find_element(By.CSS_SELECTOR, "dl.facts time")
    assert started.get_attribute("datetime").endswith("Z") and "UTC" not in started.text  # shown in the reader's zone
    assert "EST" in started.text or "GMT-5" in started.text or "EDT" in started.text
    checked(driver, axe_source, "incident-open", violations)

    desk.update(INCIDENT, "We found the cause: a column check rejects long names.", status="identified")
    wait_for(lambda: driver.refresh() or "a column check rejects long names" in main_text(driver), timeout=2.5,
             what="the update on the page")
    assert "Identified" in main_text(driver)

    driver.get(page)
    tab_to(driver, lambda element: element.get_attribute("id") == "follow-name")
    driver.switch_to.active_element.send_keys("Cleo Park")
    driver.switch_to.active_element.send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("id") == "follow-email"
    driver.switch_to.active_element.send_keys("cleo@example.com", Keys.ENTER)
    wait_for(lambda: "Check your inbox" in main_text(driver), timeout=10, what="the follow request's answer")
    checked(driver, axe_source, "follow-sent", violations)

    [confirmation] = desk.deliveries(NotificationKind.FOLLOW_CONFIRMATION)
    served = desk.services.sender.pages_url  # the links name the configured address; this server has a free port
    driver.get(link(desk.email_text(confirmation), "/follow/confirm").replace(served, intake.url))
    tab_to(driver, lambda element: element.tag_name == "button")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: "You will get every update" in main_text(driver), timeout=10, what="the confirmation")
    checked(driver, axe_source, "follow-confirmed", violations)

    driver.get(link(desk.email_text(ann), "/manage").replace(served, intake.url))
    checked(driver, axe_source, "manage", violations)
    tab_to(driver, lambda element: element.text == "Stop emails about this incident")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: "Done: no more emails about this incident." in main_text(driver), timeout=10, what="stopping")
    checked(driver, axe_source, "manage-stopped", violations)
    tab_to(driver, lambda element: element.text == "Email me about this incident again")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: "updates again" in main_text(driver), timeout=10, what="the undo")

    desk.resolve(INCIDENT, "Uploads work again.", "Upload your CSV file again; every member should be added.")
    driver.get(page)
    wait_for(lambda: driver.refresh() or "Resolved" in main_text(driver), timeout=2.5, what="the fix on the page")
    assert "Upload your CSV file again" in main_text(driver) and not driver.find_elements(By.ID, "follow-email")
    checked(driver, axe_source, "incident-resolved", violations)

    driver.get(f"{intake.url}/")
    assert "CSV upload to pre-approved members fails" in main_text(driver)
    checked(driver, axe_source, "index", violations)
    assert violations == {name: [] for name in violations}, violations
