"""The fast paths an import of a million affected people takes must decide exactly as the full checks do.

``input_rules.email`` skips email-validator's full check for plain addresses whose domain
it already accepted (the domain is most of the cost), and ``input_rules.locale`` keeps
Babel's answer per tag. Here both are compared with the checks they stand for, over
addresses built to hit each rule: quoting, display names, Unicode that combines with an
@-sign, IDNA domains, IP literals, special-use domains and every length limit.
"""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from broadcaster.domain import input_rules
from broadcaster.domain.input_rules import InvalidInput

LOCAL_PARTS = ["ana", "Ana.Lima", "a+tag", "o'neil", "x_y-z", "postmaster", "POSTMASTER", "a..b", ".a", "a.",
               '"quoted"', '"a b"', "a b", "é", "ana\u0338", "a<b", "a>b", "", "a\\b", "1", "a" * 64, "a" * 65,
               "b" * 200, "#!$%&*+/=?^`{|}~"]
DOMAINS = ["example.com", "Example.COM", "EXAMPLE.com.", "example", "localhost", "com", "a.b", "ex_ample.com",
           "-example.com", "example-.com", "ex..ample.com", ".example.com", "example.com..", "example.invalid",
           "example.test", "example.local", "sub.example.onion", "xn--bcher-kva.example", "bücher.example",
           "BÜCHER.example", "xn--4dbc.1.com", "1.xn--4dbc.com", "\u05d0\u05d1.1.com", "xn--.com", "xn--a.com",
           "[127.0.0.1]", "[127.0.0.1", "127.0.0.1", "[IPv6:::1]", "ｅｘａｍｐｌｅ.com", "example。com",
           "exa mple.com", "exa@mple.com", "a" * 63 + ".com", "a" * 64 + ".com", ".".join(["a" * 60] * 4) + ".co",
           "\u2488.com", "e\u0301xample.com", "1.2", "example.com\u200b", "example.c", "example.123",
           # IDNA labels of 20 CJK characters: 26 ASCII characters each, 60 bytes in UTF-8, so an address
           # short enough as written can be too long once normalised to Unicode.
           ".".join(["xn--fiqaaaaaaaaaaaaaaaaaaa"] * 3) + ".com", ".".join(["xn--fiqaaaaaaaaaaaaaaaaaaa"] * 4) + ".com"]
ASCII_PIECES = st.text(alphabet="ab.-_+@\"<> \\[]:1é\u0338", max_size=12)


def full_check(value: str) -> str:
    """The address as input_rules.email decided it before the fast path: email-validator's full check."""
    raw = input_rules.line(value, "email", max_length=input_rules.MAX_EMAIL)
    try:
        checked = validate_email(raw, check_deliverability=False, allow_smtputf8=False,
                                 allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError as error:
        return "refused: " + str(error).replace(raw, "the address")
    return (checked.ascii_email or checked.normalized).lower()


def checked(value: str) -> str:
    try:
        return input_rules.email(value)
    except InvalidInput as error:
        assert error.field == "email"
        prefix = "is not a deliverable email address ("
        if error.problem.startswith(prefix):
            return "refused: " + error.problem[len(prefix):-1]
        return "invalid: " + error.problem


def expected(value: str) -> str:
    try:
        return full_check(value)
    except InvalidInput as error:  # too long, empty, control characters: before either check
        return "invalid: " + error.problem


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(LOCAL_PARTS) | ASCII_PIECES, st.sampled_from(["@", "@@", "", "＠", " @"]),
       st.sampled_from(DOMAINS) | ASCII_PIECES)
@example("ana", "@", "example.com")
@example("a" * 64, "@", ".".join(["a" * 60] * 4) + ".co")  # too long only after the @-sign
@example("a" * 10, "@", ".".join(["xn--fiqaaaaaaaaaaaaaaaaaaa"] * 4) + ".com")  # too long in Unicode
def test_the_cached_address_check_decides_and_explains_exactly_as_the_full_check(local: str, at: str,
                                                                                 domain: str) -> None:
    value = local + at + domain
    want = expected(value)
    assert checked(value) == want  # the domain may or may not be cached by now
    assert checked(value) == want  # cached now, if it was accepted


