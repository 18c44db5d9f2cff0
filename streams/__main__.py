"""``python -m streams worker``: a Faust worker running every processor, configured from the environment.

``broadcaster up`` starts this as a child process; in production, run as many as
there are partitions (see deploy/).
"""

import sys

from faust.cli.worker import worker as worker_command

from broadcaster.bootstrap import bootstrap
from broadcaster.config import BadSettings, load_settings
from broadcaster.embedded.runtime import resolve_bootstrap
from broadcaster.kafka.topics import ensure_topics
from broadcaster.production import UnsafeSettings, refuse_unsafe
from streams.app import create_app


def main() -> None:
    try:
        settings = load_settings()
        refuse_unsafe(settings)
    except (BadSettings, UnsafeSettings) as error:
        sys.exit(str(error))  # the reasons and status 1, no traceback
    # Faust's worker command hands stdout and stderr to its logger, one record per write: a traceback
    # printed by a dying thread became a WARNING line per word. Left alone they reach the log file whole.
    worker_command.redirect_stdouts = False
    kafka = resolve_bootstrap(settings)
    ensure_topics(settings, kafka)
    create_app(bootstrap(settings), kafka).main()


if __name__ == "__main__":
    main()
