"""The local SendGrid server must refuse what the real API refuses, or the tests prove nothing."""

from broadcaster.mail.sandbox import rule_violations


def _body(personalizations: list[dict]) -> dict:
    return {
        "personalizations": personalizations,
        "from": {"email": "support@example.com"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }


def test_a_valid_request_passes() -> None:
    assert rule_violations(_body([{"to": [{"email": "a@example.com"}]}])) == []


def test_more_than_1000_personalizations_are_refused() -> None:
    body = _body([{"to": [{"email": f"u{i}@example.com"}]} for i in range(1001)])
    assert "personalizations must hold 1 to 1000 items" in rule_violations(body)


def test_an_address_twice_in_one_request_is_refused() -> None:
    body = _body([{"to": [{"email": "a@example.com"}]}, {"to": [{"email": "A@example.com"}]}])
    assert "each address may appear once per request" in rule_violations(body)


def test_bad_addresses_and_missing_fields_are_refused() -> None:
    problems = rule_violations({"personalizations": [{"to": [{"email": "nope"}]}]})
    assert "invalid email address 'nope'" in problems
    assert "from.email is required and must be an address" in problems
    assert "subject is required" in problems
    assert any("content" in p for p in problems)
