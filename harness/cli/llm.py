"""`condbench llm`: serve the local model, fetch it, and ask one title or interest list."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from condensers.llm import make_client
from condensers.llm.backends.local import LocalBackend
from condensers.llm.model_files import converted_model_dir, default_model_path, file_sha256
from condensers.llm.server import MAX_CONNECTIONS, READ_DEADLINE_S, check_host, make_server
from condensers.llm.spec import SPEC_HELP
from harness.cli.options import llm_settings
from harness.cli.output import emit_json, say
from harness.paths import cache_root


@click.group()
def llm() -> None:
    """The LLM layer: a local OpenAI-compatible endpoint and one-off requests."""


@llm.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8011, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A GGUF chat model (default: SmolLM2-135M-Instruct).",
)
@click.option(
    "--allow-remote", is_flag=True, help="Allow a non-loopback --host (no authentication!)."
)
@click.option(
    "--threads",
    type=click.IntRange(1),
    default=None,
    help="CPU threads for generation (default: half the cores).",
)
@click.option(
    "--read-deadline",
    type=click.FloatRange(0.01),
    default=READ_DEADLINE_S,
    show_default=True,
    help="Seconds a connection has to send each request; then it is cut off.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=MAX_CONNECTIONS,
    show_default=True,
    help="Connections served at once; one more is answered 503.",
)
@click.option(
    "--delay",
    type=click.FloatRange(0),
    default=0.0,
    hidden=True,
    help="Test only: hold each answer back this many seconds.",
)
def serve(
    host: str,
    port: int,
    model_path: Path | None,
    allow_remote: bool,
    threads: int | None,
    read_deadline: float,
    max_connections: int,
    delay: float,
) -> None:
    """Serve the local model as an OpenAI-compatible endpoint (/v1/chat/completions)."""
    check_host(host, allow_remote=allow_remote)
    backend = LocalBackend(model_path or default_model_path(), threads=threads)
    server = make_server(
        backend,
        host=host,
        port=port,
        allow_remote=allow_remote,
        delay_s=delay,
        read_deadline_s=read_deadline,
        max_connections=max_connections,
    )
    started = time.perf_counter()
    backend.load()  # before listening, so the first request does not wait for the load
    say(
        f"llm serve: model {backend.model} loaded in {time.perf_counter() - started:.1f} s",
        err=True,
    )
    say(
        f"llm serve: listening on {server.base_url} (model name {backend.model!r})", err=True
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@llm.command("fetch-model")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def fetch_model(as_json: bool) -> None:
    """Put the default local model (SmolLM2-135M-Instruct GGUF) in the cache."""
    path = default_model_path()
    converted = converted_model_dir(path)
    report = {"gguf": str(path), "sha256": file_sha256(path), "converted": str(converted)}
    if as_json:
        emit_json(report)
    else:
        say("\n".join(f"{k}: {v}" for k, v in report.items()))


_llm_option = click.option(
    "--llm", "spec", default="local", show_default=True, help=f"One of: {SPEC_HELP}."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _client_options(command):
    command = click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=None,
        help="Transport retries of the request (default 3).",
    )(command)
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0.001),
        default=None,
        metavar="SECONDS",
        help="Total deadline of each HTTP attempt (default 60).",
    )(command)


@llm.command()
@_llm_option
@_json_option
@_client_options
@click.option(
    "-f",
    "--field",
    "fields",
    multiple=True,
    required=True,
    metavar="NAME=TEXT",
    help="An item field, e.g. -f title='toy story' -f year=1995.",
)
def title(
    spec: str,
    as_json: bool,
    timeout: float | None,
    retries: int | None,
    fields: tuple[str, ...],
) -> None:
    """Ask for one condensed title of an item."""
    item_fields = {}
    for entry in fields:
        name, equals, text = entry.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(f"{entry!r} is not NAME=TEXT", param_hint="--field")
        item_fields[name.strip()] = text
    settings = llm_settings(timeout, retries)
    _ask(spec, as_json, settings, lambda client: client.title("cli/item", item_fields))


@llm.command()
@_llm_option
@_json_option
@_client_options
@click.argument("titles", nargs=-1, required=True)
def interests(
    spec: str, as_json: bool, timeout: float | None, retries: int | None, titles: tuple[str, ...]
) -> None:
    """Ask for the interests behind a history of TITLES."""
    settings = llm_settings(timeout, retries)
    _ask(spec, as_json, settings, lambda client: client.interests("cli/user", list(titles)))


def _ask(spec: str, as_json: bool, settings, request) -> None:
    started = time.perf_counter()
    with make_client(spec, cache_dir=cache_root() / "llm", settings=settings) as client:
        answer = request(client)
        report = {
            "answer": answer,
            "seconds": round(time.perf_counter() - started, 3),
            "llm": client.describe(),
            "stats": client.stats(),
        }
    if as_json:
        emit_json(report)
    else:
        say(answer if isinstance(answer, str) else "\n".join(answer))
        say(f"{report['seconds']} s, {report['stats']}", err=True)
