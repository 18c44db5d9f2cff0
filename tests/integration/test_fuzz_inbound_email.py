"""Generated Inbound Parse posts thrown at POST /v1/inbound/sendgrid over real HTTP: never a 5xx (Hypothesis, bounded).

Hostile bytes in every field SendGrid sends, lying charsets, broken JSON, raw MIME
messages, and bodies that are not forms at all: each is a report (202), a stored reply
or an ignored automatic email (200), or a clear refusal (413, 422).
"""

import base64
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.config import Settings
from broadcaster.embedded.broker import free_port
from tests.support.intake import running_intake
from tests.unit.test_fuzz_entrances import FUZZ, NASTY, hostile_text
from tests.unit.test_replies import form

SECRET = "fuzz-secret"
AUTHORIZATION = "Basic " + base64.b64encode(f"parse:{SECRET}".encode()).decode()
FIELDS = ("from", "to", "cc", "subject", "text", "html", "headers", "envelope", "charsets", "SPF", "dkim", "email")

hostile_bytes = st.one_of(
    st.binary(max_size=200),
    hostile_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.lists(st.one_of(NASTY.map(lambda t: t.encode("utf-8", "surrogatepass")),
                       st.sampled_from([b"=?utf-8?b?////?=", b'{"to":', b"<a@b>", b"\xff\xfe", b"\r\n\r\n",
                                        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"])),
             max_size=6).map(b"".join),
)
charsets = st.one_of(hostile_bytes, st.dictionaries(st.sampled_from(FIELDS), st.one_of(
    st.sampled_from(["utf-8", "iso-8859-1", "x-unknown", "utf-16", "", "idna", "rot13", "base64"]), hostile_text),
    max_size=4).map(lambda d: repr(d).replace("'", '"').encode("utf-8", "surrogatepass")))
fields = st.fixed_dictionaries(
    {"from": st.one_of(st.just(b"Ann <ann@example.com>"), hostile_bytes)},
    optional={name: hostile_bytes for name in FIELDS if name != "from"} | {"charsets": charsets},
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server for every example (no broker: reports wait in the outbox, which is what is tested here)."""
    from tests.support.databases import fresh_database

    with fresh_database("sqlite", tmp_path_factory.mktemp("fuzz-inbound")) as url:
        settings = Settings(database_url=url, kafka_bootstrap=f"127.0.0.1:{free_port()}",
                            inbound_parse_secret=SECRET)
        with running_intake(settings) as intake, httpx.Client(base_url=intake.url, timeout=30,
                                                               headers={"Authorization": AUTHORIZATION}) as http:
            yield http


# The server's publishing thread (kafka-python's reconnect jitter) uses `random` while examples are drawn.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@FUZZ
@given(st.one_of(fields.map(lambda f: form(f)), st.tuples(st.sampled_from([
    "multipart/form-data; boundary=xYzZY", "multipart/form-data", "multipart/form-data; boundary=", "text/plain",
    'multipart/form-data; boundary="\u00e9"']), hostile_bytes)))
def test_no_post_makes_the_inbound_endpoint_answer_5xx(client: httpx.Client, post: tuple[str, bytes]) -> None:
    content_type, body = post
    answer = client.post("/v1/inbound/sendgrid", content=body,
                         headers={"Content-Type": content_type.encode("utf-8")})
    assert answer.status_code in (200, 202, 413, 422), (answer.status_code, answer.text[:300])
