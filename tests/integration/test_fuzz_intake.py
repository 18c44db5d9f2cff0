"""Generated JSON bodies thrown at POST /v1/reports over real HTTP: never a 5xx (Hypothesis, bounded)."""

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from tests.support.intake import running_intake
from tests.unit.test_fuzz_entrances import FUZZ, anything, hostile_text

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)),
    max_leaves=10,
)
reporters = st.one_of(st.fixed_dictionaries({"email": st.one_of(st.just("a@example.com"), hostile_text, anything),
                                             "name": st.one_of(st.just("Ann"), hostile_text, anything)}), json_values)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"reporter": reporters, "text": st.one_of(st.just("CSV upload fails"), hostile_text, anything)},
                          optional={"report_id": st.one_of(hostile_text, anything),
                                    "component": st.one_of(hostile_text, anything), "source": anything}),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server for every example (no broker: the reports wait in the outbox, which is what is tested here)."""
    from tests.support.databases import fresh_database

    with fresh_database("sqlite", tmp_path_factory.mktemp("fuzz")) as url:
        settings = Settings(database_url=url, kafka_bootstrap=f"127.0.0.1:{free_port()}",
                            intake_rate_per_key=1e6, intake_burst_per_key=1_000_000)
        with running_intake(settings) as intake, intake.client() as http:
            yield http


# The server's publishing thread (kafka-python's reconnect jitter) uses `random` while examples are drawn.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@FUZZ
@given(bodies, st.one_of(st.none(), hostile_text))
def test_no_json_body_makes_the_endpoint_answer_5xx(client: httpx.Client, body: object, idempotency_key: str | None) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    headers = {"Content-Type": "application/json"}
    if idempotency_key is not None and idempotency_key.isascii() and idempotency_key.isprintable() \
            and idempotency_key == idempotency_key.strip():
        headers["Idempotency-Key"] = idempotency_key
    answer = client.post("/v1/reports", content=raw, headers=headers)
    assert answer.status_code in (202, 422), (answer.status_code, answer.text[:300])


