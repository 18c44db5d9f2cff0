from datetime import UTC, datetime, timedelta

from broadcaster.domain.linking import Candidate, best_match, significant_words

NOW = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
CSV = Candidate("INC-CSV", "CSV upload to pre-approved members fails", "groups",
                ("csv upload", "pre-approved"), True, NOW)
LOGIN = Candidate("INC-LOGIN", "Login with Google fails", "auth", ("google login",), True, NOW)


def test_the_story_report_links_to_the_csv_incident() -> None:
    text = "unexpected error when I upload a CSV to my group's pre-approved list"
    match = best_match(text, "groups", [LOGIN, CSV])
    assert match is not None and match.candidate.incident_id == "INC-CSV"


def test_a_report_about_another_component_is_not_linked() -> None:
    assert best_match("CSV upload fails", "billing", [CSV]) is None


def test_an_unknown_component_does_not_prevent_a_link() -> None:
    assert best_match("CSV upload fails", None, [CSV]) is not None


def test_an_unrelated_report_is_not_linked() -> None:
    assert best_match("I was charged for a year instead of a month", None, [CSV, LOGIN]) is None


def test_every_word_of_a_phrase_must_be_present() -> None:
    assert best_match("my upload of a photo fails", "groups", [CSV]) is None


def test_plural_and_case_do_not_matter() -> None:
    assert significant_words("CSV Uploads") == significant_words("csv upload")


def test_an_open_incident_beats_a_resolved_one_with_the_same_words() -> None:
    resolved = Candidate("INC-OLD", CSV.title, "groups", CSV.phrases, False,
                         NOW - timedelta(days=2), NOW - timedelta(days=1))
    match = best_match("CSV upload broken", "groups", [resolved, CSV])
    assert match is not None and match.candidate.incident_id == "INC-CSV"


def test_the_more_specific_phrase_wins() -> None:
    generic = Candidate("INC-UPLOAD", "Uploads are slow", None, ("upload",), True, NOW + timedelta(1))
    match = best_match("CSV upload fails", "groups", [generic, CSV])
    assert match is not None and match.candidate.incident_id == "INC-CSV"
