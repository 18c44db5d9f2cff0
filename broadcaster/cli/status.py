"""``broadcaster status``: broker, workers, lag, dead letters, deliveries and promises, on one screen."""

import click
from kafka.admin import KafkaAdminClient

from broadcaster.bootstrap import utc_now
from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.cli.types import YEAR, Seconds
from broadcaster.kafka.lag import count_records, operator_options, read_group_lag
from broadcaster.ops.health import (
    Check,
    dead_letters_check,
    deliveries_check,
    intake_check,
    mail_account_check,
    outbox_check,
    overdue_check,
    triage_check,
    workers_check,
)
from broadcaster.ops.lag_report import Window, evaluate_group, group_status
from broadcaster.ops.lag_status import STALL_AFTER_SECONDS, Status
from broadcaster.services import dead_letters, replies


def _broker_check(cli: CliContext) -> Check:
    try:
        KafkaAdminClient(**operator_options(cli.settings, cli.bootstrap_servers)).close()
    except Exception as error:  # noqa: BLE001 - any failure here means the broker is not usable
        return Check("broker", False, f"{cli.bootstrap_servers} unreachable: {error}")
    return Check("broker", True, f"{cli.bootstrap_servers} reachable")


def _kafka_checks(cli: CliContext, stall_after: float) -> list[Check]:
    broker = _broker_check(cli)
    if not broker.healthy:
        return [broker]
    topics = tuple(t for t in cli.topics.all() if t != cli.topics.dead_letters)
    lag = read_group_lag(cli.settings, cli.bootstrap_servers, cli.settings.app_id, topics)
    reports = evaluate_group(lag, Window(cli.settings.state_dir / "lag-window.json", 600).add(lag), stall_after)
    status = group_status(reports)
    behind = sum(r.lag.lag for r in reports)
    return [
        broker,
        workers_check(lag.group, lag.members_active, reports, stall_after),
        Check("lag", status in (Status.OK, Status.WARN), f"{status.name}, {behind} message(s) behind"),
    ]


def _dead_letters_check(cli: CliContext, broker_reachable: bool) -> Check:
    on_topic = count_records(cli.settings, cli.bootstrap_servers, cli.topics.dead_letters) if broker_reachable else None
    return dead_letters_check(cli.read(dead_letters.waiting), cli.topics.dead_letters, on_topic)


@click.command()
@click.option("--stall-after", type=Seconds(1, YEAR), default=STALL_AFTER_SECONDS, show_default=True,
              help="Seconds a message may wait with no commit before the workers count as making no progress.")
@pass_cli
def status(cli: CliContext, stall_after: float) -> None:
    """Is the system healthy? Exits 1 when any check fails."""
    checks = _kafka_checks(cli, stall_after)
    checks.append(_dead_letters_check(cli, broker_reachable=checks[0].healthy))
    now = cli.services.clock()
    checks += cli.read(lambda s: [deliveries_check(s, now=now, lease=cli.settings.delivery_lease),
                                  mail_account_check(s), outbox_check(s, utc_now()), overdue_check(s, now),
                                  intake_check(s, now), Check("replies", *replies.status_line(s, now)),
                                  triage_check(s, now, cli.settings.triage_owner)])
    for check in checks:
        mark = click.style("ok  ", fg="green") if check.healthy else click.style("FAIL", fg="red")
        click.echo(f"{mark} {check.name:<17} {check.detail}")
    if not all(check.healthy for check in checks):
        raise SystemExit(1)
