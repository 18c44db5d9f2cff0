"""Play the story step by step, print what happens, and check every email that came out."""

import secrets
import time
from collections import Counter
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import click

from broadcaster.demo import cast, checker
from broadcaster.domain.notifications import DeliveryState
from broadcaster.domain.notifications import NotificationKind as Kind
from broadcaster.domain.triage import due_label
from broadcaster.kafka.lag import read_group_lag
from broadcaster.mail.outbox import OutboxMailer
from broadcaster.messages.compose import when
from broadcaster.services import commands, queries
from broadcaster.services.desk import Desk
from broadcaster.services.triage_promises import receipt_of
from broadcaster.storage.models import Incident, IncidentNote, Report


class DemoFailed(Exception):
    pass


def step(text: str) -> None:
    click.echo(click.style(f"\n== {text}", bold=True))


def _wait(cli: Desk, what: str, query, timeout: float):  # noqa: ANN001, ANN202
    found = cli.wait_for(query, timeout)
    if not found:
        raise DemoFailed(f"timed out after {timeout:g}s waiting for {what}")
    return found


def _submit(cli: Desk, reporter: cast.Reporter, text: str, component: str) -> str:
    event = commands.submit_report(cli, reporter.email, reporter.name, text, component, source="demo",
                                   time_zone=reporter.time_zone, locale=reporter.locale)
    where = f" from {reporter.time_zone}" if reporter.time_zone else ""
    click.echo(f"  {reporter.name} <{reporter.email}>{where} writes: \"{text[:70]}...\"")
    return event.report_id


def _reports_stored(cli: Desk, report_ids: list[str], timeout: float) -> None:
    _wait(cli, "the worker to store the reports",
          lambda s: s.query(Report).filter(Report.id.in_(report_ids)).count() == len(report_ids), timeout)


def _sent_to(cli: Desk, incident_id: str, expected: dict[str, Counter], timeout: float) -> None:
    """Wait until the ledger shows at least ``expected`` sent per recipient and kind."""

    def reached(session) -> bool:  # noqa: ANN001
        sent = queries.sent_by_recipient(session, incident_id)
        return all(sent.get(email, Counter()) >= kinds for email, kinds in expected.items())

    _wait(cli, "the emails to be sent", reached, timeout)
    for email, kinds in sorted(expected.items()):
        click.echo(f"  sent to {email}: {', '.join(sorted(kinds))}")


