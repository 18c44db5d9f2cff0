"""What SendGrid's v3 mail/send refuses, checked as strictly as the real API checks it.

A stand-in kinder than SendGrid lets a test pass with a request SendGrid answers 400, and
the bug is found in production. So every body is checked against the request schema
SendGrid publishes (``PostMailSend`` in ``../shared/sendgrid/tsg_mail_v3.json``), and a
schema-valid body then against the documented rules a schema cannot express: recipient
counts, each address once, SendGrid's address syntax, reserved headers, string values and
size limits.

Each problem is reported as SendGrid reports it, ``{"message", "field", "help"}``, with
``field`` naming the offending part in SendGrid's dotted form (``personalizations.500.to.0.email``,
``from.email``, ``headers.To``), or None when the problem is the whole request. Callers
rely on that field to drop only the personalizations named and send the rest.
"""

import json
from collections.abc import Collection, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# CI clones the repository as <dir>/main with SendGrid's published descriptions in <dir>/shared.
CONTRACT = Path(__file__).resolve().parents[2].parent / "shared" / "sendgrid" / "tsg_mail_v3.json"
_CONTRACT_URI = "urn:sendgrid:tsg_mail_v3"
_REQUEST_SCHEMA = "#/components/requestBodies/PostMailSend/content/application~1json/schema"

