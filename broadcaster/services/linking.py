"""The matcher kept in step with the database: incidents, confirmed links and rejections.

One :class:`LinkingModel` lives in each link-reports processor. Before each decision it
checks a cheap fingerprint of the candidate incidents and of engineers' feedback, and
rebuilds the matcher when they changed (an incident declared or resolved anywhere, a
suggestion confirmed or rejected), so every worker sees a new incident before it links
the next report.
"""

import heapq
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from operator import itemgetter

from sqlalchemy import ColumnElement, event, func, or_, select
from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.domain.incidents import OPEN_STATUSES, Status
from broadcaster.linking.early_warning import RECENT_COMPARED, ReportTerms
from broadcaster.linking.features import LEARNED_PER_INCIDENT
from broadcaster.linking.matcher import Decision, IncidentProfile, Matcher, Outcome, ReportText, Thresholds
from broadcaster.storage.models import Incident, LinkFeedback, Report

HISTORY_REPORTS = 2000
RELOADED_PER_INCIDENT = 5 * LEARNED_PER_INCIDENT  # texts read back into memory, see _confirmed_texts
_SYNCED = "broadcaster.linking.synced"


class LinkingModel:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.matcher = Matcher(
            Thresholds(settings.link_threshold, settings.suggest_threshold, settings.link_margin),
            backlog_window=settings.link_backlog_window,
        )
        self._fingerprint: tuple | None = None
        self.report_terms = ReportTerms(kept=4 * RECENT_COMPARED)  # a pool and a batch, with room
        self._observed_history = False
        # Held by whoever uses the matcher, through to the commit that teaches it: the link-reports
        # processor decides in a thread of its own, an incident event links its backlog in the event loop.
        self.lock = threading.RLock()

    def decide_and_learn(self, session: Session, reports: Sequence[ReportText], now: datetime, *,
                         unstored: Sequence[tuple[datetime, str]] = ()) -> list[Decision]:
        """Decide each report, and learn from the ones linked once the transaction commits.

        Learning waits for the commit: a batch that fails is retried in parts, and what it
        decided must not be remembered once per attempt. ``unstored`` are the reports being
        received and not written yet (when received, what they say), see :meth:`sync`.
        """
        if not reports:
            return []
        self.sync(session, now, unstored)
        decisions, learn_linked = self.matcher.decide_and_defer(reports)
        if any(d.outcome is Outcome.LINKED for d in decisions):
            event.listen(session, "after_commit", lambda _session: learn_linked(), once=True)
        return decisions

    def sync(self, session: Session, now: datetime, unstored: Sequence[tuple[datetime, str]] = ()) -> None:
        """Bring the matcher up to date; once per transaction and moment (a batch shares both).

        The first time, the word statistics start from the recent reports, ``unstored``
        ones (being received, not written yet) among them.
        """
        if session.info.get(_SYNCED) == (id(self), now):
            return
        session.info[_SYNCED] = (id(self), now)
        if not self._observed_history:
            session.flush()  # reports added as objects count among the recent ones too
            self.matcher.observe(_recent_texts(session, unstored))
            self._observed_history = True
        considered = _candidate(now, self.settings.resolved_reply_window)
        incidents = session.execute(select(Incident.id, Incident.status, Incident.match_phrases).where(considered)
                                    .order_by(Incident.id))
        feedback = session.execute(select(func.count(), func.max(LinkFeedback.id))).one()
        fingerprint = (tuple((i, status, tuple(phrases or ())) for i, status, phrases in incidents), tuple(feedback))
        if fingerprint != self._fingerprint:  # the incidents themselves are read only then
            self._rebuild(session, list(session.scalars(select(Incident).where(considered).order_by(Incident.id))))
            self._fingerprint = fingerprint

    def _rebuild(self, session: Session, incidents: list[Incident]) -> None:
        self.matcher.set_incidents([profile(incident) for incident in incidents])
        self.matcher.forget()
        ids = [incident.id for incident in incidents]
        self.matcher.learn_many(_confirmed_texts(session, ids))
        rejected = session.execute(
            select(LinkFeedback.incident_id, Report.text)
            .join(Report, Report.id == LinkFeedback.report_id)
            .where(LinkFeedback.verdict == "rejected", LinkFeedback.incident_id.in_(ids))
        )
        for incident_id, text in rejected:
            self.matcher.reject(incident_id, text)


def _recent_texts(session: Session, unstored: Sequence[tuple[datetime, str]]) -> list[str]:
    """What customers wrote lately: the word statistics start from it, not from nothing, after a restart."""
    stored = session.execute(select(Report.received_at, Report.text).order_by(Report.received_at.desc())
                             .limit(HISTORY_REPORTS))
    return [text for _, text in heapq.nlargest(HISTORY_REPORTS, [*stored, *unstored], key=itemgetter(0))]


def _confirmed_texts(session: Session, incident_ids: list[str]) -> list[tuple[str, str]]:
    """The reports last confirmed for each incident (by the matcher or an engineer), oldest first, as they came.

    Each text once, and a few times as many as memory holds: it keeps the newest distinct
    ones (:func:`~broadcaster.linking.matcher.newest_distinct`), and the newest 20 links of
    a flood can be copies of one wording.
    """
    last = func.max(Report.linked_at).label("last")
    rows = session.execute(
        select(Report.incident_id, Report.text, last)
        .where(Report.incident_id.in_(incident_ids), Report.link_state == "linked")
        .group_by(Report.incident_id, Report.text)
        .order_by(last.desc())
    )
    taken: dict[str, int] = {}
    texts = []
    for incident_id, text, _ in rows:
        if incident_id is not None and taken.get(incident_id, 0) < RELOADED_PER_INCIDENT:
            taken[incident_id] = taken.get(incident_id, 0) + 1
            texts.append((incident_id, text))
    return texts[::-1]


def _candidate(now: datetime, resolved_window: timedelta) -> ColumnElement[bool]:
    """Open incidents, and those resolved recently enough that a late report is about them."""
    return or_(Incident.status.in_([status.value for status in OPEN_STATUSES]), Incident.resolved_at >= now - resolved_window)


def profile(incident: Incident) -> IncidentProfile:
    return IncidentProfile(
        incident_id=incident.id,
        title=incident.title,
        component=incident.component,
        description=incident.description,
        phrases=tuple(incident.match_phrases or ()),
        declared_at=incident.declared_at,
        is_open=incident.status != Status.RESOLVED,
    )
