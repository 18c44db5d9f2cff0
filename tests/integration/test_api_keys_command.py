"""``broadcaster api-keys``, as an operator types it: the key shown once, only its hash kept, revoked at once."""

import hashlib

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from broadcaster.cli.main import cli
from broadcaster.storage.models import ApiKey


def run(database_url: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["api-keys", *args], env={"BROADCASTER_DATABASE_URL": database_url})
    assert result.exit_code == code, result.output
    return result.output


def test_a_key_is_shown_once_stored_as_its_hash_listed_and_revoked(database_url: str) -> None:
    token = run(database_url, "create", "zendesk").splitlines()[0]
    assert len(token) > 40
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(select(ApiKey.name, ApiKey.token_sha256)).all()
    engine.dispose()
    assert stored == [("zendesk", hashlib.sha256(token.encode()).hexdigest())]  # never the token itself
    assert "zendesk\tcreated" in run(database_url, "list") and "\tlive" in run(database_url, "list")
    assert "exists already" in run(database_url, "create", "zendesk", code=1)
    assert "revoked." in run(database_url, "revoke", "zendesk")
    assert "\trevoked " in run(database_url, "list")
    assert "API key 'zendesk' was already revoked on 20" in run(database_url, "revoke", "zendesk")
    assert "was revoked on 20" in (again := run(database_url, "create", "zendesk", code=1)) and "revoke it" not in again
    assert "no API key called 'intercom'" in run(database_url, "revoke", "intercom", code=1)
    assert "control character" in run(database_url, "create", "bad\nname", code=1)
