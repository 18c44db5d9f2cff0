"""How a command accepts a message: committed to the outbox first, published at once if the broker answers.

"Accepted" means committed to the database (services/outbox.py), whatever the broker is
doing: a broker that is down or restarting only delays the message, which the next
command or the worker's relay publishes when it is back. Only a database that cannot
take the message makes the command fail.
"""

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from broadcaster.bootstrap import Services
from broadcaster.embedded.runtime import resolve_bootstrap
from broadcaster.services.errors import CommandFailed
from broadcaster.services.relay import Relay
from broadcaster.storage.database import shown_url, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

PUBLISH_TIMEOUT_SECONDS = 3.0
"""How long a command waits for the broker at each step before leaving the message to the relay."""


def commit(services: Services, write: Callable[[Session], T]) -> T:
    """Run ``write`` (which adds messages to the outbox) and commit it, or fail the command."""
    try:
        with transaction(services.sessions) as session:
            return write(session)
    except SQLAlchemyError as error:
        raise CommandFailed(
            f"not accepted: cannot write to the database at {shown_url(services.settings.database_url)} "
            f"({getattr(error, 'orig', None) or type(error).__name__}); "
            "run `broadcaster up` or `broadcaster db upgrade` first"
        ) from None


def publish_now(services: Services, message_id: int, notify: Callable[[str], None]) -> bool:
    """Publish every message owed up to ``message_id``; False (after a one-line note) if the broker did not take it.

    Any failure here leaves a message that is already safe in the database, so none of
    them may turn the command into a failure.
    """
    try:
        bootstrap = resolve_bootstrap(services.settings)
        with Relay(services.settings, services.sessions, bootstrap, PUBLISH_TIMEOUT_SECONDS) as relay:
            relay.run(up_to=message_id)
    except Exception as error:  # the message is durable; what failed is only said
        log.info("publishing message %d failed", message_id, exc_info=True)
        notify(f"Accepted and stored; not published yet ({_brief(error)}): it will be published "
               "as soon as the broker is back.")
        return False
    return True


def _brief(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."  # ours are shorter, and cut they told half the fix
