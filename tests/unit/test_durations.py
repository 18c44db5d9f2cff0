from datetime import timedelta

import pytest

from broadcaster.domain.durations import InvalidDuration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2h", timedelta(hours=2)), ("90m", timedelta(minutes=90)), ("1h30m", timedelta(minutes=90)),
     ("3d", timedelta(days=3)), (" 45 m ", timedelta(minutes=45))],
)
def test_parses_what_engineers_type(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "two hours", "2x", "0m", "2h and 3m"])
def test_rejects_anything_else_with_an_example_of_the_right_form(text: str) -> None:
    with pytest.raises(InvalidDuration, match="30m|longer than zero"):
        parse_duration(text)


def test_format_is_the_inverse_of_parse() -> None:
    assert format_duration(parse_duration("1d2h5m")) == "1d2h5m"
