"""The one place where settings become concrete adapters. Entry points call this; nothing else does."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from broadcaster.config import Settings
from broadcaster.mail import Mailer
from broadcaster.mail.outbox import OutboxMailer
from broadcaster.messages.sender import Sender
from broadcaster.production import pages_url, public_url, signing_secret
from broadcaster.storage.database import make_engine, make_session_factory

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def file_clock(path: Path) -> Clock:
    """A clock that reads the time from a file, so tests and demos can move it (never in production)."""

    def now() -> datetime:
        try:
            return datetime.fromisoformat(path.read_text().strip()).astimezone(UTC)
        except (OSError, ValueError):
            return utc_now()

    return now


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    mailer: Mailer
    sender: Sender
    clock: Clock = utc_now


def make_mailer(settings: Settings) -> Mailer:
    """SendGrid when a key is set; otherwise the outbox folder."""
    if settings.sendgrid_api_key:
        from broadcaster.mail.sendgrid_api import SendGridMailer  # the SendGrid client only where it is used

        return SendGridMailer(
            settings.sendgrid_api_key,
            settings.sendgrid_api_host,
            settings.mail_from,
            settings.mail_from_name,
            account_pause=settings.mail_account_pause,
            account_pause_cap=settings.mail_account_pause_cap,
        )
    return OutboxMailer(settings.outbox_dir, settings.mail_from, settings.mail_from_name)


def make_sender(settings: Settings) -> Sender:
    return Sender(settings.product_name, settings.mail_from_name, signing_secret(settings), public_url(settings),
                  pages_url(settings), support_email=settings.support_email or settings.mail_from,
                  communicators=tuple(settings.communicators), default_time_zone=settings.default_time_zone,
                  default_locale=settings.default_locale, promise_minimum=settings.promise_minimum,
                  escalate_after=settings.holding_escalate_after)


def bootstrap(settings: Settings, clock: Clock | None = None) -> Services:
    engine = make_engine(settings.database_url)
    clock = clock or (file_clock(settings.clock_file) if settings.clock_file else utc_now)
    return Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        mailer=make_mailer(settings),
        sender=make_sender(settings),
        clock=clock,
    )
