"""``broadcaster incident ...`` and ``broadcaster subscribers``: what engineers type during an incident."""

from datetime import datetime, timedelta

import click
from sqlalchemy.orm import Session

from broadcaster.cli.affected import affected
from broadcaster.cli.context import CliContext, pass_cli, refusing_bad_input
from broadcaster.cli.types import DAY, Seconds
from broadcaster.config import SEVERITIES
from broadcaster.domain.durations import InvalidDuration, format_duration, parse_duration
from broadcaster.domain.incidents import OPEN_STATUSES, REOPEN_MESSAGE, REOPEN_STATUSES, Status
from broadcaster.domain.notifications import SubscriberSource
from broadcaster.messages.compose import excerpt
from broadcaster.services import commands, notes, queries, replies
from broadcaster.services.cadence import open_with_promises
from broadcaster.storage.models import Incident, IncidentNote, IncidentUpdate

wait_option = click.option(
    "--wait", "wait_seconds", default=30.0, show_default=True, type=Seconds(0, DAY),
    help="Seconds to wait for the worker to apply the event (0: do not wait).",
)


def _no_incident(incident_id: str) -> click.ClickException:
    return click.ClickException(f"no incident {incident_id}; `broadcaster incident list` shows them")


SHORTEST, LONGEST = timedelta(minutes=1), timedelta(days=366)  # what the events take (schemas/incident-*.json)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    try:
        duration = parse_duration(value) if value else None
    except InvalidDuration as error:
        raise click.BadParameter(str(error)) from None
    if duration is not None and not SHORTEST <= duration <= LONGEST:
        raise click.BadParameter(f"must be between {format_duration(SHORTEST)} and {format_duration(LONGEST)}")
    return duration


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


@click.group()
def incident() -> None:
    """Declare, update, resolve, reopen and inspect incidents."""


incident.add_command(affected)


@incident.command()
@click.argument("title")
@click.option("--component", "-c", help="The part of the product, e.g. groups. Reports about other components are not linked.")
@click.option("--match", "-m", "phrases", multiple=True, help="A phrase reports about this incident contain (repeatable).")
@click.option("--severity", type=click.Choice(SEVERITIES), default="sev2", show_default=True)
@click.option("--description", "-d", default="", help="What is known, in words customers understand.")
@click.option("--workaround", default="", help="What affected customers can do meanwhile.")
@click.option("--next-update-in", callback=_duration,
              help="When subscribers hear from you next, e.g. 2h; also the cadence after each update (default: by severity).")
@click.option("--owner", help="Email of the engineer reminded before each promised update falls due.")
@click.option("--holding-updates/--no-holding-updates", default=True, show_default=True,
              help="When a promised update is missed, tell subscribers there is no news yet.")
@click.option("--private", is_flag=True,
              help="Its web page opens only with the link in a subscriber's own email; not listed, not in the feeds.")
@click.option("--communicator", help='The person who signs the emails, e.g. "Angela B." (default: one of '
              "BROADCASTER_COMMUNICATORS, the same one for the whole incident).")
@click.option("--second-owner", help="Email of who is reminded too once holding updates keep coming "
              "(default: BROADCASTER_SECOND_OWNER).")
@wait_option
@pass_cli
def declare(cli: CliContext, title: str, component: str | None, phrases: tuple[str, ...], severity: str,
            description: str, workaround: str, next_update_in: timedelta | None, owner: str | None,
            holding_updates: bool, private: bool, communicator: str | None, second_owner: str | None,
            wait_seconds: float) -> None:
    """Declare an incident called TITLE; earlier matching reports are linked and acknowledged."""
    with refusing_bad_input():
        event = commands.declare_incident(
            cli, title, component=component, phrases=phrases, severity=severity,
            description=description, workaround=workaround, next_update_in=next_update_in, owner=owner,
            holding_updates=holding_updates, private=private, communicator=communicator, second_owner=second_owner,
        )
    click.echo(f"Declared {event.incident_id}: {event.title}")
    click.echo(f"Emails are signed by {event.communicator or cli.settings.mail_from_name}.")
    click.echo(f"Next update promised by {_at(event.next_update_at)}.")
    if _await(cli, event.event_id, wait_seconds):
        linked = cli.read(lambda s: queries.backlog_linked(s, s.get_one(Incident, event.incident_id)))
        click.echo(f"Linked {linked} earlier report(s); their reporters are being acknowledged.")


