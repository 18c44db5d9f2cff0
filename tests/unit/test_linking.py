"""The matcher on small, readable cases; tests/data/linking and linking_real measure it at scale (broadcaster linking eval)."""

from datetime import UTC, datetime, timedelta

from broadcaster.domain.linking import significant_words
from broadcaster.linking.early_warning import ReportTerms, describe, resembling, term_counts
from broadcaster.linking.matcher import IncidentProfile, Matcher, Outcome, ReportText
from broadcaster.linking.text import error_codes, normalise, reports_a_failure

NOW = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
CSV = IncidentProfile("INC-CSV", "CSV upload to pre-approved members fails", "groups",
                      "Uploading a CSV to a group's pre-approved members list fails with unexpected error.",
                      ("csv upload", "pre-approved"), NOW)
INVITES = IncidentProfile("INC-INV", "Group invitations never arrive", "groups",
                          "Invitation emails to join a group are not delivered.", (), NOW)
GOOGLE = IncidentProfile("INC-G", "Login with Google fails with error 500", "auth",
                         "Signing in with Google shows error 500.", (), NOW)


def matcher(*profiles: IncidentProfile) -> Matcher:
    m = Matcher()
    m.set_incidents(profiles or (CSV, INVITES, GOOGLE))
    return m


def test_the_story_report_is_linked_to_the_csv_incident() -> None:
    decision = matcher().decide(ReportText("unexpected error when I upload a CSV to my group's pre-approved list"))
    assert decision.outcome is Outcome.LINKED and decision.incident_id == "INC-CSV"


def test_typos_and_another_language_still_find_the_incident() -> None:
    m = matcher()
    assert m.decide(ReportText("cant log in with gogle, eror 500 evry time")).incident_id == "INC-G"
    assert m.decide(ReportText("No puedo subir el archivo CSV de miembros, sale un error")).incident_id == "INC-CSV"


def test_an_unrelated_report_is_not_linked() -> None:
    assert matcher().decide(ReportText("I love the new dark mode")).outcome is Outcome.UNLINKED


def test_a_how_to_question_that_shares_the_words_is_not_linked_automatically() -> None:
    decision = matcher().decide(ReportText("How do I add pre-approved members to my group?"))
    assert decision.outcome is not Outcome.LINKED


def test_a_quoted_error_code_pulls_towards_the_incident_that_quotes_it() -> None:
    m = matcher()
    plain = m.scores([ReportText("google sign in is broken")])[0][2]
    coded = m.scores([ReportText("google sign in is broken, error 500")])[0][2]
    assert coded > plain


def test_a_different_component_counts_against_a_link() -> None:
    m = matcher()
    same = m.scores([ReportText("CSV upload fails", "groups")])[0][0]
    other = m.scores([ReportText("CSV upload fails", "billing")])[0][0]
    assert other < same


def test_confirmed_reports_teach_the_incident_new_words() -> None:
    m = matcher(CSV, INVITES)
    text = ReportText("the spreadsheet import for prequalified people is broken")
    before = m.scores([text])[0][0]
    m.learn("INC-CSV", "my spreadsheet import of prequalified people keeps breaking")
    assert m.scores([text])[0][0] > before


def test_a_burst_of_one_wording_does_not_make_the_matcher_forget_the_others() -> None:
    """Memory keeps distinct reports: copies of one wording used to push the others out (only the newest 20
    were kept), and a report worded another way fell from linked to suggested, never to be learned again."""
    m = matcher(IncidentProfile("INC-S", "Search returns nothing", "search", "", ("search",), NOW))
    wordings = ["search returns nothing since this morning", "searching for anything gives an empty page"]
    assert [m.decide_many([ReportText(w)], learn=True)[0].outcome for w in wordings] == [Outcome.LINKED] * 2
    burst = m.decide_many([ReportText(wordings[0])] * 25, learn=True)
    assert {d.outcome for d in burst} == {Outcome.LINKED}
    assert m.decide(ReportText(wordings[1])).outcome is Outcome.LINKED


