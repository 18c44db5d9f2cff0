"""Raising a suspected incident when similar unlinked reports pile up (see broadcaster.linking.early_warning)."""

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.linking.early_warning import describe, similar_reports
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.models import Report, SuspectedIncident

log = logging.getLogger(__name__)
RECENT_LIMIT = 500


def check_for_pile_up(
    session: Session, report_id: str, text: str, model: LinkingModel, now: datetime
) -> SuspectedIncident | None:
    """Add the stored report ``report_id`` (saying ``text``) to a suspicion it resembles, or raise one when enough pile up."""
    settings = model.settings
    recent = session.execute(
        select(Report.id, Report.text)
        .where(Report.link_state == "unlinked", Report.id != report_id,
               Report.received_at >= now - settings.early_warning_window)
        .order_by(Report.received_at.desc())
        .limit(RECENT_LIMIT)
    ).all()
    similar = similar_reports(model.matcher, text, [(row[0], row[1]) for row in recent])
    if len(similar) + 1 < settings.early_warning_count:
        return None
    for suspicion in session.scalars(select(SuspectedIncident).where(SuspectedIncident.status == "open")):
        if set(similar) & set(suspicion.report_ids):
            suspicion.report_ids = sorted({*suspicion.report_ids, report_id})
            return suspicion
    return _raise(session, [*similar, report_id], now)


def _raise(session: Session, report_ids: list[str], now: datetime) -> SuspectedIncident:
    reports = list(session.scalars(select(Report).where(Report.id.in_(report_ids))))
    phrases, hint = describe([r.text for r in reports])
    components = Counter(r.component for r in reports if r.component)
    suspicion = SuspectedIncident(
        raised_at=now, status="open", component=components.most_common(1)[0][0] if components else None,
        title_hint=hint, phrases=list(phrases), report_ids=sorted(report_ids),
    )
    session.add(suspicion)
    session.flush()
    log.warning("suspected incident #%d: %d similar unlinked reports (%s); see `broadcaster triage`",
                suspicion.id, len(report_ids), ", ".join(phrases))
    return suspicion
