"""An email addressed to one person: what every mail backend sends."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SharedContent:
    """An update's email with tags for what differs per person: sent once for many recipients."""

    key: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class OutgoingEmail:
    delivery_id: int
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    shared: SharedContent | None = None
    substitutions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    delivery_id: int
    accepted: bool
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # seconds the provider asked us to wait (429 rate-limit headers)
