"""What a newcomer runs first: ``broadcaster demo`` in an empty folder, with nothing else running."""

import os
import subprocess
import sys
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
    assert "sonia@example.com" not in done.stdout.split("Checking every email")[1]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 10  # 3 people x 3 emails, and Tom's reply
    assert not (tmp_path / ".broadcaster" / "runtime.json").exists()  # stopped and cleaned up
