"""``python -m broadcaster`` is the ``broadcaster`` command."""

from broadcaster.cli.main import cli

cli()
