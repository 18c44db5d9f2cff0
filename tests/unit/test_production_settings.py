"""With SendGrid configured, the worker and ``broadcaster up`` refuse settings that would make unsubscribe unsafe."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadcaster.cli.main import cli
from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from broadcaster.production import UnsafeSettings, problems, public_url, refuse_unsafe, verifying_secrets

ROOT = Path(__file__).resolve().parents[2]
SAFE = {"sendgrid_api_key": "SG.key", "unsubscribe_secret": "s" * 32, "public_url": "https://status.example.com"}


def settings(**overrides: object) -> Settings:
    return Settings(**{**SAFE, **overrides})


def test_safe_production_settings_and_the_embedded_defaults_pass() -> None:
    assert problems(settings()) == []
    assert problems(Settings()) == []  # no SendGrid: the outbox needs none of this
    refuse_unsafe(settings())


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"unsubscribe_secret": "embedded-only-change-me"},
     "BROADCASTER_UNSUBSCRIBE_SECRET is the development default"),
    ({"unsubscribe_secret": "s" * 31}, "BROADCASTER_UNSUBSCRIBE_SECRET is shorter than 32 bytes"),
    ({"unsubscribe_secret": ""}, "BROADCASTER_UNSUBSCRIBE_SECRET is shorter than 32 bytes"),
    ({"unsubscribe_previous_secrets": ["s" * 32, "embedded-only-change-me"]},
     "BROADCASTER_UNSUBSCRIBE_PREVIOUS_SECRETS holds the development default or a secret shorter than 32 bytes: "
     "remove it"),
    ({"unsubscribe_previous_secrets": ["short"]}, "BROADCASTER_UNSUBSCRIBE_PREVIOUS_SECRETS holds"),
    ({"public_url": None}, "BROADCASTER_PUBLIC_URL is not set"),
    ({"public_url": ""}, "BROADCASTER_PUBLIC_URL is not set"),
    ({"public_url": "http://status.example.com"}, "BROADCASTER_PUBLIC_URL must start with https://"),
    ({"public_url": "https://localhost:6066"}, "BROADCASTER_PUBLIC_URL points at this machine"),
    ({"public_url": "https://127.0.0.2"}, "BROADCASTER_PUBLIC_URL points at this machine"),
    ({"public_url": "https://[::1]:8443"}, "BROADCASTER_PUBLIC_URL points at this machine"),
    ({"public_url": "https://0.0.0.0"}, "BROADCASTER_PUBLIC_URL points at this machine"),
    ({"public_url": "https://"}, "BROADCASTER_PUBLIC_URL points at this machine or at no host"),
    ({"public_url": "https://[::1"}, "BROADCASTER_PUBLIC_URL is not a URL"),
    ({"sendgrid_webhook_public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"},
     "BROADCASTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key: give the verification key SendGrid shows"),
])
def test_each_unsafe_setting_is_refused_by_name(overrides: dict[str, object], expected: str) -> None:
    [problem] = problems(settings(**overrides))
    assert problem.startswith(expected)


def test_an_unreadable_webhook_key_is_refused_at_start_even_without_sendgrid() -> None:
    """Otherwise every Event Webhook call would be refused, quietly, for as long as the worker runs."""
    with pytest.raises(UnsafeSettings, match="refusing to start: these settings .*\n  - BROADCASTER_SENDGRID_WEBHOOK"):
        refuse_unsafe(Settings(sendgrid_webhook_public_key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"))


def test_every_problem_is_reported_at_once() -> None:
    found = problems(settings(unsubscribe_secret="embedded-only-change-me", public_url="http://127.0.0.1:6066"))
    assert [problem.split(" ")[0] for problem in found] == ["BROADCASTER_UNSUBSCRIBE_SECRET"] + \
        ["BROADCASTER_PUBLIC_URL"] * 2


def test_without_a_public_url_links_point_where_the_worker_really_listens() -> None:
    assert public_url(Settings(worker_web_port=7123)) == "http://127.0.0.1:7123"
    assert public_url(Settings(worker_web_host="0.0.0.0", worker_web_port=7124)) == "http://127.0.0.1:7124"
    assert public_url(Settings(worker_web_host="::", worker_web_port=7125)) == "http://[::1]:7125"
    assert public_url(Settings(public_url="https://status.example.com/")) == "https://status.example.com"


def test_previous_secrets_come_from_a_json_list_and_verify_after_the_current_one(monkeypatch) -> None:
    monkeypatch.setenv("BROADCASTER_UNSUBSCRIBE_SECRET", "n" * 32)
    monkeypatch.setenv("BROADCASTER_UNSUBSCRIBE_PREVIOUS_SECRETS", f'["{"o" * 32}", "{"p" * 32}"]')
    assert verifying_secrets(Settings()) == ("n" * 32, "o" * 32, "p" * 32)


def unsafe_environment(tmp_path: Path) -> dict[str, str]:
    """SendGrid on, the development secret, no public URL, and a Kafka address where nothing listens."""
    keep = {name: value for name, value in os.environ.items() if not name.startswith("BROADCASTER_")}
    return keep | {"BROADCASTER_SENDGRID_API_KEY": "SG.key", "BROADCASTER_STATE_DIR": str(tmp_path / "state"),
                   "BROADCASTER_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
                   "BROADCASTER_DATABASE_URL": f"sqlite:///{tmp_path}/broadcaster.db"}


def test_the_worker_refuses_to_start_before_it_connects_to_kafka(tmp_path: Path) -> None:
    started = time.monotonic()
    worker = subprocess.run([sys.executable, "-m", "streams", "worker"], cwd=ROOT, env=unsafe_environment(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 1
    assert "refusing to start: SendGrid is configured" in worker.stderr
    assert "BROADCASTER_UNSUBSCRIBE_SECRET is the development default" in worker.stderr
    assert "BROADCASTER_PUBLIC_URL is not set" in worker.stderr
    assert "Traceback" not in worker.stderr + worker.stdout
    assert time.monotonic() - started < 30  # no broker timeout waited out: it never tried


def test_broadcaster_up_refuses_before_starting_anything(tmp_path: Path) -> None:
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = CliRunner().invoke(cli, ["up"], env=unsafe_environment(tmp_path))
    finally:  # `up` installs its own; pytest's must come back
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert result.exit_code == 1
    assert "BROADCASTER_UNSUBSCRIBE_SECRET is the development default" in result.output
    assert "BROADCASTER_PUBLIC_URL is not set" in result.output
    assert not (tmp_path / "broadcaster.db").exists()  # not even migrated


UNUSABLE = {  # variable: a value no part of the system can use
    "BROADCASTER_MAIL_FROM_NAME": "Example Support\nBcc: everyone@example.com",  # every email unsendable
    "BROADCASTER_PRODUCT_NAME": "Caf\udce9",  # a shell in Latin-1
    "BROADCASTER_MAIL_FROM": "support@example.com\r\n",
    "BROADCASTER_SUPPORT_EMAIL": "support",
    "BROADCASTER_MAIL_CONCURRENCY": "many",
    "BROADCASTER_KAFKA_SASL_MECHANISM": "hunter2-secret",  # a password in the wrong variable
}


def test_settings_that_cannot_be_used_are_each_named_without_their_value_and_nothing_runs(tmp_path: Path) -> None:
    env = {"BROADCASTER_DATABASE_URL": f"sqlite:///{tmp_path}/broadcaster.db", **UNUSABLE}
    result = CliRunner().invoke(cli, ["incident", "list"], env=env)

    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "6 settings cannot be used:" in result.output
    assert "BROADCASTER_MAIL_FROM_NAME: contains the control character U+000A" in result.output
    assert "BROADCASTER_PRODUCT_NAME: contains an unpaired surrogate (not valid UTF-8)" in result.output
    assert "BROADCASTER_SUPPORT_EMAIL: is not a deliverable email address" in result.output
    assert all(variable in result.output for variable in UNUSABLE)
    assert "hunter2" not in result.output and "everyone@" not in result.output
    assert not (tmp_path / "broadcaster.db").exists()

    worker = subprocess.run([sys.executable, "-m", "streams", "worker"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=60)
    assert worker.returncode == 1 and "6 settings cannot be used:" in worker.stderr
    assert "Traceback" not in worker.stderr + worker.stdout
