"""The pages' Jinja2 environment: HTML and Atom autoescaped, times as <time> in UTC that a script makes local."""

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from broadcaster.domain.incidents import severity_words, status_label
from broadcaster.messages.compose import when

if TYPE_CHECKING:
    from jinja2 import Environment


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC, as <time datetime>, Atom and the JSON API want it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(moment: datetime, now: datetime) -> str:
    """``12 minutes``, ``3 hours``, ``2 days``: how long since ``moment``, in the largest whole unit."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


@cache
def environment() -> "Environment":
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("broadcaster.pages", "templates"),
                      autoescape=select_autoescape(["html", "atom"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, iso=iso, status=status_label, severity=severity_words)
    env.globals["ago"] = ago
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)