def _await(cli: CliContext, event_id: str, wait_seconds: float,
           kept_in: type[IncidentUpdate | IncidentNote] = IncidentUpdate) -> bool:
    applied = commands.wait_until_applied(cli, event_id, wait_seconds, kept_in)
    if wait_seconds > 0 and not applied and not cli.broker_unreachable:
        click.echo(f"The worker has not applied it within {wait_seconds:g}s; is `broadcaster up` running?", err=True)
    return applied


def _open_incident(cli: CliContext, incident_id: str) -> Incident:
    found = cli.read(lambda s: s.get(Incident, incident_id))
    if found is None:
        raise _no_incident(incident_id)
    if found.status == Status.RESOLVED:
        raise click.ClickException(f"{incident_id} was resolved at {_at(found.resolved_at)}")
    return found


@incident.command()
@click.argument("incident_id")
@click.argument("message")
@click.option("--status", type=click.Choice([s.value for s in OPEN_STATUSES]), help="Move the incident to this state.")
@click.option("--next-update-in", callback=_duration,
              help="When subscribers hear from you next (default: the incident's cadence).")
@wait_option
@pass_cli
def update(cli: CliContext, incident_id: str, message: str, status: str | None,
           next_update_in: timedelta | None, wait_seconds: float) -> None:
    """Tell every subscriber of INCIDENT_ID where things stand (MESSAGE)."""
    found = _open_incident(cli, incident_id)
    with refusing_bad_input():
        event = commands.post_update(
            cli, incident_id, message, update_every=timedelta(seconds=found.update_every_seconds), status=status,
            next_update_in=next_update_in,
        )
    click.echo(f"Update to {incident_id} published; next update promised by {_at(event.next_update_at)}.")
    _await(cli, event.event_id, wait_seconds)


@incident.command()
@click.argument("incident_id")
@click.argument("message")
@click.option("--how-to-verify", default="", help="How customers can check the fix themselves.")
@wait_option
@pass_cli
def resolve(cli: CliContext, incident_id: str, message: str, how_to_verify: str, wait_seconds: float) -> None:
    """Resolve INCIDENT_ID and tell every subscriber (MESSAGE), with how to check the fix."""
    _open_incident(cli, incident_id)
    with refusing_bad_input():
        event = commands.resolve_incident(cli, incident_id, message, how_to_verify)
    click.echo(f"{incident_id} resolved; every subscriber will be told.")
    _await(cli, event.event_id, wait_seconds)


@incident.command()
@click.argument("incident_id")
@click.argument("message")
@click.option("--share", is_flag=True,
              help="Subscribers may read it: the next holding update quotes it as what the team is doing now.")
@wait_option
@pass_cli
def note(cli: CliContext, incident_id: str, message: str, share: bool, wait_seconds: float) -> None:
    """Keep a note (MESSAGE) with open INCIDENT_ID: internal, shown by `incident show`, never emailed by itself."""
    _open_incident(cli, incident_id)
    with refusing_bad_input():
        event = commands.add_note(cli, incident_id, message, shareable=share)
    if share:
        click.echo(f"Shared note kept with {incident_id}; the next holding update quotes it as what the team "
                   "is doing now, unless a progress update comes first.")
    else:
        click.echo(f"Internal note kept with {incident_id}; subscribers never see it (--share would let "
                   "the next holding update quote it).")
    _await(cli, event.event_id, wait_seconds, kept_in=IncidentNote)


@incident.command()
@click.argument("incident_id")
@click.option("--message", "-m", default=REOPEN_MESSAGE, show_default=True,
              help="What you are doing now, in words customers understand.")
@click.option("--status", type=click.Choice([s.value for s in REOPEN_STATUSES]), default=Status.INVESTIGATING.value,
              show_default=True, help="The state it is in again.")
@click.option("--next-update-in", callback=_duration,
              help="When subscribers hear from you next (default: the incident's cadence).")
