"""The sentences that change with an incident's status and severity, kept in one place for both parts.

A sev1 outage and a sev4 cosmetic glitch do not call for the same words, and a
Monitoring update (a fix is in place) must not say it is not fixed yet. The templates
decide where each sentence goes; this module decides which sentence it is.
"""

from dataclasses import dataclass

from broadcaster.domain.incidents import Status
from broadcaster.domain.notifications import NotificationKind

_FAULT = {
    "sev1": "I'm so sorry: this is a serious outage on our side, not something you did, "
            "and it has our whole team's attention.",
    "sev2": "I'm sorry: this is a fault on our side, not something you did.",
    "sev3": "I'm sorry: this is a fault on our side, not something you did.",
    "sev4": "I'm sorry for the bother: this is a small fault on our side, not something you did.",
}

_WHERE_WE_ARE = {
    Status.INVESTIGATING: "We are still looking for the cause, and I'm sorry it is not fixed yet.",
    Status.IDENTIFIED: "We know the cause and are working on the fix; I'm sorry it is not fixed yet.",
    Status.MONITORING: "A fix is in place, and we are watching closely to make sure it holds: "
                       "it should work for you again now. I'm sorry for the trouble it caused you; if it still fails, "
                       "reply to this email and tell us what you see.",
    Status.RESOLVED: "It is fixed.",
}

_ACKNOWLEDGED = {
    Status.INVESTIGATING: "We know about it, you are not the only one affected, and we are working on it now.",
    Status.IDENTIFIED: "We know about it, you are not the only one affected, and we have found the cause: "
                       "the fix is being worked on now.",
    Status.MONITORING: "We know about it, and a fix is already in place: we are watching to make sure it holds, "
                       "so it may already work for you again.",
    Status.RESOLVED: "We know about it, and it is fixed.",
}

def news_dated(moment: str, from_note: bool) -> str:
    """When the team said what a holding update quotes: a shared note is new to the reader, a progress update is not."""
    return f"The team wrote this on {moment}." if from_note else f"That was our last news, on {moment}."


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass(frozen=True)
class For:
    """The wording for one email: its kind, the incident's status and severity, holding updates in a row."""

    kind: NotificationKind
    status: str
    severity: str = "sev3"
    holding_in_a_row: int = 0
    escalate_after: int = 2
    wrote: bool = True  # the reader wrote to us (not an affected person the engineers added, nor a follower)

    @property
    def fault(self) -> str:
        """The apology, weighed to the severity."""
        return _FAULT.get(self.severity, _FAULT["sev3"])

    @property
    def acknowledged(self) -> str:
        return _ACKNOWLEDGED[Status(self.status)]

    @property
    def where_we_are(self) -> str:
        return _WHERE_WE_ARE[Status(self.status)]

    @property
    def fix_in_place(self) -> bool:
        return Status(self.status) in (Status.MONITORING, Status.RESOLVED)

    @property
    def unless_sooner(self) -> str:
        """What may bring the next email before the promised time: the fix, or (once a fix is in) nothing."""
        return ", to tell you how the fix is holding up" if self.fix_in_place else \
            ", or as soon as it is fixed if that comes first"

    @property
    def no_need_to_write(self) -> str:
        return f"You don't need to write{' again' if self.wrote else ''} to hear from us."

    @property
    def without_a_promise(self) -> str:
        """When the next email comes if no time was promised."""
        return "once we are sure the fix holds" if self.fix_in_place else "as soon as it is fixed"

    @property
    def taking_longer(self) -> bool:
        """This holding update is one too many to call routine: say so, and promise later."""
        return self.holding_in_a_row >= self.escalate_after

    @property
    def holding_count(self) -> str:
        """``the second time`` we write without a fix: each holding update says something new."""
        number = self.holding_in_a_row
        ordinal = _ORDINALS[number - 1] if 0 < number <= len(_ORDINALS) else f"{number}th"
        return f"the {ordinal} time"

    @property
    def sorry_for_trouble(self) -> str:
        if self.severity == "sev1":
            return "I'm so sorry for the disruption this outage caused you."
        if self.severity == "sev4":
            return "I'm sorry for the bother it caused you."
        return "I'm sorry for the trouble it caused you."

    @property
    def thanks(self) -> str:
        if self.kind is NotificationKind.ACKNOWLEDGEMENT:
            return "Thank you for telling us"
        if self.fix_in_place:
            return "Thank you for bearing with us"
        return "Thank you for your patience"
