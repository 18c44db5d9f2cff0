"""``broadcaster lag``: how far behind each Broadcaster consumer group is, in messages and seconds."""

import json
import time

import click
from kafka.errors import KafkaError

from broadcaster.cli.context import CliContext, pass_cli
from broadcaster.cli.types import DAY, YEAR, Seconds
from broadcaster.kafka.lag import read_group_lag
from broadcaster.ops.lag_report import Window, as_json, evaluate_group, report_time
from broadcaster.ops.lag_status import STALL_AFTER_SECONDS, Status

FAILING = {Status.STALL, Status.STOP, Status.REWIND}


def _one_round(cli: CliContext, groups: tuple[str, ...], window: Window, stall_after: float) -> dict:
    topics = tuple(t for t in cli.topics.all() if t != cli.topics.dead_letters)
    reports, read_at = [], time.time()
    for group in groups:
        try:
            lag = read_group_lag(cli.settings, cli.bootstrap_servers, group, topics)
        except KafkaError as error:
            click.echo(f"cannot read lag: broker {cli.bootstrap_servers} unreachable ({error})", err=True)
            raise SystemExit(2) from None
        reports.append(as_json(lag, evaluate_group(lag, window.add(lag), stall_after)))
        read_at = lag.read_at
    return {"version": 1, "read_at": report_time(read_at), "groups": reports}


def _print(report: dict, ours: str) -> None:
    for group in report["groups"]:
        click.echo(f"group {group['group']}: {group['status']}, {group['lag_messages']} message(s) behind, "
                   f"oldest unprocessed {group['lag_seconds']:.1f} s ago")
        if group["group"] != ours and all(p["committed"] is None for p in group["partitions"]):
            click.echo(f"  (group {group['group']} has committed no offset on these topics: is the name right? "
                       f"This system's workers are group {ours})")
        click.echo(f"  {'TOPIC':<40} {'PART':>4} {'COMMITTED':>10} {'END':>10} {'LAG':>8} {'SECONDS':>9}  STATUS")
        for p in group["partitions"]:
            committed = "-" if p["committed"] is None else p["committed"]
            seconds = "-" if p["lag_seconds"] is None else f"{p['lag_seconds']:.1f}{'~' if p['lag_seconds_estimated'] else ''}"
            click.echo(f"  {p['topic']:<40} {p['partition']:>4} {committed:>10} {p['end']:>10} {p['lag']:>8} {seconds:>9}  "
                       f"{p['status']}")
            if p["note"]:
                click.echo(f"  {'':40}      {p['note']}")
    click.echo("(~ estimated from the produce rate; - no committed offset: lag counts from the log start)")


def _breaches(report: dict, max_messages: int | None, max_seconds: float | None) -> list[str]:
    problems = []
    for group in report["groups"]:
        if Status[group["status"]] in FAILING:
            problems.append(f"{group['group']} is {group['status']}")
        if max_messages is not None and group["lag_messages"] > max_messages:
            problems.append(f"{group['group']} is {group['lag_messages']} messages behind (max {max_messages})")
        if max_seconds is not None and group["lag_seconds"] > max_seconds:
            problems.append(f"{group['group']} is {group['lag_seconds']:.1f} s behind (max {max_seconds:g})")
    return problems


@click.command()
@click.option("--group", "groups", multiple=True, help="Consumer group (default: this system's worker group).")
@click.option("--json", "as_json_output", is_flag=True, help="Print one JSON object (schemas/lag-report.v1.json).")
@click.option("--watch", type=Seconds(0.5, DAY), help="Refresh every this many seconds until Ctrl-C.")
@click.option("--window", default=600.0, show_default=True, type=Seconds(1, YEAR),
              help="Seconds of samples the status is judged on.")
@click.option("--max-messages", type=click.IntRange(0), help="Exit 2 when a group is further behind than this.")
@click.option("--max-seconds", type=Seconds(0, YEAR), help="Exit 2 when the oldest unprocessed message is older than this.")
@click.option("--stall-after", type=Seconds(1, YEAR), default=STALL_AFTER_SECONDS, show_default=True,
              help="Seconds a message may wait with no commit before its partition is STALL (or STOP).")
@pass_cli
def lag(cli: CliContext, groups: tuple[str, ...], as_json_output: bool, watch: float | None, window: float,
        max_messages: int | None, max_seconds: float | None, stall_after: float) -> None:
    """Committed offset, log end, lag in messages and seconds, and a Burrow-style status per group.

    Exits 2 when a group is STALL, STOP or REWIND or passes a threshold, so it works as a monitoring check.
    """
    samples = Window(cli.settings.state_dir / "lag-window.json", window)
    groups = groups or (cli.settings.app_id,)
    while True:
        report = _one_round(cli, groups, samples, stall_after)
        if as_json_output:
            click.echo(json.dumps(report))
        else:
            if watch:
                click.clear()
            _print(report, cli.settings.app_id)
        if not watch:
            break
        time.sleep(watch)
    problems = _breaches(report, max_messages, max_seconds)
    if problems:
        click.echo("; ".join(problems), err=True)
        raise SystemExit(2)
