"""Affected people (issue 17): `broadcaster incident affected --csv`, on SQLite and PostgreSQL.

An import must add each person once (whoever else subscribed them, however often it
runs), name every bad row by its line without stopping, and queue each new person's
first email: the incident's latest news, worded for someone who did not write.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.cli.main import cli
from broadcaster.domain.events import IncidentResolved, IncidentUpdated, UpdatePublished
from broadcaster.messages.sender import Sender
from broadcaster.services import composing
from broadcaster.services.linking import LinkingModel
from broadcaster.services.suppression import suppress
from broadcaster.storage.models import Delivery, IncidentUpdate, OutboxMessage, Subscriber
from broadcaster.wire.codec import decode_deliveries_queued
from tests.support.services import T0, apply, declared, fan_out_all, receive, report
from tests.support.waiting import wait_for

SENDER = Sender("Example", "The Example team")
PEOPLE = 300


def run(database_url: str, tmp_path: Path, *args: str, code: int = 0, stdin: str | bytes | None = None) -> str:
    env = {"BROADCASTER_DATABASE_URL": database_url, "BROADCASTER_STATE_DIR": str(tmp_path / "state")}
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == code, result.output
    return result.output


def csv_file(tmp_path: Path, rows: list[str], name: str = "people.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join(["email,name,time_zone,locale", *rows]) + "\n", encoding="utf-8")
    return str(path)


def people(start: int, count: int) -> list[str]:
    return [f"person{n}@example.com,Person {n},Europe/Paris,fr-FR" for n in range(start, start + count)]


def first_emails(sessions: sessionmaker[Session], emails: set[str] | None = None) -> dict[str, tuple[str, int]]:
    """Address: (kind, update id) of every email queued for an affected person."""
    with sessions() as session:
        rows = session.execute(select(Subscriber.email, Delivery.kind, Delivery.update_id)
                               .join(Delivery, Delivery.subscriber_id == Subscriber.id)
                               .where(Subscriber.source == "affected")).all()
    return {email: (kind, update) for email, kind, update in rows if emails is None or email in emails}


def compose_for(sessions: sessionmaker[Session], emails: set[str]) -> dict[tuple[str, str], str]:
    """(address, kind): the text of each queued email to these people."""
    with sessions() as session:
        ids = list(session.scalars(select(Delivery.id).join(Delivery.subscriber).where(Subscriber.email.in_(emails))))
        composed = composing.compose_claimed(session, ids, SENDER)
    assert not composed.refused
    return {(e.to_email, e.headers["X-Broadcaster-Kind"]): e.text for e in composed.emails}


def test_an_import_adds_each_person_once_names_bad_rows_and_announces_every_first_email(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    apply(sessions, model, declared(), T0)
    receive(sessions, model, report("r1", "reporter@example.com", "CSV upload fails", T0), T0)
    with sessions.begin() as session:
        suppress(session, "bounced@example.com", "bounce", T0)
    rows = people(0, PEOPLE)
    rows[3] = "not-an-address,Someone,,"  # line 5
    rows[5] = "tz@example.com,Tz,Mars/Olympus,"  # line 7
    rows[8] = "extra@example.com,Extra,UTC,en,surplus"  # line 10
    rows += ["REPORTER@example.com,Eric,,", "bounced@example.com,Bob,,", "person0@example.com,Again,,", "",
             'quoted@example.com,"Doe, Jane",America/New_York,pt_BR']
    path = csv_file(tmp_path, rows)

    output = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", path, code=1)

    assert "line 5: email: is not a deliverable email address" in output
    assert "line 7: time_zone: is not an IANA time zone" in output
    assert "line 10: row: has 5 fields" in output
    assert "not-an-address" not in output and "Mars/Olympus" not in output  # a refusal never quotes the value
    added = PEOPLE - 3 + 1  # three bad rows; "Doe, Jane"
    assert f"{added:,} affected people added" in output
    assert "already subscribed: 2 " in output and "suppressed: 1 " in output and "refused: 3 row(s)" in output
    firsts = first_emails(sessions)
    declared_update = _latest_update_id(sessions)
    assert len(firsts) == added and set(firsts.values()) == {("affected", declared_update)}
    with sessions() as session:
        jane = session.scalars(select(Subscriber).where(Subscriber.email == "quoted@example.com")).one()
        assert (jane.name, jane.time_zone, jane.locale) == ("Doe, Jane", "America/New_York", "pt_BR")
        reporter = session.scalars(select(Subscriber).where(Subscriber.email == "reporter@example.com")).one()
        assert (reporter.source, reporter.name) == ("reporter", "Reporter")  # left as it was
        announced = Counter(i for m in session.scalars(select(OutboxMessage))
                            for i in decode_deliveries_queued(m.value).delivery_ids)
        queued = set(session.scalars(select(Delivery.id).join(Delivery.subscriber).where(Subscriber.source == "affected")))
    assert set(announced) == queued and set(announced.values()) == {1}  # through the outbox, once each

    again = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", path, code=1)
    assert "0 affected people added" in again and f"already subscribed: {added + 2:,}" in again
    assert first_emails(sessions) == firsts  # nobody gets a second first email


def test_affected_people_are_told_they_need_not_write_and_updates_are_worded_for_them(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)  # the command stamps people with the wall clock
    apply(sessions, model, declared(at=start), start)
    receive(sessions, model, report("r1", "reporter@example.com", "CSV upload fails", start), start)
    run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", "-",
        stdin="email,name\nana@example.com,Ana Lima\n")
    texts = compose_for(sessions, {"ana@example.com"})
    first = texts[("ana@example.com", "affected")]
    assert first.startswith("Hi Ana,") and "You didn't need to write to us" in first
    assert "What we know: Uploads fail." in first and "You don't need to write to hear from us" in first
    assert "our records show this problem affected you" in first and "you told us" not in first

    later = datetime.now(UTC) + timedelta(seconds=1)
    apply(sessions, model, IncidentUpdated("u1", "INC-1", later, "A fix is being tested.", later + timedelta(hours=1)),
          later)
    fan_out_all(sessions, UpdatePublished("INC-1", _latest_update_id(sessions)), later, size=1000)
    texts = compose_for(sessions, {"ana@example.com", "reporter@example.com"})
    assert "the problem that affected you:" in texts[("ana@example.com", "progress")]
    assert "you reported on" not in texts[("ana@example.com", "progress")]
    assert "the problem you reported on" in texts[("reporter@example.com", "progress")]  # reporters unchanged

    run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", csv_file(tmp_path, people(0, 2), "late.csv"))
    late = compose_for(sessions, {"person0@example.com"})[("person0@example.com", "affected")]
    assert "What we know: A fix is being tested." in late  # the latest news, as their first email
    assert first_emails(sessions, {"person0@example.com"})["person0@example.com"][1] == _latest_update_id(sessions)

    resolved = later + timedelta(hours=1)
    apply(sessions, model, IncidentResolved("res", "INC-1", resolved, "Uploads work again.", "Upload a CSV."), resolved)
    run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", "-", stdin="email,name\nzoe@example.com,Zoe\n")
    fixed = compose_for(sessions, {"zoe@example.com"})[("zoe@example.com", "resolution")]
    assert "Good news: the problem that affected you is fixed." in fixed and "Thank you for reporting" not in fixed

    shown = run(database_url, tmp_path, "incident", "show", "INC-1")
    assert "5 subscriber(s): 1 who reported it or followed it, 4 affected" in shown
    listed = run(database_url, tmp_path, "subscribers", "INC-1")
    assert listed.startswith("1 reported it, 4 affected") and "5 subscriber(s)" in listed
    assert any(line.startswith("ana@example.com") and line.endswith("  affected") for line in listed.splitlines())
    assert any(line.startswith("reporter@example.com") and line.endswith("  reporter") for line in listed.splitlines())


def test_batches_written_at_once_add_each_person_once_whatever_repeats_they_share(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    """Batches of 7, so that several are in flight (two writers on PostgreSQL), each followed by one
    holding the same people in the opposite order: written at the same time, they wait for each other's
    addresses, and must not deadlock. Names that COPY must escape arrive intact."""
    apply(sessions, model, declared(), T0)
    everyone = people(0, 150)
    rows = [row for start in range(0, 150, 7) for row in everyone[start:start + 7] + everyone[start:start + 7][::-1]]
    rows += ["slash@example.com,Zoë \\N Back\\slash \\t,,", "quote@example.com,\"Ann \"\"The\"\" Ott\",,"]
    path = csv_file(tmp_path, rows)

    output = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", path, "--batch-size", "7")

    assert "152 affected people added" in output and "already subscribed: 150 " in output
    firsts = first_emails(sessions)
    assert len(firsts) == 152 and {kind for kind, _ in firsts.values()} == {"affected"}
    with sessions() as session:
        names = dict(session.execute(select(Subscriber.email, Subscriber.name).where(
            Subscriber.email.in_(["slash@example.com", "quote@example.com"]))).all())
        assert names == {"slash@example.com": "Zoë \\N Back\\slash \\t", "quote@example.com": 'Ann "The" Ott'}
        assert session.scalar(select(func.count()).select_from(Delivery)) == 152  # one first email each
        announced = Counter(i for m in session.scalars(select(OutboxMessage))
                            for i in decode_deliveries_queued(m.value).delivery_ids)
    assert len(announced) == 152 and set(announced.values()) == {1}


def test_an_import_killed_mid_file_keeps_whole_batches_and_a_second_run_adds_the_rest_once(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    """SIGKILL while batches are being written (most of an import's time is inside a batch's transaction),
    then the same file again: every batch is all in or all out, announced exactly as queued, and in the end
    each person is added once with one first email."""
    apply(sessions, model, declared(), T0)
    total, batch = 100_000, 500
    path = csv_file(tmp_path, people(0, total))
    env = {**os.environ, "BROADCASTER_DATABASE_URL": database_url, "BROADCASTER_STATE_DIR": str(tmp_path / "state")}
    importing = subprocess.Popen([sys.executable, "-m", "broadcaster", "incident", "affected", "INC-1", "--csv", path,
                                  "--batch-size", str(batch)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(first_emails(sessions)) >= 3 * batch, what="three batches committed")
        assert importing.poll() is None, "the import ended before it could be killed: make the file bigger"
        importing.send_signal(signal.SIGKILL)
    finally:
        importing.kill()
        importing.communicate()

    added = len(first_emails(sessions))
    assert 0 < added < total and added % batch == 0, added  # whole batches only
    assert _announced(sessions) == _queued_for_affected(sessions)  # each queued email announced once

    output = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", path)

    assert f"{total - added:,} affected people added" in output and f"already subscribed: {added:,}" in output
    firsts = first_emails(sessions)
    assert len(firsts) == total and {kind for kind, _ in firsts.values()} == {"affected"}
    assert _announced(sessions) == _queued_for_affected(sessions)


def _announced(sessions: sessionmaker[Session]) -> Counter[int]:
    with sessions() as session:
        return Counter(i for m in session.scalars(select(OutboxMessage))
                       for i in decode_deliveries_queued(m.value).delivery_ids)


def _queued_for_affected(sessions: sessionmaker[Session]) -> Counter[int]:
    with sessions() as session:
        return Counter(session.scalars(select(Delivery.id).join(Delivery.subscriber).where(Subscriber.source == "affected")))


def test_a_file_saved_in_a_windows_code_page_imports_every_row_it_can_and_names_the_others(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    """Excel's plain "CSV" is Windows-1252: the command read it as UTF-8 and stopped with a traceback."""
    apply(sessions, model, declared(), T0)
    path = tmp_path / "excel.csv"
    path.write_bytes("email,name\r\nana@example.com,Ana\r\njose@example.com,José\r\nzoe@example.com,Zoe\r\n"
                     .encode("cp1252"))

    output = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", str(path), code=1)

    assert "line 3: row: is not UTF-8 text (byte 0xE9): save the file as CSV UTF-8" in output
    assert "2 affected people added" in output and "refused: 1 row(s)" in output
    assert set(first_emails(sessions)) == {"ana@example.com", "zoe@example.com"}
    piped = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", "-", code=1,
                stdin="email,name\nbea@example.com,Béa\n".encode("cp1252"))
    assert "line 2: row: is not UTF-8 text (byte 0xE9)" in piped


def test_a_file_without_the_columns_or_for_an_unknown_incident_imports_nothing(
    database_url: str, sessions, model: LinkingModel, tmp_path: Path
) -> None:
    apply(sessions, model, declared(), T0)
    no_name = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", "-", code=1,
                  stdin="email,full name\nana@example.com,Ana\n")
    assert "nothing imported: column 2 of the header is not one we know" in no_name
    missing = run(database_url, tmp_path, "incident", "affected", "INC-1", "--csv", "-", code=1, stdin="email\na@b.co\n")
    assert "has no name column" in missing
    unknown = run(database_url, tmp_path, "incident", "affected", "INC-404", "--csv", "-", code=1,
                  stdin="email,name\nana@example.com,Ana\n")
    assert "no incident INC-404" in unknown
    with sessions() as session:
        assert list(session.scalars(select(Subscriber.email))) == []


def _latest_update_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return max(session.scalars(select(IncidentUpdate.id)))
