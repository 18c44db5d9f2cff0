"""Settings, read from the environment (prefix ``BROADCASTER_``) and nowhere else.

Every outside service has an embedded default, and setting one variable switches that
part to the real service: ``KAFKA_BOOTSTRAP`` (else the embedded broker that
``broadcaster up`` starts), ``DATABASE_URL`` (else a SQLite file here) and
``SENDGRID_API_KEY`` (else an outbox folder of .eml files).
"""

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broadcaster.domain import input_rules as rules
from broadcaster.domain.durations import parse_duration
from broadcaster.domain.quiet_hours import QuietHours
from broadcaster.services.errors import CommandFailed

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
SEVERITIES: tuple[str, ...] = ("sev1", "sev2", "sev3", "sev4")
EMBEDDED_FETCH_MAX_WAIT = 0.05  # seconds; see streams/transport.py


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BROADCASTER_", extra="ignore")

    # Kafka
    kafka_bootstrap: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = (
        "PLAINTEXT"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None
    kafka_idempotence: bool | None = None
    kafka_fetch_max_wait: float | None = None  # seconds; see streams/transport.py
    topic_prefix: str = "broadcaster."
    topic_partitions: int = 4
    topic_replication_factor: int = 1
    app_id: str = "broadcaster"
    broker_session_timeout: float = 10.0

    # Storage
    database_url: str = "sqlite:///broadcaster.db"

    # Email
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None  # the Event Webhook's verification key (base64 DER or PEM)
    # How old a signed webhook post may be: SendGrid retries for 24 hours with the first try's timestamp.
    sendgrid_webhook_max_age: timedelta = timedelta(hours=25)
    mail_from: str = "support@example.com"
    mail_from_name: str = "Example Support"
    product_name: str = "Example"
    outbox_dir: Path = Path("outbox")
    # Unsubscribe links: with SendGrid on, the worker refuses to start (broadcaster/production.py) unless
    # the secret is long and random (every worker the same) and the public URL is https and not this machine.
    unsubscribe_secret: str = "embedded-only-change-me"
    unsubscribe_previous_secrets: list[str] = []  # a JSON list: links they signed still work (rotation)
    public_url: str | None = None  # where /unsubscribe is reachable; None: where this worker listens

    # Behaviour
    link_backlog_window: timedelta = timedelta(hours=72)
    # Probabilities that a report is about an incident (docs/LINKING.md): link at 0.70 when 0.30
    # ahead of the next incident (chosen for precision 0.95 on the training corpora), suggest at 0.15.
    link_threshold: float = 0.70
    suggest_threshold: float = 0.15
    link_margin: float = 0.30
    early_warning_count: int = 3
    early_warning_window: timedelta = timedelta(hours=2)
    resolved_reply_window: timedelta = timedelta(days=7)
    next_update_sev1: timedelta = timedelta(hours=1)
    next_update_sev2: timedelta = timedelta(hours=2)
    next_update_sev3: timedelta = timedelta(hours=4)
    next_update_sev4: timedelta = timedelta(hours=24)
    reminder_lead: timedelta = timedelta(minutes=15)
    holding_grace: timedelta = timedelta(minutes=15)
    cadence_check_interval: float = 30.0
    # Triage (docs/OPERATING.md, "Nobody waits unseen"): a suggested or unlinked report is promised a person's
    # look within this; its owner is reminded before and once it is overdue (unset: nobody is reminded).
    triage_within: timedelta = timedelta(hours=2)
    triage_owner: str | None = None
    # A short receipt to each such reporter, saying when they will hear back. None: on, unless a support-desk
    # webhook is configured (that desk sends its own auto-reply, and two would be noise).
    triage_receipts: bool | None = None
    clock_file: Path | None = None
    delivery_lease: timedelta = timedelta(minutes=2)
    delivery_max_attempts: int = 5
    delivery_backoff: timedelta = timedelta(seconds=5)  # the first wait after a failure; doubles each time
    delivery_backoff_cap: timedelta = timedelta(minutes=10)
    # SendGrid refusing the account (401/403): stop calling it this long, doubling up to the cap.
    mail_account_pause: timedelta = timedelta(minutes=5)
    mail_account_pause_cap: timedelta = timedelta(hours=1)
    # Mail-API requests (each up to 1,000 recipients) a worker keeps in flight: hides the API's round trip.
    mail_concurrency: int = Field(default=8, ge=1, le=32)
    # The most subscribers in a fan-out page: one job, sent by one worker in requests of up to 1,000 recipients
    # (services/fanout.py spread_size: smaller pages for a smaller fan-out, so every worker gets some).
    fan_out_page_size: int = Field(default=5000, ge=1, le=20_000)
    sweep_interval: float = 15.0
    # The outbox (services/outbox.py): how often the leader publishes what entrances could not, and how long
    # published messages are kept to publish again should the (memory-only) broker restart.
    outbox_relay_interval: float = 1.0
    outbox_retention: timedelta = timedelta(hours=24)
    # The emails' voice (docs/OPERATING.md "Who signs, and in whose time"): the people who sign an
    # incident's emails when its declaration names nobody (a JSON list; one is chosen per incident, always
    # the same one), where and how readers who did not say read times, and the promises the emails make.
    communicators: list[str] = []
    second_owner: str | None = None  # reminded too once holding updates keep coming (the owner's manager)
    default_time_zone: str = "UTC"
    default_locale: str = "en_GB"
    promise_minimum: timedelta = timedelta(minutes=30)  # an email never promises news sooner than this
    holding_escalate_after: int = Field(default=2, ge=1)  # holding updates in a row before "taking longer"
    quiet_hours: str | None = None  # e.g. 22:00-07:00: no holding update while it is night for the reader

    # Processes
    state_dir: Path = Field(default=Path(".broadcaster"))
    embedded_broker_port: int | None = None  # None: a free port, kept while `broadcaster up` runs
    worker_web_port: int = 6066
    worker_web_host: str = "127.0.0.1"
    # The intake API (`broadcaster serve`): where it listens, and each API key's rate (a token bucket per process).
    intake_host: str = "127.0.0.1"
    intake_port: int = 6080
    intake_rate_per_key: float = 50.0  # requests a second
    intake_burst_per_key: int = 100
    # Support-desk webhooks on the intake API (broadcaster/intake/desks.py); unset: that endpoint answers 503.
    zendesk_webhook_secret: str | None = None
    # How far a Zendesk signature's timestamp may be from now: Zendesk retries within about a minute
    # (409, or 429/503 with a short Retry-After), so 5 minutes passes its retries and bounds replays.
    zendesk_webhook_window: timedelta = timedelta(minutes=5)
    intercom_client_secret: str | None = None
    # Email to support (SendGrid Inbound Parse, broadcaster/intake/inbound.py): the password SendGrid sends as
    # HTTP Basic auth (unset: the endpoint answers 503), and the largest post read (SendGrid's own limit is 30 MB).
    inbound_parse_secret: str | None = None
    inbound_parse_max_bytes: int = 30 * 1024 * 1024
    # The support mailbox replies go to (Reply-To: local+token@domain, plus-addressing); unset: mail_from.
    support_email: str | None = None

    @field_validator(
        "link_backlog_window",
        "early_warning_window",
        "resolved_reply_window",
        "next_update_sev1",
        "next_update_sev2",
        "next_update_sev3",
        "next_update_sev4",
        "delivery_lease",
        "delivery_backoff",
        "delivery_backoff_cap",
        "mail_account_pause",
        "mail_account_pause_cap",
        "sendgrid_webhook_max_age",
        "reminder_lead",
        "holding_grace",
        "triage_within",
        "outbox_retention",
        "zendesk_webhook_window",
        "promise_minimum",
        mode="before",
    )
    @classmethod
    def _human_duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("communicators")
    @classmethod
    def _people(cls, names: list[str]) -> list[str]:
        return [rules.name(name, "BROADCASTER_COMMUNICATORS") for name in names]

    @field_validator("mail_from_name", "product_name")
    @classmethod
    def _one_line(cls, value: str, info: ValidationInfo) -> str:
        """Names every email carries in a header or a greeting: a line break or a control character in
        one would make every email unsendable, so it is refused here, at start."""
        return rules.name(value, _variable(info))

    @field_validator("mail_from", "support_email", "second_owner", "triage_owner", mode="before")
    @classmethod
    def _address(cls, value: object, info: ValidationInfo) -> object:
        """An address the mail provider would refuse is refused here, at start, not at the first email.

        Checked only when set (pydantic leaves defaults alone): the check loads email-validator.
        """
        return rules.email(value, _variable(info)) if value not in (None, "") else None

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return rules.time_zone(value, "BROADCASTER_DEFAULT_TIME_ZONE") or "UTC"

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return rules.locale(value, "BROADCASTER_DEFAULT_LOCALE") or "en_GB"

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value:
            QuietHours.parse(value)
        return value or None

    @property
    def quiet(self) -> QuietHours | None:
        return QuietHours.parse(self.quiet_hours) if self.quiet_hours else None
    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def producer_idempotence(self) -> bool:
        """On for a real cluster; off for the embedded broker, which cannot do it."""
        if self.kafka_idempotence is not None:
            return self.kafka_idempotence
        return not self.embedded_broker

    @property
    def fetch_max_wait(self) -> float:
        """How long a consumer fetch may wait for data: Faust's 1.5 s on a cluster, 0.05 s embedded.

        The embedded broker holds an empty fetch for the whole wait even when data arrives
        (see streams/transport.py), so there a short wait is the difference between
        acknowledging a report in tens of milliseconds and in over a second.
        """
        if self.kafka_fetch_max_wait is not None:
            return self.kafka_fetch_max_wait
        return 1.5 if not self.embedded_broker else EMBEDDED_FETCH_MAX_WAIT

    @property
    def sends_triage_receipts(self) -> bool:
        """On unless turned off, or left unset where a support desk (Zendesk, Intercom) already auto-replies."""
        if self.triage_receipts is not None:
            return self.triage_receipts
        return not (self.zendesk_webhook_secret or self.intercom_client_secret)

    def default_cadence(self, severity: str) -> timedelta:
        return getattr(self, f"next_update_{severity}")


class BadSettings(CommandFailed):
    """The environment holds a setting we cannot use: each wrong variable and why, a line each, never its value.

    A :class:`CommandFailed`, so a command prints it and exits 1; the worker does the same at start.
    """


def load_settings() -> Settings:
    """The settings from the environment; :class:`BadSettings` if any is wrong (instead of pydantic's report,
    which quotes the values, secrets included)."""
    try:
        return Settings()
    except ValidationError as error:
        problems = [_problem(e["loc"], e["msg"]) for e in error.errors()]
        heading = "a setting cannot be used" if len(problems) == 1 else f"{len(problems)} settings cannot be used"
        raise BadSettings("\n".join([f"{heading}:", *problems])) from None


def _problem(location: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    variable = f"BROADCASTER_{str(location[0]).upper()}" if location else "a setting"
    return message if message.startswith(variable) else f"{variable}: {message}"


def _variable(info: ValidationInfo) -> str:
    return f"BROADCASTER_{str(info.field_name).upper()}"