def play(cli: Desk, timeout: float) -> None:
    component = f"groups-demo-{secrets.token_hex(2)}"  # each run its own, so runs never meet
    step(f"Reports arrive before anyone knows (component {component})")
    early = [_submit(cli, who, text, component) for who, text in cast.BEFORE_DECLARATION]
    _reports_stored(cli, early, timeout)
    click.echo("  stored, not linked: nothing is known yet")

    step("An engineer declares the incident")
    click.echo(f"  $ broadcaster incident declare \"{cast.TITLE}\" --component {component} "
               + " ".join(f"--match \"{p}\"" for p in cast.MATCH))
    declared = commands.declare_incident(
        cli, cast.TITLE, component=component, phrases=cast.MATCH, severity="sev2",
        description=cast.DESCRIPTION, workaround=cast.WORKAROUND, next_update_in=None,
        communicator=cast.COMMUNICATOR,
    )
    incident_id = declared.incident_id
    if not commands.wait_until_applied(cli, declared.event_id, timeout):
        raise DemoFailed("the worker did not apply the declaration")
    linked = cli.read(lambda s: queries.backlog_linked(s, s.get_one(Incident, incident_id)))
    click.echo(f"  {incident_id} declared; {linked} earlier report(s) linked")

    step("More reports arrive; Eric writes a second time; Sonia writes about something else")
    later = [_submit(cli, who, text, component) for who, text in cast.AFTER_DECLARATION]
    unrelated_who, unrelated_text = cast.UNRELATED
    sonia_report = _submit(cli, unrelated_who, unrelated_text, "billing")
    _reports_stored(cli, [*later, sonia_report], timeout)
    _sent_to(cli, incident_id, {r.email: Counter({Kind.ACKNOWLEDGEMENT: 1}) for r in cast.AFFECTED}, timeout)
    _waits_for_a_person(cli, sonia_report, timeout)

    step("The engineer posts progress")
    update = commands.post_update(cli, incident_id, cast.PROGRESS, update_every=cli.settings.default_cadence("sev2"),
                                 status="identified", next_update_in=None)
    commands.wait_until_applied(cli, update.event_id, timeout)
    progress = {r.email: Counter({Kind.ACKNOWLEDGEMENT: 1, Kind.PROGRESS: 1}) for r in cast.AFFECTED}
    _sent_to(cli, incident_id, progress, timeout)

    step("The engineer keeps two notes: one internal, one to share")
    for text, shareable in ((cast.INTERNAL_NOTE, False), (cast.SHARED_NOTE, True)):
        kept = commands.add_note(cli, incident_id, text, shareable=shareable)
        commands.wait_until_applied(cli, kept.event_id, timeout, kept_in=IncidentNote)
    click.echo("  (never emailed by themselves; the next holding update quotes the shared one)")

    step("The promised time passes without news: a holding update")
    click.echo("  (the demo plays the cadence timer, which asks for one once a promise is missed by the grace period)")
    holding = commands.request_holding_update(cli, incident_id)
    commands.wait_until_applied(cli, holding.event_id, timeout)
    progress = {email: kinds + Counter({Kind.HOLDING: 1}) for email, kinds in progress.items()}
    _sent_to(cli, incident_id, progress, timeout)

    step("The fix is live; the engineer watches it")
    monitoring = commands.post_update(cli, incident_id, cast.MONITORING, update_every=cli.settings.default_cadence("sev2"),
                                     status="monitoring", next_update_in=None)
    commands.wait_until_applied(cli, monitoring.event_id, timeout)
    progress = {email: kinds + Counter({Kind.PROGRESS: 1}) for email, kinds in progress.items()}
    _sent_to(cli, incident_id, progress, timeout)

    step("The engineer resolves the incident")
    resolved = commands.resolve_incident(cli, incident_id, cast.RESOLUTION, cast.HOW_TO_VERIFY)
    commands.wait_until_applied(cli, resolved.event_id, timeout)
    final = {email: kinds + Counter({Kind.RESOLUTION: 1}) for email, kinds in progress.items()}
    _sent_to(cli, incident_id, final, timeout)

    step("Tom reports the problem after it was fixed")
    late_who, late_text = cast.AFTER_RESOLUTION
    _reports_stored(cli, [_submit(cli, late_who, late_text, component)], timeout)
    final[late_who.email] = Counter({Kind.FIXED_REPLY: 1})
    _sent_to(cli, incident_id, {late_who.email: final[late_who.email]}, timeout)

    step("Support answers Sonia's billing question by hand, and closes her report")
    click.echo(f"  $ broadcaster triage close {sonia_report}")
    commands.close_report(cli, sonia_report)

    step("Checking every email that went out")
    _check(cli, incident_id, final)
    _check_receipt(cli, sonia_report)
    if isinstance(cli.services.mailer, OutboxMailer):
        _grade(cli.settings.outbox_dir, incident_id)
    _print_lag(cli)
    click.echo(click.style(f"\nThe story played out as it should. See `broadcaster incident show {incident_id}`.",
                           fg="green"))


def _waits_for_a_person(cli: Desk, report_id: str, timeout: float) -> None:
    """Sonia's question is about nothing declared: it waits in triage, and she is told until when."""
    step("Sonia's billing question waits for a person")
    if not cli.settings.sends_triage_receipts:
        click.echo("  receipts are off here (BROADCASTER_TRIAGE_RECEIPTS): she is not told when she will hear back")
        return

    def sent(session):  # noqa: ANN001, ANN202
        receipt = receipt_of(session, report_id)
        return receipt if receipt and receipt.state == DeliveryState.SENT else None

    receipt = _wait(cli, "Sonia's receipt", sent, timeout)
    click.echo(f"  `broadcaster triage` lists it: {report_id}, {due_label(receipt.due, cli.services.clock())}")
    click.echo(f"  Sonia got a receipt: a person will look at it, and she hears back by {when(receipt.due)}")


def outbox_counts(directory: Path, header: str, value: str) -> dict[str, Counter]:
    """Per recipient, how many .eml files of each kind the outbox holds whose ``header`` is ``value``."""
    counts: dict[str, Counter] = {}
    parser = BytesParser(policy=policy.default)
    for path in sorted(directory.glob("*.eml")):
        with open(path, "rb") as file:
            headers = parser.parse(file, headersonly=True)
        if headers[header] == value:
            recipient = parseaddr(str(headers["To"]))[1]
            counts.setdefault(recipient, Counter())[headers["X-Broadcaster-Kind"]] += 1
    return counts