@pytest.mark.parametrize("domain", DOMAINS, ids=range(len(DOMAINS)))
def test_each_tricky_domain_gives_the_same_answer_before_and_after_it_is_cached(domain: str) -> None:
    input_rules._DOMAINS.clear()
    for local in LOCAL_PARTS:
        value = f"{local}@{domain}"
        assert checked(value) == expected(value), value


def test_the_plain_path_is_taken_and_lowercases_as_the_full_check_does() -> None:
    assert input_rules._plain_email("Ana.Lima@Example.COM") == "ana.lima@example.com"
    assert input_rules._plain_email("PostMaster@xn--bcher-kva.example") == "postmaster@xn--bcher-kva.example"
    assert input_rules._plain_email('"ana"@example.com') is None and input_rules._plain_email("ana@[127.0.0.1]") is None
    assert input_rules._plain_email("ana@exa mple.com") is None  # refused: the full check says why


@pytest.mark.parametrize("tag", ["en", "en_US", "en-GB", "pt-BR", "pt_br", "fr-FR", "zh-Hant-TW", "sr_Latn", "xx",
                                 "en-", "-en", "en__US", "EN", "de-DE-1996", "not a locale!", "und"],
                         ids=lambda tag: tag)
def test_the_remembered_locale_is_babels_own_answer(tag: str) -> None:
    from babel import Locale, UnknownLocaleError

    try:
        want: str | None = str(Locale.parse(tag, sep="-" if "-" in tag else "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        want = None
    for _ in range(2):  # the second time from the cache
        if want is None:
            with pytest.raises(InvalidInput, match="is not a locale we know"):
                input_rules.locale(tag)
        else:
            assert input_rules.locale(tag) == want


@pytest.mark.parametrize("column", ["time_zone", "locale"])
def test_a_remembered_zone_or_locale_cell_is_checked_as_an_unremembered_one(column: str) -> None:
    from broadcaster.domain import affected

    cells = ["", "  ", "Europe/Paris", " Europe/Paris ", "europe/paris", "Mars/Olympus", "UTC", "fr-FR", "fr_FR",
             "pt-br", "xx", "not a locale!", "Bad\x07Cell", "x" * 64, "x" * 65, "Europe/Paris" + " " * 60]
    cached, uncached = (affected.time_zone, affected._zone) if column == "time_zone" else (affected.locale,
                                                                                            affected._locale)

    def outcome(check, value: str) -> str | None:
        try:
            return check(value)
        except InvalidInput as error:
            return f"refused: {error}"

    for _ in range(2):  # the second time from the cache
        assert [outcome(cached, cell) for cell in cells] == [outcome(uncached, cell) for cell in cells]
    assert outcome(cached, "Mars/Olympus" if column == "time_zone" else "xx").startswith(f"refused: {column}: ")


def test_the_progress_bar_moves_by_every_byte_read_in_a_few_steps(tmp_path) -> None:
    from broadcaster.cli.affected import _counted, _size

    path = tmp_path / "people.csv"
    path.write_text("email,name\n" + "".join(f"p{n}@example.com,Zoë {n}\n" for n in range(2500)), encoding="utf-8")
    steps: list[int] = []
    with path.open(encoding="utf-8") as stream:
        size = _size(stream)
        lines = list(_counted(stream, steps.append))
    assert lines == path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert sum(steps) == size == path.stat().st_size and len(steps) == 3  # 1,000 lines, 1,000, the rest


@pytest.mark.parametrize("setting", ["STRICT", "TEST_ENVIRONMENT", "GLOBALLY_DELIVERABLE"])
def test_email_validators_module_settings_are_obeyed_on_the_plain_path_too(setting: str, monkeypatch) -> None:
    import email_validator

    values = ["a" * 65 + "@example.com", "ana@example.test", "ana@example.local", "ana@example.com", "x@localhost"]
    for value in values:
        checked(value)  # cached under the usual settings first
    monkeypatch.setattr(email_validator, setting, not getattr(email_validator, setting))
    assert [checked(value) for value in values] == [expected(value) for value in values]