MAX_RECIPIENTS = 1000  # to + cc + bcc, over all personalizations of one request
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization
MAX_CUSTOM_ARGS_BYTES = 10_000  # per message: the request's custom_args plus the personalization's
RESERVED_HEADERS = frozenset({"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                              "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"})
_CONTENT_ORDER = {"text/plain": 0, "text/html": 1}  # then anything else

INVALID_ADDRESS = "Does not contain a valid address."
INVALID_FROM = "The from email does not contain a valid address."
NAME_SEPARATOR = "A name may not contain ; or , unless it is quoted as RFC 5322 wants (\"Doe, Jane\")."


def error(message: str, field: str | None) -> dict[str, Any]:
    """One entry of SendGrid's ``errors`` list."""
    return {"message": message, "field": field, "help": None}


@cache
def request_schema() -> Draft202012Validator:
    """A validator for SendGrid's ``PostMailSend`` request body, its ``$ref``s resolved inside the file."""
    if not CONTRACT.is_file():
        raise FileNotFoundError(
            f"{CONTRACT} is missing: the local SendGrid server checks every request against SendGrid's published "
            "OpenAPI description, which must be in ../shared/sendgrid beside the repository (<dir>/main, <dir>/shared)")
    document = json.loads(CONTRACT.read_text(encoding="utf-8"))
    registry = Registry().with_resource(_CONTRACT_URI, Resource.from_contents(document, DRAFT202012))
    return Draft202012Validator({"$ref": _CONTRACT_URI + _REQUEST_SCHEMA}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def request_errors(body: Any, refused_addresses: Collection[str] = ()) -> list[dict[str, Any]]:
    """Everything SendGrid would answer 400 for; empty when it would accept ``body``.

    The rules run only on a schema-valid body (they rely on its types), as SendGrid too
    reports the shape of a request before what is in it. ``refused_addresses`` are refused
    as invalid although well-formed, as SendGrid refuses some addresses it knows.
    """
    found = schema_errors(body) or rule_errors(body, {a.lower() for a in refused_addresses})
    unique = {(e["field"], e["message"]): e for e in found}  # one missing property is reported once
    return list(unique.values())


def schema_errors(body: Any) -> list[dict[str, Any]]:
    return [error(_message(e), field) for e in request_schema().iter_errors(body) for field in _fields(e)]


def _fields(problem: ValidationError) -> list[str | None]:
    path = ".".join(str(part) for part in problem.absolute_path)
    if problem.validator != "required":
        return [path or None]
    missing = [name for name in problem.validator_value if name not in problem.instance]
    return [f"{path}.{name}" if path else name for name in missing]


def _message(problem: ValidationError) -> str:
    """jsonschema's message without the offending value, which may be a 1,000-item list."""
    limit = problem.validator_value
    described = {
        "type": _wrong_type(limit, problem.instance),
        "required": "This field is required.",
        "maxItems": f"May hold at most {limit} items.",
        "minLength": f"Must be at least {limit} character(s) long.",
        "maxLength": f"May be at most {limit} characters long.",
        "maxProperties": f"May hold at most {limit} properties.",
        "format": INVALID_FROM if list(problem.absolute_path)[-2:-1] == ["from"] else INVALID_ADDRESS,  # only email
        "enum": f"Must be one of {limit}.",
    }
    return described.get(str(problem.validator), problem.message[:200])


def _wrong_type(expected: object, value: object) -> str:
    """SendGrid's wording, with JSON's names for types."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return f"Invalid type. Expected: {expected}, given: {names.get(type(value), 'null')}."


def rule_errors(body: dict[str, Any], refused_addresses: Collection[str]) -> list[dict[str, Any]]:
    """The documented mail/send rules the schema cannot express, on a schema-valid ``body``."""
    personalizations = body["personalizations"]
    found = [] if personalizations else [
        error("The personalizations field is required and must have at least one personalization.", "personalizations")]
    found += [error("The to array is required for all personalization objects, and must have at least one email "
                    "object with a valid email address.", f"personalizations.{n}.to")
              for n, item in enumerate(personalizations) if not item["to"]]
    found += _address_errors(body, refused_addresses)
    found += _header_errors(body.get("headers"), "headers")
    if len(body.get("custom_args", "").encode()) > MAX_CUSTOM_ARGS_BYTES:
        found.append(error("The total size of custom arguments may not exceed 10,000 bytes.", "custom_args"))
    for n, item in enumerate(personalizations):
        found += _header_errors(item.get("headers"), f"personalizations.{n}.headers")
        found += _personal_value_errors(body, item, f"personalizations.{n}")
    if "reply_to" in body and "reply_to_list" in body:
        found.append(error("You can use either the reply_to property or reply_to_list property but not both.",
                           "reply_to_list"))
    return found + _subject_and_content_errors(body)


def _people(body: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, bool]]:
    """Every address object with its field path, and whether it receives the message (to, cc, bcc)."""
    yield body["from"], "from", False
    if "reply_to" in body:
        yield body["reply_to"], "reply_to", False
    for m, person in enumerate(body.get("reply_to_list", [])):
        yield person, f"reply_to_list.{m}", False
    for n, item in enumerate(body["personalizations"]):
        if "from" in item:
            yield item["from"], f"personalizations.{n}.from", False
        for kind in ("to", "cc", "bcc"):
            for m, person in enumerate(item.get(kind, [])):
                yield person, f"personalizations.{n}.{kind}.{m}", True


def _address_errors(body: dict[str, Any], refused_addresses: Collection[str]) -> list[dict[str, Any]]:
    found, recipients = [], 0
    seen: dict[str, str] = {}  # address: where it first appears
    for person, path, receives in _people(body):
        address = person["email"]
        if not valid_address(address) or (receives and address.lower() in refused_addresses):
            found.append(error(INVALID_FROM if path.endswith("from") else INVALID_ADDRESS, f"{path}.email"))
        if _unquoted_separator(person.get("name", "")):
            found.append(error(NAME_SEPARATOR, f"{path}.name"))
        if not receives:
            continue
        recipients += 1
        if address.lower() in seen:
            found.append(error(f"Each email address may appear once per request: {address} already appears in "
                               f"{seen[address.lower()]}.", f"{path}.email"))
        seen.setdefault(address.lower(), path)
    if recipients > MAX_RECIPIENTS:
        found.append(error(f"The total number of recipients (to, cc and bcc, over every personalization) may not "
                           f"exceed {MAX_RECIPIENTS}; this request has {recipients}.", "personalizations"))
    return found


def valid_address(address: str) -> bool:
    """SendGrid's address syntax: stricter than a loose pattern, and no characters beyond ASCII before the @."""
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def _unquoted_separator(name: str) -> bool:
    """Whether ``,`` or ``;`` stands outside an RFC 5322 quoted-string: read as a second address in a header."""
    quoted = escaped = False
    for char in name:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char in ",;" and not quoted:
            return True
    return quoted and ("," in name or ";" in name)  # a quote never closed protects nothing


def _header_errors(headers: Any, prefix: str) -> list[dict[str, Any]]:
    found = []
    for name, value in (headers or {}).items():
        if name.lower() in RESERVED_HEADERS:
            found.append(error(f"The header {name} is reserved: SendGrid sets it and it may not be given.",
                               f"{prefix}.{name}"))
        elif not isinstance(value, str):
            found.append(error(_wrong_type("string", value), f"{prefix}.{name}"))
    return found


def _personal_value_errors(body: dict[str, Any], item: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Substitutions (strings by the schema) within 10,000 bytes; custom_args strings, within 10,000 bytes."""
    found = []
    if _size(item.get("substitutions", {})) > MAX_SUBSTITUTION_BYTES:
        found.append(error("The total size of your substitutions may not exceed 10,000 bytes per personalization "
                           "object.", f"{prefix}.substitutions"))
    custom_args = item.get("custom_args", {})
    wrong = [name for name, value in custom_args.items() if not isinstance(value, str)]
    found += [error(_wrong_type("string", custom_args[name]), f"{prefix}.custom_args.{name}") for name in wrong]
    if not wrong and _size(custom_args) + len(body.get("custom_args", "").encode()) > MAX_CUSTOM_ARGS_BYTES:
        found.append(error("The total size of custom arguments may not exceed 10,000 bytes.", f"{prefix}.custom_args"))
    return found


def _size(values: dict[str, str]) -> int:
    return sum(len(name.encode()) + len(value.encode()) for name, value in values.items())


def _subject_and_content_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Without a template, a subject (global or in every personalization) and content, text/plain first."""
    if "template_id" in body:
        return []
    found = []
    if "subject" not in body and not all("subject" in item for item in body["personalizations"]):
        found.append(error("The subject is required. You can get around this requirement if you use a template with "
                           "a subject defined or if every personalization has a subject defined.", "subject"))
    content = body.get("content", [])
    if not content:
        found.append(error("Unless a valid template_id is provided, the content parameter is required. There must be "
                           "at least one defined content block.", "content"))
    ranks = [_CONTENT_ORDER.get(part["type"].lower(), 2) for part in content]
    out_of_order = next((i for i in range(1, len(ranks)) if ranks[i] < ranks[i - 1]), None)
    if out_of_order is not None:
        found.append(error("If present, text/plain content must be first, followed by text/html, then any other "
                           "content.", f"content.{out_of_order}.type"))
    return found
