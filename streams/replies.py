"""Timer (leader only): tell an incident's owner when people told it is fixed say it still fails.

The replies are stored by the intake API (services/replies.py); this pass marks the
regressions it finds as told in one transaction, then sends one note per incident, so
however many replies arrived since the last pass, an owner gets one email about them.
"""

import asyncio
import logging

from broadcaster.messages.compose import compose_owner_regression
from broadcaster.services.replies import Regression, regressions_to_tell, reopen_command
from broadcaster.storage.database import transaction
from streams.context import ProcessorContext

log = logging.getLogger(__name__)


def register(ctx: ProcessorContext) -> None:
    services = ctx.services

    async def tell(regression: Regression) -> None:
        log.warning("%d subscriber(s) say %s still fails; owner %s; reopen with: %s", regression.subscribers,
                    regression.incident_id, regression.owner_email or "not set", reopen_command(regression.incident_id))
        if regression.owner_email:
            email = compose_owner_regression(regression.incident_id, regression.title, regression.owner_email,
                                             regression.subscribers, regression.excerpts, services.sender)
            await asyncio.to_thread(services.mailer.send, [email])

    @ctx.app.timer(services.settings.cadence_check_interval, on_leader=True)
    async def tell_owners_of_regressions() -> None:
        with transaction(services.sessions) as session:
            regressions = regressions_to_tell(session, services.clock())
        for regression in regressions:
            await tell(regression)
