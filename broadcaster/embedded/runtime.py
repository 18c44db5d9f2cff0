"""Where a running ``broadcaster up`` left its broker address, so other commands can find it."""

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
    database_url: str
    outbox: str


def runtime_file(settings: Settings) -> Path:
    return settings.state_dir / "runtime.json"


def write_runtime(settings: Settings, runtime: Runtime) -> None:
    path = runtime_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(runtime), indent=2))


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
    path = runtime_file(settings)
    if not path.is_file():
        return None
    runtime = Runtime(**json.loads(path.read_text()))
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
