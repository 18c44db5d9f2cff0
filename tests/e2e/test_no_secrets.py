"""No secret from the environment is printed or written in clear: by ``db upgrade`` (the migration job's
log), by ``up`` and its children, or by a command that cannot reach the database.

Secrets are planted in the environment, the real commands run, and every output and every file
they leave in the folder (state dir, logs, outbox, runtime.json) is searched for them.
"""

import signal
import stat
from pathlib import Path

import pytest
from sqlalchemy import make_url

from broadcaster.embedded.broker import free_port
from tests.support.up import broadcaster, invoke, running_up, up_environment

SECRETS = {
    "database password": "pgPLANTED9f2c",
    "SASL password": "saslPLANTED41d7",
    "SendGrid key": "SG.PLANTED-sendgrid-key-77e1",
    "unsubscribe secret": "unsubPLANTED-" + "k" * 32,
}


def _environment(folder: Path, database_url: str) -> dict[str, str]:
    return up_environment(
        folder,
        database_url=make_url(database_url).set(password=SECRETS["database password"]).render_as_string(False),
        kafka_sasl_username="broadcaster",
        kafka_sasl_password=SECRETS["SASL password"],
        sendgrid_api_key=SECRETS["SendGrid key"],
        sendgrid_api_host=f"http://127.0.0.1:{free_port()}",
        unsubscribe_secret=SECRETS["unsubscribe secret"],
        public_url="https://status.example.com",
    )


def _unreachable(env: dict[str, str]) -> dict[str, str]:
    url = make_url(env["BROADCASTER_DATABASE_URL"]).set(port=free_port())
    return env | {"BROADCASTER_DATABASE_URL": url.render_as_string(hide_password=False)}


def test_no_command_prints_or_writes_a_planted_secret(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = _environment(tmp_path, postgres_url)
    outputs: list[str] = []

    migrated = broadcaster(tmp_path, env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    assert "postgres:***@127.0.0.1" in migrated.stdout
    outputs += [migrated.stdout, migrated.stderr]

    with running_up(tmp_path, env) as up:
        up.wait_for("Broadcaster is running")
        assert stat.S_IMODE((tmp_path / "state" / "runtime.json").stat().st_mode) == 0o600
        written = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}  # runtime.json goes at stop
        submitted = up.invoke("report", "submit", "-e", "a@example.com", "-n", "A", "-t", "The CSV upload fails")
        assert submitted.exit_code == 0, submitted.output
        outputs.append(submitted.output)
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=30) == 0

    for command in (("db", "upgrade"), ("incident", "list")):
        failed = invoke(_unreachable(env), *command)
        assert failed.exit_code == 1 and "postgres:***@127.0.0.1" in failed.stderr, failed.output
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
        outputs.append(failed.output)
    outputs.append(caplog.text)  # what the in-process commands logged

    written |= {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert tmp_path / "state" / "worker.log" in written and tmp_path / "up.out" in written
    for what, secret in SECRETS.items():
        assert not [text for text in outputs if secret in text], f"the {what} was printed"
        assert not [path for path, data in written.items() if secret.encode() in data], f"the {what} was written"