def _check(cli: Desk, incident_id: str, expected: dict[str, Counter]) -> None:
    if isinstance(cli.services.mailer, OutboxMailer):
        actual = outbox_counts(cli.settings.outbox_dir, "X-Broadcaster-Incident", incident_id)
        where = f"the outbox folder ({cli.settings.outbox_dir})"
    else:
        actual, where = cli.read(lambda s: queries.sent_by_recipient(s, incident_id)), "the delivery ledger"
    click.echo(f"  counted in {where}:")
    for email in sorted(set(actual) | set(expected)):
        got = actual.get(email, Counter())
        mark = "ok" if got == expected.get(email, Counter()) else "WRONG"
        click.echo(f"  {mark:5} {email:<22} {dict(sorted(got.items())) or 'nothing'}")
    if actual != expected:
        raise DemoFailed(f"the emails in {where} are not exactly what each reporter should have got")
    if cast.SONIA.email in actual:
        raise DemoFailed("the unrelated reporter was told about this incident")


def _readers() -> dict[str, checker.Reader]:
    """What the checker expects of each person's emails: their name, their first report, their zone."""
    first_words = {who.email: text for who, text in (*cast.BEFORE_DECLARATION, *cast.AFTER_DECLARATION,
                                                     cast.AFTER_RESOLUTION)[::-1]}
    return {who.email: checker.Reader(who.name.split()[0], first_words[who.email], who.time_zone is not None)
            for who in (*cast.AFFECTED, cast.AFTER_RESOLUTION[0])}


def _grade(directory: Path, incident_id: str) -> None:
    """Grade every email of the incident on the rubric, line by line; print the table; fail on a missing mark."""
    readers, grades = _readers(), []
    parser = BytesParser(policy=policy.default)
    for path in sorted(directory.glob("*.eml")):
        with open(path, "rb") as file:
            message = parser.parse(file)
        if message["X-Broadcaster-Incident"] == incident_id:
            grades.append(checker.grade(message, readers[parseaddr(str(message["To"]))[1]]))
    for line in checker.table(grades):
        click.echo(f"  {line}")
    failed = [f"{g.recipient} {g.kind}" for g in grades if not g.passed]
    if failed:
        raise DemoFailed(f"emails that miss a mark of the rubric: {', '.join(failed)}")


def _check_receipt(cli: Desk, report_id: str) -> None:
    """Sonia got exactly one receipt for her question (unless receipts are off here)."""
    if not cli.settings.sends_triage_receipts:
        return
    expected = {cast.SONIA.email: Counter({Kind.TRIAGE_RECEIPT: 1})}
    if isinstance(cli.services.mailer, OutboxMailer):
        actual = outbox_counts(cli.settings.outbox_dir, "X-Broadcaster-Report", report_id)
    else:
        receipt = cli.read(lambda s: receipt_of(s, report_id))
        actual = expected if receipt and receipt.state == DeliveryState.SENT else {}
    got = actual.get(cast.SONIA.email, Counter())
    click.echo(f"  {'ok' if actual == expected else 'WRONG':5} {cast.SONIA.email:<22} {dict(got) or 'nothing'}")
    if actual != expected:
        raise DemoFailed("Sonia did not get exactly one receipt for her question")


def _print_lag(cli: Desk, settle_seconds: float = 10.0) -> None:
    """Print lag per topic, once the worker has committed what it processed (it commits every few seconds)."""
    step("Consumer lag at the end")

    def totals() -> dict[str, int]:
        by_topic: dict[str, int] = {}
        topics = tuple(t for t in cli.topics.all() if t != cli.topics.dead_letters)
        for row in read_group_lag(cli.settings, cli.bootstrap_servers, cli.settings.app_id, topics).partitions:
            by_topic[row.topic] = by_topic.get(row.topic, 0) + (row.lag or 0)
        return by_topic

    deadline = time.monotonic() + settle_seconds
    lag = totals()
    while any(lag.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        lag = totals()
    for topic, messages in sorted(lag.items()):
        click.echo(f"  {topic:<40} lag {messages} message(s)")
