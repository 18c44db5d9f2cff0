"""Numbers a person mistypes are refused by click with the option's name: no traceback, nothing done."""

import pytest
from click.testing import CliRunner

from broadcaster.cli.main import cli

HUGE_ID = "99999999999999999999999"  # beyond a 64-bit id: the database driver raised OverflowError


@pytest.mark.parametrize(("args", "refusal"), [
    (["lag", "--watch", "nan"], "Invalid value for '--watch': must be between 0.5 and 86400 seconds"),
    (["lag", "--watch", "-1"], "Invalid value for '--watch': must be between 0.5 and 86400 seconds"),
    (["lag", "--watch", "inf"], "Invalid value for '--watch': must be between 0.5 and 86400 seconds"),
    (["lag", "--watch", "soon"], "Invalid value for '--watch': is not a number of seconds"),
    (["lag", "--window", "0"], "Invalid value for '--window': must be between 1 and"),
    (["lag", "--max-messages", "-1"], "Invalid value for '--max-messages': -1 is not in the range x>=0"),
    (["lag", "--max-seconds", "nan"], "Invalid value for '--max-seconds'"),
    (["status", "--stall-after", "0"], "Invalid value for '--stall-after': must be between 1 and"),
    (["dead-letters", "show", HUGE_ID], f"Invalid value for 'LETTER_ID': {HUGE_ID} is not in the range"),
    (["dead-letters", "replay", "0"], "Invalid value for 'LETTER_ID': 0 is not in the range"),
    (["dead-letters", "list", "--limit", "0"], "Invalid value for '--limit': 0 is not in the range"),
    (["triage", "dismiss", HUGE_ID], f"Invalid value for 'SUSPICION_ID': {HUGE_ID} is not in the range"),
    (["incident", "update", "INC-1", "Still on it.", "--wait", "-1"], "Invalid value for '--wait'"),
    (["incident", "resolve", "INC-1", "Fixed.", "--wait", "1e309"], "Invalid value for '--wait'"),
    (["serve", "--port", "70000"], "Invalid value for '--port': 70000 is not in the range"),
    (["incident", "declare", "Uploads fail", "-c", "groups", "--next-update-in", "99999d"],
     "Invalid value for '--next-update-in': must be between 1m and 366d"),  # was the event's update_every_seconds
    (["incident", "cadence", "INC-1", "--every", "10s"], "Invalid value for '--every': must be between 1m and 366d"),
])
def test_a_mistyped_number_is_refused_by_its_option_before_anything_runs(args: list[str], refusal: str, tmp_path) -> None:
    env = {"BROADCASTER_DATABASE_URL": f"sqlite:///{tmp_path}/broadcaster.db", "BROADCASTER_STATE_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 2 and refusal in result.output, result.output
    assert not (tmp_path / "broadcaster.db").exists()
