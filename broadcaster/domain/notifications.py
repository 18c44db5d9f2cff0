"""Who is told what: the kinds of email and the life of one delivery."""

from enum import StrEnum

from broadcaster.domain.incidents import UpdateKind


class NotificationKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    PROGRESS = "progress"
    HOLDING = "holding"
    RESOLUTION = "resolution"
    FIXED_REPLY = "fixed_reply"
    # To someone who asked to follow an incident: confirm it was you (a kind is 16 characters at most).
    FOLLOW_CONFIRMATION = "follow_confirm"
    REOPENED = "reopened"  # we said it was fixed; it is not
    TRIAGE_RECEIPT = "triage_receipt"  # to a reporter whose report waits for a person: when they will hear back
    AFFECTED = "affected"  # the first email of a person the engineers know was affected, who did not write


class SubscriberSource(StrEnum):
    """How someone came to hear about an incident: they wrote to us, the engineers know they were affected,
    or they followed it from its page."""

    REPORTER = "reporter"
    AFFECTED = "affected"
    FOLLOWER = "follower"


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"  # the mail provider refuses our account (401/403): waits without spending attempts
    DEAD = "dead"
    SKIPPED = "skipped"  # not sent: the person left the incident, or their address is suppressed (stopped all
    # email, bounced, reported spam); not a failure, so nobody is called to it


_KIND_FOR_UPDATE = {
    UpdateKind.DECLARED: NotificationKind.ACKNOWLEDGEMENT,
    UpdateKind.PROGRESS: NotificationKind.PROGRESS,
    UpdateKind.HOLDING: NotificationKind.HOLDING,
    UpdateKind.RESOLUTION: NotificationKind.RESOLUTION,
    UpdateKind.REOPENED: NotificationKind.REOPENED,
}


def kind_for_update(update_kind: str) -> NotificationKind:
    """What existing subscribers receive when an update of this kind is published."""
    return _KIND_FOR_UPDATE[UpdateKind(update_kind)]


def kind_for_new_subscriber(incident_is_open: bool) -> NotificationKind:
    """A reporter who joins an open incident is acknowledged; a late one hears it is fixed."""
    return NotificationKind.ACKNOWLEDGEMENT if incident_is_open else NotificationKind.FIXED_REPLY


def kind_for_affected(incident_is_open: bool) -> NotificationKind:
    """An affected person's first email: we noticed, while it is open; the resolution once it is fixed."""
    return NotificationKind.AFFECTED if incident_is_open else NotificationKind.RESOLUTION