@wait_option
@pass_cli
def reopen(cli: CliContext, incident_id: str, message: str, status: str, next_update_in: timedelta | None,
           wait_seconds: float) -> None:
    """Reopen resolved INCIDENT_ID: it is not fixed. Every subscriber is told, with an apology and what happens now."""
    found = cli.read(lambda s: s.get(Incident, incident_id))
    if found is None:
        raise _no_incident(incident_id)
    if found.status != Status.RESOLVED:
        raise click.ClickException(f"{incident_id} is not resolved (it is {found.status}); "
                                   f"`broadcaster incident update {incident_id}` tells its subscribers what is new")
    with refusing_bad_input():
        event = commands.reopen_incident(
            cli, incident_id, message, status=status,
            next_update_in=next_update_in or timedelta(seconds=found.update_every_seconds))
    click.echo(f"{incident_id} reopened ({status}); every subscriber will be told it is not fixed, with an apology.")
    click.echo(f"Next update promised by {_at(event.next_update_at)}.")
    _await(cli, event.event_id, wait_seconds)


@incident.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved incidents.")
@pass_cli
def list_incidents(cli: CliContext, include_resolved: bool) -> None:
    """Open incidents (and resolved ones with --all)."""
    rows = cli.read(lambda s: queries.summaries(s, include_resolved=include_resolved))
    if not rows:
        click.echo("No open incidents." if not include_resolved else "No incidents.")
        return
    click.echo(f"{'ID':<16} {'STATUS':<14} {'SEV':<5} {'SUBS':>5} {'NEXT UPDATE':<21} TITLE")
    for row in rows:
        i = row.incident
        click.echo(f"{i.id:<16} {i.status:<14} {i.severity:<5} {row.subscribers:>5} {_at(i.next_update_at):<21} {i.title}")


@incident.command()
@click.argument("incident_id")
@pass_cli
def show(cli: CliContext, incident_id: str) -> None:
    """One incident: its timeline, subscribers and the emails sent for each update."""

    def load(session: Session):  # noqa: ANN202
        found = session.get(Incident, incident_id)
        if found is None:
            return None
        return (queries.summary(session, found), queries.timeline(session, incident_id),
                replies.of_incident(session, incident_id), notes.of_incident(session, incident_id))

    loaded = cli.read(load)
    if loaded is None:
        raise _no_incident(incident_id)
    summary, entries, answers, kept = loaded
    i = summary.incident
    click.echo(f"{i.id}  {i.title}")
    click.echo(f"  status {i.status}, {i.severity}, component {i.component or '(any)'}")
    click.echo(f"  declared {_at(i.declared_at)}; resolved {_at(i.resolved_at)}; next update {_at(i.next_update_at)}")
    click.echo(f"  match phrases: {', '.join(i.match_phrases) or '(title only)'}")
    holding = "holding updates when a promise is missed" if i.holding_updates else "no holding updates"
    click.echo(f"  signed by {i.communicator or '(the team)'}; second owner {i.second_owner_email or '(none)'}")
    click.echo(f"  cadence: news promised every {format_duration(timedelta(seconds=i.update_every_seconds))}, "
               f"{holding}; owner {i.owner_email or '(none)'}")
    broken = summary.missed_promises
    click.echo(f"  promises: {'never broken' if not broken else f'broken {broken} time(s): a holding update went out'}")
    reporters = summary.subscribers - summary.affected
    click.echo(f"  {summary.reports} report(s) linked, {summary.subscribers} subscriber(s): "
               f"{reporters} who reported it or followed it, {summary.affected} affected (added by engineers)")
    _show_replies(answers)
    click.echo("Timeline:")
    for entry in entries:
        u = entry.update
        sent = ", ".join(f"{n} {what}" for what, n in sorted(entry.deliveries.items())) or "none"
        click.echo(f"  {_at(u.created_at)}  {u.kind:<10} [{u.status}] {u.message or '(no message)'}")
        click.echo(f"  {'':20} emails: {sent}")
        if entry.provider:
            said = ", ".join(f"{n} {status}" for status, n in sorted(entry.provider.items()))
            click.echo(f"  {'':20} mail provider: {said}")
    _show_notes(kept)


def _show_notes(kept: list[IncidentNote]) -> None:
    """The engineers' notes: shared ones a holding update may quote, internal ones never emailed."""
    if not kept:
        click.echo("Notes: none")
        return
    click.echo("Notes (never emailed by themselves; a holding update quotes the latest shared one if it is newest):")
    for kept_note in kept:
        click.echo(f"  {_at(kept_note.created_at)}  {'shared' if kept_note.shareable else 'internal':<8} "
                   f"{kept_note.message}")


