"""What a newcomer runs first: ``broadcaster demo`` in an empty folder, with nothing else running."""

import os
import subprocess
import sys
from collections import Counter
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path


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
    headers = [BytesParser(policy=policy.default).parse(path.open("rb"), headersonly=True)
               for path in (tmp_path / "outbox").glob("*.eml")]
    assert sum(1 for h in headers if h["X-Broadcaster-Incident"]) == 10  # 3 people x 3 emails, and Tom's reply
    receipts = Counter(parseaddr(str(h["To"]))[1] for h in headers if h["X-Broadcaster-Kind"] == "triage_receipt")
    # Eric and Priya wrote before the declaration: a receipt each, unless their acknowledgement came first.
    assert set(receipts) <= {"sonia@example.com", "eric@example.com", "priya@example.com"}
    assert receipts["sonia@example.com"] == 1 and receipts["eric@example.com"] <= 1 and receipts["priya@example.com"] <= 1
    assert sum(receipts.values()) == len(headers) - 10
    assert not (tmp_path / ".broadcaster" / "runtime.json").exists()  # stopped and cleaned up
