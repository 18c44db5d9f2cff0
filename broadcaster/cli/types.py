"""Numbers the commands take, checked by click, so a mistyped one is refused with the option's name.

Before, ``lag --watch -1`` or ``nan`` ended in a traceback after the first screen, and an
id beyond what the database holds (``dead-letters show 99999999999999999999``) in one from
the driver; ``--window 0`` and ``--wait -1`` were taken as they came.
"""

import math
from typing import Any

import click

DAY = 86_400.0
YEAR = 366 * DAY
ROW_ID = click.IntRange(1, 2**63 - 1)  # what the database's integer ids can hold


class Seconds(click.ParamType):
    """A finite number of seconds between ``minimum`` and ``maximum`` (click's FloatRange lets NaN through)."""

    name = "seconds"

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail("is not a number of seconds", param, ctx)
        if not (math.isfinite(seconds) and self.minimum <= seconds <= self.maximum):
            self.fail(f"must be between {self.minimum:g} and {self.maximum:g} seconds", param, ctx)
        return seconds
