"""``broadcaster triage``: suggested and unlinked reports, suspected incidents, and decisions on them."""

import shlex

import click

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.domain.events import DeliveriesQueued
from broadcaster.services import replies
from broadcaster.services import triage as service
from broadcaster.services.reports import ReportResult
from broadcaster.storage.database import transaction
from broadcaster.storage.models import Report, SuspectedIncident
from broadcaster.wire.codec import encode_deliveries_queued


def _line(report: Report) -> str:
    text = " ".join(report.text.split())
    return f"{report.id:<38} {report.received_at:%m-%d %H:%M}  {report.email:<28} {text[:60]}"


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
    _show_regressions(cli)
    waiting = cli.read(service.queue)
    click.echo(f"Suspected incidents ({len(waiting.suspicions)}):")
    for suspicion in waiting.suspicions:
        click.echo(f"  #{suspicion.id} raised {suspicion.raised_at:%Y-%m-%d %H:%M} UTC: "
                   f"{len(suspicion.report_ids)} similar reports, e.g. \"{suspicion.title_hint}\"")
        click.echo(f"     declare it: {_declare_command(suspicion)}")
        click.echo(f"     or dismiss: broadcaster triage dismiss {suspicion.id}")
    click.echo(f"\nSuggested ({len(waiting.suggested)}): confirm or reject")
    for report in waiting.suggested:
        click.echo(f"  {_line(report)}\n  {'':38} -> {report.candidate_incident_id} (score {report.link_score:.2f})")
    click.echo(f"\nUnlinked ({len(waiting.unlinked)}): link by hand with `broadcaster triage link REPORT INCIDENT`")
    for report in waiting.unlinked:
        click.echo(f"  {_line(report)}")


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
@click.argument("suspicion_id", type=int)
@pass_cli
def dismiss(cli: CliContext, suspicion_id: int) -> None:
    """Dismiss suspected incident SUSPICION_ID: the reports are not one incident."""
    _decide(cli, lambda s: service.dismiss(s, suspicion_id))
    click.echo(f"Suspected incident #{suspicion_id} dismissed.")
