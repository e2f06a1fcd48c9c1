"""Command-line options and their parsing shared by several `condbench` commands.

Light on purpose: a command module imports it at its top, so `--help` stays fast.
"""

from __future__ import annotations

import click
import yaml

from harness.errors import ConfigError
from harness.paths import mirror_dir
from harness.seeds import SEED_LIMIT


def param_option(help_text: str):
    """``-p/--param KEY=VALUE`` (repeatable): one condenser parameter each (`parse_pairs`)."""
    return click.option(
        "-p", "--param", "params", multiple=True, metavar="KEY=VALUE", help=help_text
    )


def llm_client_options(command):
    """``--llm-timeout SECONDS`` and ``--llm-retries N``: the LLM client's deadline per HTTP
    attempt and transport retries (the config's ``llm_settings.timeout_s`` / ``max_retries``);
    None when not given."""
    command = click.option(
        "--llm-retries",
        type=click.IntRange(min=0),
        default=None,
        metavar="N",
        help="Transport retries of each LLM request (llm_settings.max_retries; default 3).",
    )(command)
    return click.option(
        "--llm-timeout",
        type=click.FloatRange(min=0.001),
        default=None,
        metavar="SECONDS",
        help="Total deadline of each LLM HTTP attempt (llm_settings.timeout_s; default 60).",
    )(command)


def llm_settings(timeout: float | None, retries: int | None, base=None):
    """The LLM client settings: `base` (default: the defaults) with the given options."""
    from condensers.llm import ClientSettings  # lazy: --help stays fast

    values = base.model_dump() if base is not None else {}
    given = {"timeout_s": timeout, "max_retries": retries}
    values.update({name: value for name, value in given.items() if value is not None})
    return ClientSettings(**values)


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict:
    """``("alpha=0.5", "m=2")`` -> {"alpha": 0.5, "m": 2}: each VALUE read as a YAML scalar."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option}: expected KEY=VALUE, got {pair!r}")
        try:
            values[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"{option} {key.strip()}: cannot read {value!r}") from None
    return values


# a seed on the command line: [0, 2^32), as in configs (`harness.seeds.SEED_LIMIT`)
SEED = click.IntRange(0, SEED_LIMIT - 1)


def existing_mirror(ctx: click.Context, param: click.Parameter, value):
    """The `--mirror` callback: a folder that does not exist is said so (one line), then left
    out, so the data comes from the cache or the network (`harness.paths.mirror_dir`)."""
    if value is None:
        return None
    return value if mirror_dir(value) is not None else None


# `--mirror` of the data commands: a folder that does not exist is said so, then left out
mirror_option = click.option(
    "--mirror",
    type=click.Path(file_okay=False),
    default=None,
    callback=existing_mirror,
    help="folder mirroring the sources, tried before the network (default: $CONDBENCH_MIRROR)",
)
