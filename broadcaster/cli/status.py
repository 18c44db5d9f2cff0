"""``broadcaster status``: broker, workers, lag, dead letters, deliveries and promises, on one screen."""

import click
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.kafka.clients import kafka_python_options
from broadcaster.kafka.lag import read_group_lag, topic_partitions
from broadcaster.ops.health import Check, deliveries_check, mail_account_check, overdue_check
from broadcaster.ops.lag_report import Window, evaluate_group, group_status
from broadcaster.ops.lag_status import Status


def _kafka_checks(cli: CliContext) -> list[Check]:
    options = kafka_python_options(cli.settings, cli.bootstrap_servers)
    try:
        admin = KafkaAdminClient(**options)
        dead_letter_partitions = topic_partitions(admin, (cli.topics.dead_letters,))
        admin.close()
    except Exception as error:  # noqa: BLE001 - any failure here means the broker is not usable
        return [Check("broker", False, f"{cli.bootstrap_servers} unreachable: {error}")]
    checks = [Check("broker", True, f"{cli.bootstrap_servers} reachable")]
    topics = tuple(t for t in cli.topics.all() if t != cli.topics.dead_letters)
    lag = read_group_lag(cli.settings, cli.bootstrap_servers, cli.settings.app_id, topics)
    reports = evaluate_group(lag, Window(cli.settings.state_dir / "lag-window.json", 600).add(lag))
    status = group_status(reports)
    committed_anywhere = any(r.lag.committed is not None for r in reports)
    members = {True: "members active", False: "no members", None: "membership unknown (broker cannot say)"}
    checks.append(Check("workers", lag.members_active is not False and committed_anywhere,
                        f"group {lag.group}: {members[lag.members_active]}; "
                        f"{'offsets committed' if committed_anywhere else 'nothing ever committed'}"))
    behind = sum(r.lag.lag or 0 for r in reports)
    checks.append(Check("lag", status in (Status.OK, Status.WARN), f"{status.name}, {behind} message(s) behind"))
    checks.append(_dead_letters(cli, options, dead_letter_partitions))
    return checks


def _dead_letters(cli: CliContext, options: dict, partitions: list[TopicPartition]) -> Check:
    consumer = KafkaConsumer(enable_auto_commit=False, group_id=None, **options)
    try:
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        consumer.poll(timeout_ms=500, max_records=1)
        waiting = sum(consumer.highwater(tp) or 0 for tp in partitions)
    finally:
        consumer.close()
    return Check("dead letters", waiting == 0, f"{waiting} on {cli.topics.dead_letters}" if waiting else "none")


@click.command()
@pass_cli
def status(cli: CliContext) -> None:
    """Is the system healthy? Exits 1 when any check fails."""
    checks = _kafka_checks(cli)
    now = cli.services.clock()
    checks += cli.read(lambda s: [deliveries_check(s, now=now, lease=cli.settings.delivery_lease),
                                  mail_account_check(s), overdue_check(s, now)])
    for check in checks:
        mark = click.style("ok  ", fg="green") if check.healthy else click.style("FAIL", fg="red")
        click.echo(f"{mark} {check.name:<17} {check.detail}")
    if not all(check.healthy for check in checks):
        raise SystemExit(1)
