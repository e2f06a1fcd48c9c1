"""The command floor: `condbench` and its subcommands (one module each), the container runner.

Nothing below this floor imports it (import-linter contract in `.importlinter`)."""

from harness.cli.main import main

__all__ = ["main"]
