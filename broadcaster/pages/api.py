"""The JSON API and the Atom feed: what other tools read, in shapes they already know.

``/api/v1/incidents.json`` follows Atlassian Statuspage's ``/api/v2/incidents.json``
(https://developer.statuspage.io/ and any status page's ``/api/v2/incidents.json``): a
``page`` object and ``incidents`` with ``status``, ``impact``, ``shortlink`` and
``incident_updates`` newest first, so clients written for it read ours unchanged.
"""

from datetime import datetime
from typing import Any

from broadcaster.pages.render import iso
from broadcaster.services.public_incidents import PublicIncident

IMPACT = {"sev1": "critical", "sev2": "major", "sev3": "minor", "sev4": "none"}  # Statuspage's four impacts


def incidents_document(incidents: list[PublicIncident], base_url: str, product: str, now: datetime) -> dict[str, Any]:
    return {
        "page": {"id": "broadcaster", "name": product, "url": base_url,
                 "updated_at": iso(max((i.updated_at for i in incidents), default=now))},
        "incidents": [_incident(incident, base_url) for incident in incidents],
    }


def _incident(incident: PublicIncident, base_url: str) -> dict[str, Any]:
    monitoring = next((u.created_at for u in incident.updates if u.status == "monitoring"), None)
    return {
        "id": incident.id, "name": incident.title, "status": incident.status,
        "impact": IMPACT.get(incident.severity, "none"),
        "created_at": iso(incident.declared_at), "started_at": iso(incident.declared_at),
        "updated_at": iso(incident.updated_at),
        "monitoring_at": iso(monitoring) if monitoring else None,
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
        "shortlink": f"{base_url}/incidents/{incident.id}", "page_id": "broadcaster",
        "components": [{"name": incident.component}] if incident.component else [],
        "incident_updates": [
            {"id": str(update.id), "incident_id": incident.id, "status": update.status, "body": update.message,
             "created_at": iso(update.created_at), "updated_at": iso(update.created_at),
             "display_at": iso(update.created_at)}
            for update in reversed(incident.updates)
        ],
    }
