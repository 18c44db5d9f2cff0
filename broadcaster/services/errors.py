"""What an engineer's command can fail with, said in words a person acts on (the CLI prints it, exit 1)."""


class CommandFailed(Exception):
    pass
