"""The `condbench` command. Each area owns its subcommands in its own module; this file
only lists them, and imports a module when its command is used (fast `--help`)."""

from __future__ import annotations

import importlib
import sys

import click

from harness import __version__
from harness.cli.output import clean, say
from harness.errors import CondbenchError

# command name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, str] = {
    "data": "harness.cli.data:data",
    "train": "harness.cli.train:train",
    "condense": "harness.cli.condense:condense",
    "llm": "harness.cli.llm:llm",
    "run": "harness.cli.run:run",
    "tune": "harness.cli.run:tune",
    "verify": "harness.cli.run:verify",
    "results": "harness.cli.run:results",
    "leaderboard": "harness.cli.leaderboard:leaderboard",
    "submit": "harness.cli.submit:submit",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        # lazy on purpose: `condbench --help` must not pay for torch, MLflow or pandas
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CondbenchError as exc:
            say(f"error: {exc}", err=True)  # escaped: a message may quote a hostile name
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # usage errors quote what was typed
            exc.message = clean(exc.message)
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="condbench")
def main() -> None:
    """condbench: the benchmark and leaderboard for dataset condensation in recommendation."""


if __name__ == "__main__":
    main()