def test_a_report_like_one_an_engineer_rejected_is_no_longer_linked_automatically() -> None:
    m = matcher(CSV, INVITES)
    text = ReportText("unexpected error when I upload a CSV to my group's pre-approved list")
    assert m.decide(text).outcome is Outcome.LINKED
    m.reject("INC-CSV", "unexpected error when I upload a CSV to my group's pre-approved list, on the old site")
    decision = m.decide(text)
    assert decision.outcome is Outcome.SUGGESTED and decision.incident_id == "INC-CSV"


def test_two_incidents_that_fit_equally_go_to_an_engineer() -> None:
    twin = IncidentProfile("INC-CSV2", CSV.title, CSV.component, CSV.description, CSV.phrases, NOW)
    decision = matcher(CSV, twin).decide(ReportText("CSV upload to pre-approved members fails"))
    assert decision.outcome is Outcome.SUGGESTED


def test_a_resolved_twin_does_not_hold_back_a_link_to_the_open_incident() -> None:
    old = IncidentProfile("INC-OLD", CSV.title, CSV.component, CSV.description, CSV.phrases,
                          NOW - timedelta(days=3), is_open=False)
    decision = matcher(old, CSV).decide(ReportText("CSV upload to pre-approved members fails"))
    assert decision.outcome is Outcome.LINKED and decision.incident_id == "INC-CSV"


def test_text_helpers() -> None:
    assert error_codes("got ERR_UPLOAD_413 then Error 500") == {"ERR_UPLOAD_413", "500"}
    assert normalise("Subir el archivo") == "upload el file"
    assert reports_a_failure("csv import broken")
    assert not reports_a_failure("How do I upload a CSV?")
    assert significant_words("CSV Uploads") == significant_words("csv upload")


def test_similar_unlinked_reports_are_found_and_described() -> None:
    recent = ["dark mode makes the calendar unreadable", "calendar text invisible in dark mode", "refund please"]
    alike = resembling(term_counts(["in dark mode I cannot read the calendar"]), term_counts(recent))
    assert alike.tolist() == [[True, True, False]]
    phrases, hint = describe(["dark mode makes the calendar unreadable", "calendar invisible in dark mode"])
    assert set(phrases) >= {"dark", "mode", "calendar"} and hint


def test_kept_report_counts_are_made_afresh_counts_and_stay_bounded() -> None:
    texts = {f"r{n}": text for n, text in enumerate(["dark mode calendar", "refund please", "search is empty",
                                                      "upload fails with 500", "login loops"])}
    kept = ReportTerms(kept=3)
    for chosen in (["r0", "r1"], ["r1", "r2", "r3"], ["r4", "r0", "r1"]):
        counts = kept.of([(i, texts[i]) for i in chosen])
        assert (counts != term_counts([texts[i] for i in chosen])).nnz == 0
        assert len(kept._rows) <= 3


def test_suggested_match_phrases_are_words_people_wrote_not_stems() -> None:
    phrases, _ = describe(["the app crashes on start", "crashes when I open settings", "it crashes, settings gone"])
    assert phrases[:2] == ("crashes", "settings")
    assert significant_words(phrases[0]) == significant_words("crashes")  # and it matches what they wrote


def test_a_rejection_holds_for_the_open_incident_chosen_over_a_resolved_twin() -> None:
    old = IncidentProfile("INC-OLD", CSV.title, CSV.component, CSV.description, CSV.phrases,
                          NOW - timedelta(days=3), is_open=False)
    m = matcher(old, CSV)
    text = "CSV upload to pre-approved members fails"
    m.reject("INC-CSV", text)
    decision = m.decide(ReportText(text))
    assert decision.incident_id == "INC-CSV" and decision.outcome is Outcome.SUGGESTED
