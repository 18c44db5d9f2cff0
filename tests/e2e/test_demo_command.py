"""What a newcomer runs first: ``broadcaster demo`` in an empty folder, with nothing else running."""

import os
import subprocess
import sys
from collections import Counter
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

from broadcaster.demo import cast
from tests.support.email_browser import PHONE, SCREENSHOTS, chromium, render


def test_the_demo_starts_its_own_system_plays_the_story_and_exits_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    env["BROADCASTER_BROKER_SESSION_TIMEOUT"] = "6"
    done = subprocess.run(
        [sys.executable, "-m", "broadcaster", "demo"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The story played out as it should" in done.stdout
    for line in ("ok    eric@example.com", "ok    priya@example.com", "ok    maz@example.com", "ok    tom@example.com"):
        assert line in done.stdout
    checked = done.stdout.split("Checking every email")[1]
    assert "ok    sonia@example.com      {'triage_receipt': 1}" in checked  # her receipt, and nothing else
    assert "Sonia got a receipt: a person will look at it, and she hears back by" in done.stdout
    assert "own words" in checked and "MISSING" not in checked  # the checker's table: every mark of the rubric
    headers = [BytesParser(policy=policy.default).parse(path.open("rb"), headersonly=True)
               for path in (tmp_path / "outbox").glob("*.eml")]
    # 3 people x 5 emails (acknowledgement, progress, holding, monitoring, resolution), and Tom's reply
    assert sum(1 for h in headers if h["X-Broadcaster-Incident"]) == 16
    receipts = Counter(parseaddr(str(h["To"]))[1] for h in headers if h["X-Broadcaster-Kind"] == "triage_receipt")
    # Those who wrote before the declaration: a receipt each, unless their acknowledgement came first.
    assert receipts["sonia@example.com"] == 1 and all(count == 1 for count in receipts.values())
    assert sum(receipts.values()) == len(headers) - 16
    assert not (tmp_path / ".broadcaster" / "runtime.json").exists()  # stopped and cleaned up
    holding_update_quotes_the_shared_note_only(tmp_path / "outbox")
    keep_screenshots(tmp_path / "outbox")


def holding_update_quotes_the_shared_note_only(outbox: Path) -> None:
    """The engineer's shared note is what the holding update says the team is doing; the internal one goes nowhere."""
    parser = BytesParser(policy=policy.default)
    texts = {eml.name: (str(message["X-Broadcaster-Kind"]), message.get_body(("plain",)).get_content())
             for eml in outbox.glob("*.eml") for message in [parser.parsebytes(eml.read_bytes())]}
    holding = [text for kind, text in texts.values() if kind == "holding"]
    assert len(holding) == 3 and all(f"What the team is doing now: {cast.SHARED_NOTE}" in text for text in holding)
    assert not any(cast.INTERNAL_NOTE in text for _, text in texts.values())


def keep_screenshots(outbox: Path) -> None:
    """Each of the demo's emails at phone width, as the reader sees it: build/screenshots/demo/ (build artefacts)."""
    parser = BytesParser(policy=policy.default)
    with chromium() as driver:
        for eml in sorted(outbox.glob("*.eml")):
            message = parser.parsebytes(eml.read_bytes())
            page = eml.with_suffix(".html")
            page.write_text(message.get_body(("html",)).get_content())
            recipient, kind = message["To"].addresses[0].username, message["X-Broadcaster-Kind"]
            shown = render(driver, page, PHONE, SCREENSHOTS / "demo" / f"{eml.stem}-{recipient}-{kind}.png")
            assert shown.overflow <= 0 and f"Hi {recipient.title()}," in shown.text, eml.name
