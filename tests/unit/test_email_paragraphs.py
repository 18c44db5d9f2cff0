"""Every paragraph of a plain-text email stands on its own: a template tag at the end of a line must not eat the
blank line after it (Jinja's trim_blocks does, unless the tag says ``+%}``). Seen after a merge: the update ran
into the line that quoted the report, and the thanks into the signature."""

from datetime import UTC, datetime

import pytest

from broadcaster.domain.notifications import NotificationKind
from broadcaster.messages.compose import EmailFacts, compose
from broadcaster.messages.sender import Sender

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
KINDS = [(NotificationKind.ACKNOWLEDGEMENT, "investigating"), (NotificationKind.PROGRESS, "identified"),
         (NotificationKind.HOLDING, "identified"), (NotificationKind.PROGRESS, "monitoring"),
         (NotificationKind.RESOLUTION, "resolved"), (NotificationKind.REOPENED, "investigating")]


@pytest.mark.parametrize("follower", [False, True], ids=["reporter", "follower"])
@pytest.mark.parametrize(("kind", "status"), KINDS, ids=[f"{k.value}-{s}" for k, s in KINDS])
def test_the_update_and_the_signature_are_paragraphs_of_their_own(kind: NotificationKind, status: str,
                                                                 follower: bool) -> None:
    facts = EmailFacts(1, kind, "ann@example.com", "Ann Lee", "It fails", NOW, "INC-1", "Uploads fail", status,
                       "What we know.", "Do it by hand.", "The update's own words.", NOW, None, "Try again.",
                       follower=follower, communicator="Angela B.")
    text = compose(facts, Sender("Product", "Example Support"), NOW).text
    body, _, _ = text.partition("\nINC-1 · ")
    if kind in (NotificationKind.PROGRESS, NotificationKind.RESOLUTION):  # the others give it a label of its own
        assert "\n\nThe update's own words.\n\n" in body, text
    assert body.rstrip().endswith("\n\nAngela B.\nExample Support"), text
    assert "\n\n\n" not in body, text
