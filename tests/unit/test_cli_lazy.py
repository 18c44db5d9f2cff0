"""The CLI loads only what a command uses: structural checks on what is imported, not timings (bench/cli.py times it)."""

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from broadcaster.cli.main import COMMANDS, LazyGroup, cli, load_command

HEAVY = ("sklearn", "scipy", "numpy", "faust", "mode", "aiokafka", "kafka", "sqlalchemy", "pydantic", "alembic",
         "jinja2", "jsonschema", "sendgrid")


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_imports_no_command_module_and_nothing_heavy() -> None:
    loaded = imported_after(
        "from click.testing import CliRunner\n"
        "from broadcaster.cli.main import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0 and 'incident' in result.output, result.output\n"
    )
    assert not packages(loaded) & set(HEAVY), sorted(packages(loaded) & set(HEAVY))
    assert {name for name in loaded if name.startswith("broadcaster")} == {"broadcaster", "broadcaster.cli",
                                                                          "broadcaster.cli.main"}


@pytest.mark.parametrize(("module", "not_loaded"), [
    # what an engineer types mid-incident: no matcher, no Faust, no Kafka client until it publishes
    ("broadcaster.cli.incident", ("sklearn", "scipy", "numpy", "faust", "aiokafka", "kafka", "alembic", "jinja2",
                                  "jsonschema", "sendgrid")),
    ("broadcaster.cli.status", ("sklearn", "scipy", "numpy", "faust", "aiokafka", "alembic", "jinja2", "jsonschema")),
    ("broadcaster.cli.lag", ("sklearn", "scipy", "numpy", "faust", "aiokafka", "alembic", "jinja2", "jsonschema")),
])
def test_commands_engineers_type_often_import_only_what_they_use(module: str, not_loaded: tuple[str, ...]) -> None:
    loaded = packages(imported_after(f"import {module}"))
    assert not loaded & set(not_loaded), sorted(loaded & set(not_loaded))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_names_each_command_with_its_own_first_sentence(name: str) -> None:
    target, listed = COMMANDS[name]
    command = load_command(target)
    assert command.name == name
    actual = command.get_short_help_str(limit=10_000)
    assert listed == actual, f"put this in COMMANDS[{name!r}] in broadcaster/cli/main.py: {actual!r}"


def test_lazy_help_is_the_help_an_eager_group_prints() -> None:
    shared = {"params": cli.params, "help": cli.help, "context_settings": cli.context_settings}
    fresh = LazyGroup(cli.name, lazy_commands=COMMANDS, **shared)  # nothing loaded yet, whatever ran before
    eager = click.Group(cli.name, commands={name: load_command(target) for name, (target, _) in COMMANDS.items()},
                        **shared)
    lazy = CliRunner().invoke(fresh, ["--help"], terminal_width=100)
    expected = CliRunner().invoke(eager, ["--help"], terminal_width=100)
    assert lazy.exit_code == expected.exit_code == 0
    assert lazy.output == expected.output


def test_a_command_runs_through_the_lazy_group() -> None:
    result = CliRunner().invoke(cli, ["incident", "--help"])
    assert result.exit_code == 0 and "declare" in result.output
    assert cli.get_command(click.Context(cli), "no-such-command") is None


@pytest.mark.parametrize("module", ["broadcaster.demo.story", "broadcaster.services.commands", "broadcaster.services.desk"])
def test_the_command_layer_and_the_demo_do_not_import_the_cli(module: str) -> None:
    """The CLI and the demo both call the engineers' commands in services; neither imports the other."""
    loaded = imported_after(f"import {module}")
    assert not {name for name in loaded if name.startswith("broadcaster.cli")}, module


@pytest.mark.parametrize(("args", "named"), [
    (["report", "submit", "--email", "a@example.com", "--name", "Jos\udce9", "--text", "hi"], "the value of --name"),
    (["report", "submit", "--name=Jos\udce9"], "--name"),
    (["incident", "show", "INC-\udce9"], "argument 3"),
])
def test_an_argument_that_is_not_utf8_is_refused_by_name_before_any_command_loads(args: list[str], named: str) -> None:
    """A terminal set to Latin-1 passes é as the byte 0xE9, which Python keeps as U+DCE9: the commands
    published or stored such text and failed halfway with a traceback."""
    loaded = imported_after(
        "from click.testing import CliRunner\n"
        "from broadcaster.cli.main import cli\n"
        f"result = CliRunner().invoke(cli, {args!r})\n"
        "assert result.exit_code == 2, (result.exit_code, result.output)\n"
        f"assert {named + ' is not UTF-8 text (byte 0xE9)'!r} in result.output, result.output\n"
    )
    assert "broadcaster.cli.report" not in loaded and "broadcaster.cli.incident" not in loaded
