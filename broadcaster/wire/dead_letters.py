"""The dead-letter record: the original bytes, where they came from, and why they failed."""

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    processor: str
    topic: str
    partition: int
    offset: int
    original: bytes | None
    failed_at: datetime


def _readable(original: bytes) -> str | None:
    try:
        return original.decode()
    except UnicodeDecodeError:
        return None


def encode_dead_letter(letter: DeadLetter) -> bytes:
    original = letter.original or b""
    return json.dumps(
        {
            "type": "dead_letter",
            "version": 1,
            "reason": letter.reason,
            "processor": letter.processor,
            "source": {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset},
            "original_base64": base64.b64encode(original).decode(),
            "original_text": _readable(original),
            "failed_at": letter.failed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        ensure_ascii=False,
    ).encode()
