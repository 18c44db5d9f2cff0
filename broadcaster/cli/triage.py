"""``broadcaster triage``: suggested and unlinked reports, suspected incidents, and decisions on them."""

import shlex
from datetime import datetime

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.cli.types import ROW_ID
from broadcaster.domain.durations import format_duration
from broadcaster.domain.events import DeliveriesQueued
from broadcaster.domain.triage import due_label
from broadcaster.services import commands, replies
from broadcaster.services import triage as service
from broadcaster.services.reports import ReportResult
from broadcaster.services.triage_promises import summary as promise_summary
from broadcaster.storage.database import transaction
from broadcaster.storage.models import Report, SuspectedIncident
from broadcaster.wire.codec import encode_deliveries_queued


def _line(report: Report, now: datetime) -> str:
    text = " ".join(report.text.split())
    due = f"{_due(report, now):<24}"  # padded before it is coloured: the colour codes take no columns
    if report.triage_due_at is not None and report.triage_due_at <= now:
        due = click.style(due, fg="red", bold=True)
    return f"{report.id:<38} {report.received_at:%m-%d %H:%M}  {due} {report.email:<28} {text[:60]}"


def _due(report: Report, now: datetime) -> str:
    """``due 18:15 (in 40 min)`` or ``OVERDUE by 35 min``; a report older than promises has none."""
    if report.triage_due_at is None:
        return "no promise made"
    label = due_label(report.triage_due_at, now)
    if report.triage_due_at <= now:
        return label.replace("overdue", "OVERDUE", 1)
    return f"due {report.triage_due_at:%H:%M} ({label.removeprefix('due ')})"


def _promise_header(cli: CliContext, now: datetime) -> None:
    """What triage promised: how many wait, how many are overdue, and who is reminded."""
    waiting = cli.read(lambda s: promise_summary(s, now))
    owner = cli.settings.triage_owner
    click.echo(f"Waiting for a person: {waiting.waiting}, {waiting.overdue} overdue. Each is promised a look within "
               f"{format_duration(cli.settings.triage_within)}; "
               + (f"{owner} is reminded." if owner else "nobody is reminded (set BROADCASTER_TRIAGE_OWNER).") + "\n")


def _declare_command(suspicion: SuspectedIncident) -> str:
    words = ["broadcaster", "incident", "declare", suspicion.title_hint]
    if suspicion.component:
        words += ["--component", suspicion.component]
    for phrase in suspicion.phrases:
        words += ["--match", phrase]
    return shlex.join(words)


@click.group(invoke_without_command=True)
@click.pass_context
def triage(ctx: click.Context) -> None:
    """What waits for an engineer: suggestions, unlinked reports, suspected incidents."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show_queue)


@triage.command("list")
@pass_cli
def show_queue(cli: CliContext) -> None:
    """List suggested and unlinked reports and suspected incidents."""
    now = cli.services.clock()
    _promise_header(cli, now)
    _show_regressions(cli)
    waiting = cli.read(service.queue)
    click.echo(f"Suspected incidents ({len(waiting.suspicions)}):")
    for suspicion in waiting.suspicions:
        click.echo(f"  #{suspicion.id} raised {suspicion.raised_at:%Y-%m-%d %H:%M} UTC: "
                   f"{waiting.sizes.get(suspicion.id, 0)} similar reports, e.g. \"{suspicion.title_hint}\"")
        click.echo(f"     declare it: {_declare_command(suspicion)}")
        click.echo(f"     or dismiss: broadcaster triage dismiss {suspicion.id}")
    click.echo(f"\nSuggested ({len(waiting.suggested)}): confirm or reject")
    for report in waiting.suggested:
        click.echo(f"  {_line(report, now)}\n  {'':38} -> {report.candidate_incident_id} (score {report.link_score:.2f})")
    click.echo(f"\nUnlinked ({len(waiting.unlinked)}): link by hand with `broadcaster triage link REPORT INCIDENT`, "
               "or answer the person and `broadcaster triage close REPORT`")
    for report in waiting.unlinked:
        click.echo(f"  {_line(report, now)}")


def _show_regressions(cli: CliContext) -> None:
    """Resolved incidents that subscribers, replying to our emails, say still fail."""
    regressions = cli.read(replies.pending_regressions)
    if not regressions:
        return
    click.echo(f"Said to still fail ({len(regressions)}):")
    for regression in regressions:
        click.echo(f"  {regression.subscribers} subscriber(s) say {regression.incident_id} still fails "
                   f"— reopen with: {replies.reopen_command(regression.incident_id)}")
    click.echo()


def _decide(cli: CliContext, decision) -> ReportResult:  # noqa: ANN001
    try:
        with transaction(cli.services.sessions) as session:
            return decision(session)
    except service.TriageError as error:
        raise click.ClickException(str(error)) from None


def _acknowledge(cli: CliContext, result: ReportResult) -> None:
    if result.delivery_ids:
        job = encode_deliveries_queued(DeliveriesQueued(tuple(result.delivery_ids)))
        cli.publish(cli.topics.deliveries, result.incident_id or "", job)
    click.echo(f"Linked to {result.incident_id}; the reporter is subscribed and "
               f"{'is being acknowledged' if result.delivery_ids else 'was already told'}.")


@triage.command()
@click.argument("report_id")
@pass_cli
def confirm(cli: CliContext, report_id: str) -> None:
    """Confirm the suggestion for REPORT_ID."""
    _acknowledge(cli, _decide(cli, lambda s: service.confirm(s, report_id, cli.services.clock())))


@triage.command()
@click.argument("report_id")
@pass_cli
def reject(cli: CliContext, report_id: str) -> None:
    """Reject the suggestion for REPORT_ID: it is not about that incident."""
    incident_id = _decide(cli, lambda s: service.reject(s, report_id, cli.services.clock()))
    click.echo(f"Rejected: {report_id} is not about {incident_id}. The matcher will remember.")


@triage.command()
@click.argument("report_id")
@click.argument("incident_id")
@pass_cli
def link(cli: CliContext, report_id: str, incident_id: str) -> None:
    """Link REPORT_ID to INCIDENT_ID by hand."""
    _acknowledge(cli, _decide(cli, lambda s: service.link_by_hand(s, report_id, incident_id, cli.services.clock())))


@triage.command()
@click.argument("suspicion_id", type=ROW_ID)
@pass_cli
def dismiss(cli: CliContext, suspicion_id: int) -> None:
    """Dismiss suspected incident SUSPICION_ID: the reports are not one incident."""
    _decide(cli, lambda s: service.dismiss(s, suspicion_id))
    click.echo(f"Suspected incident #{suspicion_id} dismissed.")


@triage.command()
@click.argument("report_id")
@pass_cli
def close(cli: CliContext, report_id: str) -> None:
    """Close REPORT_ID: its reporter was answered directly (or needs no answer); it leaves triage."""
    commands.close_report(cli, report_id)
    click.echo(f"Closed: {report_id} no longer waits for a person, and nobody is reminded of it.")
