"""Loads the versioned JSON Schemas in ``schemas/`` and checks messages against them."""

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from broadcaster.wire.errors import InvalidMessage
from broadcaster.wire.quick_check import Check, compile_quick

MAX_REPORTED_ERRORS = 5
_REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

SCHEMA_FILES = {
    ("bug_report.received", 1): "bug-report-received.v1.json",
    ("incident.declared", 1): "incident-declared.v1.json",
    ("incident.updated", 1): "incident-updated.v1.json",
    ("incident.resolved", 1): "incident-resolved.v1.json",
    ("incident.reopened", 1): "incident-reopened.v1.json",
    ("incident.cadence_changed", 1): "incident-cadence-changed.v1.json",
    ("incident.holding_update_due", 1): "incident-holding-update-due.v1.json",
    ("incident.noted", 1): "incident-noted.v1.json",
    ("notification.update_published", 1): "update-published.v1.json",
    ("notification.fan_out_page", 1): "fan-out-page.v1.json",
    ("delivery.queued", 1): "deliveries-queued.v1.json",
    ("dead_letter", 1): "dead-letter.v1.json",
    ("dead_letter", 2): "dead-letter.v2.json",
}


def schema_text(filename: str) -> str:
    """A schema's text: from the source tree, or from the copy packed into a wheel."""
    in_repo = _REPO_SCHEMAS / filename
    if in_repo.is_file():
        return in_repo.read_text()
    return resources.files("broadcaster").joinpath("_schemas", filename).read_text()


@cache
def validator(message_type: str, version: int) -> Draft202012Validator:
    try:
        filename = SCHEMA_FILES[(message_type, version)]
    except KeyError:
        raise InvalidMessage(f"unknown message type {message_type!r} version {version!r}") from None
    return Draft202012Validator(json.loads(schema_text(filename)), format_checker=FormatChecker())


@cache
def quick(message_type: str, version: int) -> Check | None:
    """The schema's quick check (wire/quick_check.py), with the format checker jsonschema uses; None if it has none."""
    checker = validator(message_type, version)
    return compile_quick(checker.schema, checker.format_checker or FormatChecker())


def validate(document: Any, expected_types: frozenset[str]) -> dict[str, Any]:
    """Return ``document`` if it is one of ``expected_types`` and valid; else raise InvalidMessage."""
    if not isinstance(document, dict):
        raise InvalidMessage("message is not a JSON object")
    message_type, version = document.get("type"), document.get("version")
    expected = f"expected one of {', '.join(sorted(expected_types))}"
    if message_type is None:
        raise InvalidMessage(f'message has no "type" field ({expected})')
    if not isinstance(message_type, str) or message_type not in expected_types:
        shown = repr(message_type)[:40] if isinstance(message_type, str) else type(message_type).__name__
        raise InvalidMessage(f"type {shown} does not belong on this topic ({expected})")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidMessage(f"{message_type}: version must be an integer")
    check = quick(message_type, version)
    if check is not None and check(document):
        return document
    errors = sorted(validator(message_type, version).iter_errors(document), key=str)
    if errors:
        problems = "; ".join(_describe(error) for error in errors[:MAX_REPORTED_ERRORS])
        raise InvalidMessage(f"{message_type} v{version}: {problems}")
    return document


_WHAT_IS_WRONG = {
    "type": lambda v: f"must be of type {' or '.join(v) if isinstance(v, list) else v}",
    "format": lambda v: f"is not a valid {v}",
    "maxLength": lambda v: f"is longer than {v:,} characters",
    "minLength": lambda v: "is empty" if v == 1 else f"is shorter than {v} characters",
    "const": lambda v: f"must be {v!r}",
    "enum": lambda v: f"must be one of {', '.join(map(str, v))}",
    "maxItems": lambda v: f"has more than {v:,} items",
    "minimum": lambda v: f"must be at least {v}",
    "maximum": lambda v: f"must be at most {v}",
}


def _describe(error: ValidationError) -> str:
    """Where and what, never the offending value: reasons end up in logs and dead letters."""
    where = "/".join(str(part) for part in error.absolute_path) or "(message)"
    if error.validator == "required":  # the message names the missing property, not a value
        return f"{where}: {error.message}"
    explain = _WHAT_IS_WRONG.get(str(error.validator))
    problem = explain(error.validator_value) if explain else f"breaks the schema's {error.validator!r} rule"
    return f"{where}: {problem}"
