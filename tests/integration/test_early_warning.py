"""Early warning on real SQL: a batch of unlinked reports is checked as one report after another would be."""

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.preprocessing import normalize
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.config import Settings
from broadcaster.linking.early_warning import CLUSTER_SIMILARITY, term_counts
from broadcaster.services import early_warning
from broadcaster.services.early_warning import check_for_pile_ups
from broadcaster.services.linking import LinkingModel
from broadcaster.storage.models import Report, SuspectedIncident

T0 = datetime(2026, 11, 24, 16, 15, tzinfo=UTC)
TOPICS = (("dark mode", "calendar", "unreadable", "invisible text", "night theme"),
          ("refund", "invoice", "charged twice", "billing", "monthly plan"),
          ("csv upload", "members list", "fails", "error 500", "spreadsheet"))
FILLER = ("since this morning", "please help", "again", "on my phone", "for the whole team", "it is urgent")


def one_by_one(session: Session, reports: list[tuple[str, str]], model: LinkingModel) -> list[frozenset[str]]:
    """The rule in plain words: each report in turn, compared with the newest 500 (RECENT_COMPARED) other unlinked
    reports, joins the first open suspicion holding one it resembles, or raises one with them once enough resemble
    it; a report is counted in one suspicion, the first. Returns each report's suspicion's members at the end."""
    open_ = session.scalars(select(SuspectedIncident.id).where(SuspectedIncident.status == "open")
                            .order_by(SuspectedIncident.id)).all()
    suspicions = [set(session.scalars(select(Report.id).where(Report.suspicion_id == i))) for i in open_]
    joined: dict[str, set[str]] = {}
    for report_id, text in reports:
        if report_id in joined:  # raised with an earlier report: it stays there
            continue
        recent = session.execute(select(Report.id, Report.text).where(
            Report.link_state == "unlinked", Report.id != report_id,
            Report.received_at >= T0 - model.settings.early_warning_window,
        ).order_by(Report.received_at.desc(), Report.id).limit(early_warning.RECENT_COMPARED)).all()
        counts = term_counts([text, *(t for _, t in recent)])
        cosines = (normalize(counts[:1]) @ normalize(counts[1:]).T).toarray()[0] if recent else np.zeros(0)
        similar = {recent[n][0] for n in np.flatnonzero(cosines >= CLUSTER_SIMILARITY)}
        if len(similar) + 1 < model.settings.early_warning_count:
            continue
        suspicion = next((s for s in suspicions if s & similar), None)
        if suspicion is None:
            suspicion = set(similar)
            suspicions.append(suspicion)
        suspicion.add(report_id)
        joined.update(dict.fromkeys(suspicion - joined.keys(), suspicion))
    return [frozenset(joined.get(report_id, ())) for report_id, _ in reports]


def store(session: Session, texts: dict[str, str], at: datetime) -> None:
    session.add_all(Report(id=i, email=f"{i}@example.com", name="Ann Lee", text=text, source="test", received_at=at,
                           link_state="unlinked") for i, text in texts.items())
    session.flush()


@pytest.mark.parametrize(("seed", "compared"), [(1, 500), (2, 500), (3, 10), (4, 10)])
def test_a_batch_is_checked_as_its_reports_one_after_another_would_be(
        sessions, database_url: str, seed: int, compared: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With 10 compared, each report's newest ten leave some of its batch out, and the oldest report of a batch
    is compared with the eleventh newest."""
    monkeypatch.setattr(early_warning, "RECENT_COMPARED", compared)
    model = LinkingModel(Settings(database_url=database_url, early_warning_count=3))
    rng = random.Random(seed)
    for batch in range(4):
        texts = {f"b{batch}-{n}": " ".join(rng.sample(rng.choice(TOPICS), 2) + rng.sample(FILLER, 2)) for n in range(12)}
        with sessions.begin() as session:
            store(session, texts, T0 + timedelta(seconds=batch))
            reports = list(texts.items())
            expected = one_by_one(session, reports, model)  # reads only
            found = check_for_pile_ups(session, reports, model, T0 + timedelta(seconds=batch))
            session.flush()
            got = [frozenset(session.scalars(select(Report.id).where(Report.suspicion_id == found[i])))
                   if found[i] else frozenset() for i, _ in reports]
        assert got == expected
    with sessions() as session:
        assert session.scalars(select(SuspectedIncident)).all(), "the texts pile up: the test would check nothing"
