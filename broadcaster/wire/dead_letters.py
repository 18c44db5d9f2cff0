"""The dead-letter record: the original bytes, where they came from, and why they failed.

A dead letter must always be writable, or the message it stands for is lost: so the
reason is capped (about 1 KB) and the original is kept once, up to
``MAX_ORIGINAL_BYTES``, with its full size and SHA-256 when it had to be cut. The whole
record stays far below a producer's 1 MB request limit whatever came in.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_REASON_CHARS = 1000
MAX_ORIGINAL_BYTES = 256 * 1024
DEAD_LETTER_VERSION = 2


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    processor: str
    topic: str
    partition: int
    offset: int
    original: bytes | None
    failed_at: datetime


def capped(reason: str, limit: int = MAX_REASON_CHARS) -> str:
    """``reason`` cut to ``limit`` characters, saying so."""
    if len(reason) <= limit:
        return reason
    return reason[: limit - 30] + f" … ({len(reason):,} characters)"


def encode_dead_letter(letter: DeadLetter) -> bytes:
    original = letter.original or b""
    kept = original[:MAX_ORIGINAL_BYTES]
    return json.dumps(
        {
            "type": "dead_letter",
            "version": DEAD_LETTER_VERSION,
            "reason": capped(letter.reason),
            "processor": letter.processor,
            "source": {"topic": letter.topic, "partition": letter.partition, "offset": letter.offset},
            "original_base64": base64.b64encode(kept).decode(),
            "original_size": len(original),
            "original_sha256": hashlib.sha256(original).hexdigest(),
            "original_truncated": len(kept) < len(original),
            "failed_at": letter.failed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
    ).encode()
