"""What the intake API accepts, the bug-reports processor decodes to the same report (Hypothesis, bounded).

The API checks a body with the input rules field by field and does not run the decoder
(the schema, then the same rules again) on what it encodes: this property is why it need not.
"""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from broadcaster.services.intake import InvalidReport, check_report
from broadcaster.wire.codec import decode_bug_report, encode_bug_report
from tests.unit.test_fuzz_entrances import FUZZ, address, anything, hostile_text

NOW = datetime(2026, 11, 24, 16, 15, 0, 123456, tzinfo=UTC)
bodies = st.fixed_dictionaries(
    {"reporter": st.fixed_dictionaries({"email": st.one_of(st.just("Ann.Lee@Example.com"), address),
                                        "name": st.one_of(st.just(" Ann Lee "), hostile_text)}),
     "text": st.one_of(st.just("CSV upload fails\r\n\tagain"), hostile_text)},
    optional={"report_id": st.one_of(st.just("desk-7"), hostile_text), "component": st.one_of(hostile_text, st.none()),
              "source": anything},
)


@FUZZ
@given(bodies)
def test_a_report_the_api_accepts_decodes_downstream_to_the_same_report(body: dict) -> None:
    try:
        accepted = check_report(body, NOW)
    except InvalidReport:
        return
    assert decode_bug_report(encode_bug_report(accepted)) == accepted
