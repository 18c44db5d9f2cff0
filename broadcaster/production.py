"""The unsubscribe settings as the system uses them, and the refusal to send real email with unsafe ones.

Every email carries an unsubscribe link. With SendGrid configured its recipients are real,
so a link signed with the development secret (it is in this repository) or a short one
lets anyone unsubscribe anyone, and a link to this machine or over plain http does not
work or exposes the token. The worker and ``broadcaster up`` call :func:`refuse_unsafe`
before they connect to anything; the outbox backend (development) needs none of this.
"""

from ipaddress import ip_address
from urllib.parse import urlsplit

from broadcaster.config import Settings

MIN_SECRET_BYTES = 32
DEVELOPMENT_SECRET: str = Settings.model_fields["unsubscribe_secret"].default
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # listen everywhere: reached on loopback
_SET_A_SECRET = "set a random value of at least 32 bytes (e.g. `openssl rand -hex 32`), the same on every worker"


class UnsafeSettings(RuntimeError):
    pass


def signing_secret(settings: Settings) -> str:
    """The secret new links are signed with (an empty variable counts as unset)."""
    return settings.unsubscribe_secret or DEVELOPMENT_SECRET


def verifying_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret a link may have been signed with: the current one, then the previous ones."""
    return (signing_secret(settings), *settings.unsubscribe_previous_secrets)


def public_url(settings: Settings) -> str:
    """BROADCASTER_PUBLIC_URL, else where this worker's HTTP port really listens (embedded runs)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = _WILDCARD_HOSTS.get(settings.worker_web_host, settings.worker_web_host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.worker_web_port}"


def pages_url(settings: Settings) -> str:
    """BROADCASTER_PUBLIC_URL, else where `broadcaster serve` listens: the incident pages and the manage page."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = _WILDCARD_HOSTS.get(settings.intake_host, settings.intake_host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.intake_port}"


def problems(settings: Settings) -> list[str]:
    """What makes these settings unsafe for sending real email (nothing without SendGrid), or unusable."""
    found = _webhook_key_problems(settings.sendgrid_webhook_public_key)
    if settings.sendgrid_api_key:
        found += [*_secret_problems(settings), *_url_problems(settings.public_url)]
    return found


def refuse_unsafe(settings: Settings) -> None:
    """UnsafeSettings listing every problem at once, so one restart fixes them all."""
    found = problems(settings)
    if found:
        lines = "\n".join(f"  - {problem}" for problem in found)
        configured = "SendGrid is configured (BROADCASTER_SENDGRID_API_KEY) but " if settings.sendgrid_api_key else ""
        raise UnsafeSettings(f"refusing to start: {configured}these settings are not safe for real email:\n{lines}")


def _webhook_key_problems(key: str | None) -> list[str]:
    """A verification key that cannot be read would refuse every Event Webhook call: say so at start."""
    if key is None:
        return []
    from broadcaster.mail.event_webhook import InvalidWebhookKey, load_verification_key  # cryptography: only here

    try:
        load_verification_key(key)
    except InvalidWebhookKey as error:
        return [f"BROADCASTER_SENDGRID_WEBHOOK_PUBLIC_KEY is {error}"]
    return []


def _weak(secret: str) -> bool:
    return secret == DEVELOPMENT_SECRET or len(secret.encode()) < MIN_SECRET_BYTES


def _secret_problems(settings: Settings) -> list[str]:
    found = []
    if settings.unsubscribe_secret == DEVELOPMENT_SECRET:
        found.append("BROADCASTER_UNSUBSCRIBE_SECRET is the development default, which anyone can read "
                     f"and forge unsubscribe links with: {_SET_A_SECRET}")
    elif _weak(settings.unsubscribe_secret):
        found.append(f"BROADCASTER_UNSUBSCRIBE_SECRET is shorter than {MIN_SECRET_BYTES} bytes: {_SET_A_SECRET}")
    if any(_weak(secret) for secret in settings.unsubscribe_previous_secrets):
        found.append("BROADCASTER_UNSUBSCRIBE_PREVIOUS_SECRETS holds the development default or a secret shorter "
                     f"than {MIN_SECRET_BYTES} bytes: remove it (links it would accept can be forged)")
    return found


def _url_problems(url: str | None) -> list[str]:
    if not url:
        return ["BROADCASTER_PUBLIC_URL is not set: set the https:// address where recipients reach "
                "the workers' /unsubscribe (e.g. https://status.example.com)"]
    try:
        parts = urlsplit(url)
    except ValueError:
        return [f"BROADCASTER_PUBLIC_URL is not a URL ({url!r})"]
    found = []
    if parts.scheme != "https":
        found.append(f"BROADCASTER_PUBLIC_URL must start with https:// (it is {url!r}): "
                     "unsubscribe links must not travel in clear")
    if _local(parts.hostname):
        found.append(f"BROADCASTER_PUBLIC_URL points at this machine or at no host ({url!r}): "
                     "recipients could not open its unsubscribe links")
    return found


def _local(host: str | None) -> bool:
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
