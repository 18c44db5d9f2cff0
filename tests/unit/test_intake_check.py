"""What the intake API accepts, the bug-reports processor decodes to the same report (Hypothesis, bounded).

The API checks a body with the input rules field by field and does not run the decoder
(the schema, then the same rules again) on what it encodes: this property is why it need not.
"""

import string
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from broadcaster.services.intake import InvalidReport, check_report, new_report_id
from broadcaster.wire.codec import decode_bug_report, encode_bug_report
from tests.unit.test_fuzz_entrances import FUZZ, hostile_text

FEWER = settings(FUZZ, max_examples=100)  # a narrow property over one function: 100 examples explore it

NOW = datetime(2026, 11, 24, 16, 15, 0, 123456, tzinfo=UTC)
# Mostly bodies the API accepts, in every shape it accepts (any Unicode the rules let through,
# surrounding spaces, upper-case addresses), and texts of the hostile kind, some of which pass.
printable = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))  # what a one-line field may hold
one_line = st.text(printable, min_size=1, max_size=30)
many_lines = st.text(st.one_of(printable, st.sampled_from("\n\r\t")), min_size=1, max_size=200)
addresses = st.one_of(st.just(" Ann.Lee@Example.COM"),
                      st.builds("{}@{}.example".format, st.text(string.ascii_letters + "+-_", min_size=1, max_size=10),
                                st.text(string.ascii_lowercase, min_size=1, max_size=8)))
bodies = st.fixed_dictionaries(
    {"reporter": st.fixed_dictionaries({"email": addresses, "name": one_line}),
     "text": st.one_of(many_lines, many_lines, hostile_text)},
    optional={"report_id": one_line, "component": st.one_of(st.none(), one_line)},
)


@FEWER
@given(bodies)
def test_a_report_the_api_accepts_decodes_downstream_to_the_same_report(body: dict) -> None:
    try:
        accepted = check_report(body, NOW)
    except InvalidReport:
        return
    assert decode_bug_report(encode_bug_report(accepted)) == accepted


def test_report_ids_the_server_chooses_are_distinct_and_random() -> None:
    ids = [new_report_id() for _ in range(3 * 256 + 5)]  # across several draws of the pool
    assert len(set(ids)) == len(ids)
    assert all(len(report_id) == 2 + 32 and report_id.startswith("r-") for report_id in ids)
    assert len({report_id[2:4] for report_id in ids}) > 200  # a counter or a constant would not spread