def _show_replies(answers: replies.IncidentReplies) -> None:
    """The replies subscribers sent to its emails (never answered automatically), the latest few quoted."""
    if not answers.count:
        click.echo("  replies: none")
        return
    click.echo(f"  replies: {answers.count}, {answers.still_fails} saying it still fails; the latest:")
    for reply in answers.latest:
        flag = " REGRESSION" if reply.regression else ""
        click.echo(f"    {_at(reply.received_at)}  {reply.email}  [{reply.classification}{flag}] {excerpt(reply.text)}")


@click.command()
@click.argument("incident_id")
@pass_cli
def subscribers(cli: CliContext, incident_id: str) -> None:
    """Who will hear about INCIDENT_ID, and since when; then who no longer will, since when and why.

    Each person is marked ``reporter`` (they wrote to us) or ``affected`` (added by the engineers).
    """
    known, rows = cli.read(lambda s: (s.get(Incident, incident_id) is not None, queries.subscribers(s, incident_id)))
    if not known:
        raise _no_incident(incident_id)
    active, left = [r for r in rows if r.active], [r for r in rows if not r.active]
    affected = sum(row.subscriber.source == SubscriberSource.AFFECTED for row in rows)
    click.echo(f"{len(rows) - affected} reported it, {affected} affected (added with `broadcaster incident affected`)")
    for row in active:
        s = row.subscriber
        click.echo(f"{s.email:<40} {s.name:<24} since {_at(s.subscribed_at)}  {s.source}")
    click.echo(f"{len(active)} subscriber(s)" if active else f"{incident_id} has no subscribers.")
    if left:
        click.echo(f"{len(left)} no longer emailed about it:")
    for row in left:
        s = row.subscriber
        click.echo(f"{s.email:<40} {s.name:<24} {row.why_left} on {_at(row.left_at)}  {s.source}")


@incident.command()
@click.argument("incident_id")
@click.option("--every", "update_every", callback=_duration, help="Promise news this often, e.g. 1h.")
@click.option("--next-update-in", callback=_duration, help="Move the next promise to this long from now.")
@click.option("--holding-updates/--no-holding-updates", default=None, help="Turn holding updates on or off.")
@pass_cli
def cadence(cli: CliContext, incident_id: str, update_every: timedelta | None, next_update_in: timedelta | None,
            holding_updates: bool | None) -> None:
    """See or change how often INCIDENT_ID's subscribers are promised news."""
    found = _open_incident(cli, incident_id)
    if update_every is None and next_update_in is None and holding_updates is None:
        every = format_duration(timedelta(seconds=found.update_every_seconds))
        click.echo(f"{incident_id}: news every {every}; next by {_at(found.next_update_at)}; "
                   f"holding updates {'on' if found.holding_updates else 'off'}")
        return
    with refusing_bad_input():
        commands.change_cadence(cli, incident_id, update_every=update_every, next_update_in=next_update_in,
                               holding_updates=holding_updates)
    click.echo(f"Cadence of {incident_id} changed; `broadcaster incident show {incident_id}` shows it once applied.")


@incident.command()
@click.argument("incident_id")
@click.argument("visibility", type=click.Choice(["public", "private"]))
@pass_cli
def visibility(cli: CliContext, incident_id: str, visibility: str) -> None:
    """Make INCIDENT_ID's web page public (listed, in the feeds) or private (only from the link in an email)."""
    from broadcaster.services.public_incidents import set_private
    from broadcaster.storage.database import transaction

    with transaction(cli.services.sessions) as session:
        found = set_private(session, incident_id, visibility == "private")
    if not found:
        raise _no_incident(incident_id)
    click.echo(f"{incident_id} is now {visibility}; its page shows it within a second.")


@incident.command()
@pass_cli
def due(cli: CliContext) -> None:
    """Open incidents by when their promised update falls due; overdue ones first."""
    now = cli.services.clock()
    rows = cli.read(open_with_promises)
    if not rows:
        click.echo("No open incident has a promised update.")
        return
    for i in rows:
        if i.next_update_at is None:
            continue
        left = i.next_update_at - now
        when = f"overdue by {format_duration(-left)}" if left.total_seconds() < 0 else f"due in {format_duration(left)}"
        click.echo(f"{i.id:<16} {when:<22} by {_at(i.next_update_at)}  owner {i.owner_email or '-':<24} {i.title}")
