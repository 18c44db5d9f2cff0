"""Every kind of email's HTML part, in headless Chromium at phone and desktop widths: readable, nothing sideways."""

from dataclasses import replace
from pathlib import Path

from broadcaster.messages.compose import compose
from tests.support.email_browser import DESKTOP, PHONE, SCREENSHOTS, chromium, render
from tests.unit.test_reader_emails import FACTS, FIXED_REPLY, HOLDING, MONITORING, PROGRESS, RESOLUTION, SENDER, T0

LONG_WORDS = "https://example.com/" + "a" * 120  # a pasted link with no place to break


def test_each_kind_of_email_reads_on_a_phone_and_a_desktop_without_scrolling_sideways(tmp_path: Path) -> None:
    kinds = {"acknowledgement": FACTS, "progress": PROGRESS, "holding": HOLDING, "monitoring": MONITORING,
             "resolution": RESOLUTION, "fixed_reply": FIXED_REPLY}
    with chromium() as driver:
        for name, facts in kinds.items():
            email = compose(replace(facts, report_text=f"{facts.report_text} {LONG_WORDS}"), SENDER, T0)
            page = tmp_path / f"{name}.html"
            page.write_text(email.html)
            for width in (PHONE, DESKTOP):
                shown = render(driver, page, width, SCREENSHOTS / "kinds" / f"{name}-{width}px.png")
                assert shown.overflow <= 0, f"{name} at {width}px is {shown.overflow}px too wide"
                assert "Hi Priya," in shown.text and "Angela B." in shown.text, name
                assert "your time (Manila, UTC+8)" in shown.text, name
