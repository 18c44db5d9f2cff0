"""Raising a suspected incident when similar unlinked reports pile up (see broadcaster.linking.early_warning)."""

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import numpy as np
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from broadcaster.linking.early_warning import RECENT_COMPARED, describe, resembling
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.models import Report, SuspectedIncident

log = logging.getLogger(__name__)
REPORTS = cast(Table, Report.__table__)


def check_for_pile_ups(
    session: Session, reports: Sequence[tuple[str, str]], model: LinkingModel, now: datetime
) -> dict[str, int | None]:
    """For each stored ``(id, text)`` unlinked report, in order: the suspicion it joined or raised, if any.

    A report joins the first open suspicion holding a report it resembles, or raises one with
    them when enough recent unlinked reports resemble it (the ``early_warning_count``-th). A
    report is counted in one suspicion, the first it joined or was raised with, and names it
    (``Report.suspicion_id``). The same as checking the reports one by one, with one query
    and one resemblance matrix for the batch: a query and a vectorising for each report cost
    36 ms a report in a flood of undeclared reports, and the worker fell minutes behind.
    """
    if not reports:
        return {}
    settings = model.settings
    recent = session.execute(
        select(Report.id, Report.text, Report.suspicion_id)
        .where(Report.link_state == "unlinked", Report.received_at >= now - settings.early_warning_window)
        .order_by(Report.received_at.desc(), Report.id)  # the newest, the same ones every time
        .limit(RECENT_COMPARED + len(reports))
    ).all()
    ids = [row.id for row in recent]
    counts = model.report_terms.of([*reports, *((row.id, row.text) for row in recent)])
    position = {report_id: n for n, report_id in enumerate(ids)}
    alike = resembling(counts[: len(reports)], counts[len(reports):]) & _compared(reports, position)
    named = np.array([-1 if row.suspicion_id is None else row.suspicion_id for row in recent], dtype=np.int64)
    touching = {suspicion_id: alike[:, named == suspicion_id].any(axis=1)  # in id order: the first is joined
                for suspicion_id in session.scalars(select(SuspectedIncident.id)
                                                    .where(SuspectedIncident.status == "open").order_by(SuspectedIncident.id))}
    counted: dict[str, int] = {}
    for k, (report_id, _) in enumerate(reports):
        if report_id in counted or alike[k].sum() + 1 < settings.early_warning_count:
            continue  # counted already: raised with a report before it in the batch
        joined = next((suspicion_id for suspicion_id, touches in touching.items() if touches[k]), None)
        members = [report_id]
        if joined is None:
            members += [ids[n] for n in np.flatnonzero(alike[k])]
            joined = _raise(session, members, now).id
            touching[joined] = np.zeros(len(reports), dtype=bool)
        for member in members:
            counted[member] = joined
            if member in position:  # the reports like this one now touch its suspicion too
                touching[joined] |= alike[:, position[member]]
    for suspicion_id in set(counted.values()):
        session.execute(update(REPORTS).where(REPORTS.c.id.in_([r for r, s in counted.items() if s == suspicion_id]))
                        .values(suspicion_id=suspicion_id))
    return {report_id: counted.get(report_id) for report_id, _ in reports}


def _compared(reports: Sequence[tuple[str, str]], position: dict[str, int]) -> np.ndarray:
    """Which of the recent reports (``position``: each one's, newest first) each report is compared with: the
    newest :data:`RECENT_COMPARED`, itself left out (as a query for each report, excluding it, would find)."""
    compared = np.zeros((len(reports), len(position)), dtype=bool)
    for k, (report_id, _) in enumerate(reports):
        own = position.get(report_id)
        compared[k, : RECENT_COMPARED + 1 if own is not None and own < RECENT_COMPARED else RECENT_COMPARED] = True
        if own is not None:
            compared[k, own] = False
    return compared


def _raise(session: Session, report_ids: list[str], now: datetime) -> SuspectedIncident:
    reports = list(session.scalars(select(Report).where(Report.id.in_(report_ids))))
    phrases, hint = describe([r.text for r in reports])
    components = Counter(r.component for r in reports if r.component)
    suspicion = SuspectedIncident(
        raised_at=now, status="open", component=components.most_common(1)[0][0] if components else None,
        title_hint=hint, phrases=list(phrases),
    )
    session.add(suspicion)
    session.flush()
    log.warning("suspected incident #%d: %d similar unlinked reports (%s); see `broadcaster triage`",
                suspicion.id, len(report_ids), ", ".join(phrases))
    return suspicion
