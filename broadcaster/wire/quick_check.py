"""A quick "valid" for the common message, with jsonschema deciding everything else.

jsonschema makes a validator object for each subschema it descends into: checking a bug
report took about 70 µs, a tenth of a worker's CPU per report at 900 reports a second.
The schemas in ``schemas/`` use a handful of keywords, so :func:`compile_quick` turns a
schema made only of those into one function. It answers True only where jsonschema
would accept the document (each keyword is checked as strictly or more: an integer must
be an ``int``, a constant must have the constant's own type); it has no False that
matters: a document it does not pass goes to jsonschema, which decides and says what is
wrong. A schema with any other keyword gets no quick check (None).
"""

from collections.abc import Callable
from typing import Any

from jsonschema import FormatChecker

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description"})
_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str), "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list), "null": lambda v: v is None,
    "integer": lambda v: type(v) is int, "boolean": lambda v: type(v) is bool,
}
_PLAIN = (str, int, bool, type(None))


def compile_quick(schema: Any, formats: FormatChecker) -> Check | None:
    """A function that says True only for documents ``schema`` accepts, or None if the schema is beyond it."""
    if not isinstance(schema, dict):
        return None
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        check = _keyword(keyword, value, schema, formats)
        if check is None:
            return None
        checks.append(check)
    return _all_of(checks)


def _all_of(checks: list[Check]) -> Check:
    """One check that passes what every one of ``checks`` passes: a plain loop, no generator per call
    (a report is checked by some forty of these small functions; generators were half their cost)."""
    if len(checks) == 1:
        return checks[0]

    def every(v: Any) -> bool:
        for check in checks:
            if not check(v):
                return False
        return True

    return every


def _keyword(keyword: str, value: Any, schema: dict[str, Any], formats: FormatChecker) -> Check | None:
    match keyword:
        case "type":
            return _type(value)
        case "const" if isinstance(value, _PLAIN):
            return lambda v: type(v) is type(value) and v == value
        case "enum" if isinstance(value, list) and all(isinstance(e, _PLAIN) for e in value):
            return lambda v: any(type(v) is type(e) and v == e for e in value)
        case "required" if isinstance(value, list):
            return lambda v: not isinstance(v, dict) or all(name in v for name in value)
        case "properties" if isinstance(value, dict):
            return _properties(value, formats)
        case "additionalProperties" if value is False and "patternProperties" not in schema:
            allowed = frozenset(schema.get("properties", {}))
            return lambda v: not isinstance(v, dict) or v.keys() <= allowed
        case "items":
            item = compile_quick(value, formats)
            return None if item is None else lambda v: not isinstance(v, list) or all(item(x) for x in v)
        case "minLength" | "maxLength" | "minItems" | "maxItems" if type(value) is int:
            return _size(keyword, value)
        case "minimum" | "maximum" if type(value) is int:
            at_least = keyword == "minimum"
            return lambda v: (not isinstance(v, int | float) or isinstance(v, bool)
                              or (v >= value if at_least else v <= value))  # NaN is neither: jsonschema decides
        case "format" if isinstance(value, str):
            return lambda v: formats.conforms(v, value)
    return None


def _type(value: Any) -> Check | None:
    names = value if isinstance(value, list) else [value]
    if not all(isinstance(name, str) and name in _TYPES for name in names):
        return None
    tests = [_TYPES[name] for name in names]
    return tests[0] if len(tests) == 1 else lambda v: any(test(v) for test in tests)


def _properties(value: dict[str, Any], formats: FormatChecker) -> Check | None:
    compiled = {name: compile_quick(sub, formats) for name, sub in value.items()}
    checks = {name: check for name, check in compiled.items() if check is not None}
    if len(checks) < len(compiled):
        return None
    named = tuple(checks.items())

    def each_present(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, check in named:
            if name in v and not check(v[name]):
                return False
        return True

    return each_present


def _size(keyword: str, limit: int) -> Check:
    kind = str if keyword.endswith("Length") else list
    at_least = keyword.startswith("min")
    return lambda v: not isinstance(v, kind) or (len(v) >= limit if at_least else len(v) <= limit)
