"""Where a running ``broadcaster up`` left its addresses, so other commands can find it.

The file is readable by its owner only and holds no secret: the database URL is
written without its password.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from broadcaster.config import Settings


class NoBrokerConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class Runtime:
    kafka_bootstrap: str
    supervisor_pid: int
    worker_web: str
    database: str  # without password
    outbox: str


def runtime_file(settings: Settings) -> Path:
    return settings.state_dir / "runtime.json"


def write_runtime(settings: Settings, runtime: Runtime) -> None:
    path = runtime_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file left by an older version keeps its mode through O_TRUNC
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(runtime), file, indent=2)


def clear_runtime(settings: Settings) -> None:
    runtime_file(settings).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_system(settings: Settings) -> Runtime | None:
    """The ``broadcaster up`` running from this folder, if any."""
    try:
        runtime = Runtime(**json.loads(runtime_file(settings).read_text()))
    except (OSError, ValueError, TypeError):  # none, half-written, or left by another version
        return None
    return runtime if _alive(runtime.supervisor_pid) else None


def resolve_bootstrap(settings: Settings) -> str:
    """The configured Kafka cluster, else the embedded broker of a running ``broadcaster up``."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    runtime = running_system(settings)
    if runtime is None:
        raise NoBrokerConfigured(
            "no Kafka broker: start the system with `broadcaster up` in this folder, "
            "or set BROADCASTER_KAFKA_BOOTSTRAP to your cluster"
        )
    return runtime.kafka_bootstrap
