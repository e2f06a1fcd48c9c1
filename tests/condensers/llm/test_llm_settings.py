"""The LLM client's settings from a config (`llm_settings`, typed, errors name the key path)
and from the command line (`--llm-timeout`/`--llm-retries`, `llm title --timeout/--retries`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from factories import tiny_config, write_config

from condensers.llm import ClientSettings, LLMSpecError
from harness.cli import main
from harness.cli.options import llm_settings
from harness.errors import ConfigError
from harness.run.config import load_config, parse_config


def test_config_llm_settings_are_typed(tiny_folder):
    data = tiny_config(tiny_folder, llm_settings={"timeout_s": 2.5, "max_retries": 0})
    config = parse_config(data)
    assert (config.llm_settings.timeout_s, config.llm_settings.max_retries) == (2.5, 0)
    assert config.llm_settings.parse_retries == 1  # the rest keep their defaults
    assert parse_config(tiny_config(tiny_folder)).llm_settings == ClientSettings()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"timeout_s": 0}, "llm_settings.timeout_s: must be a number >= 0.001, got 0"),
        ({"max_retries": "three"}, "llm_settings.max_retries: must be an integer"),
        ({"retries": 2}, "llm_settings.retries: unknown key"),
        ("fast", "llm_settings: must be a mapping"),
    ],
)
def test_a_bad_llm_setting_names_its_key_path(tiny_folder, tmp_path, settings, expected):
    path = write_config(tmp_path / "bad.yaml", tiny_config(tiny_folder, llm_settings=settings))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: {expected}"


def test_command_line_options_override_the_config_settings():
    base = ClientSettings(timeout_s=30.0, max_retries=5, concurrency=2)
    assert llm_settings(None, None, base) == base
    changed = llm_settings(1.5, 0, base)
    assert (changed.timeout_s, changed.max_retries, changed.concurrency) == (1.5, 0, 2)
    assert llm_settings(2.0, None) == ClientSettings(timeout_s=2.0)
    with pytest.raises(LLMSpecError, match="llm setting 'max_retries' must be an integer >= 0"):
        llm_settings(None, -1)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [("run", "--llm-timeout", "0"), ("run", "--llm-retries", "-1"),
     ("condense", "--llm-timeout", "0"), ("llm", "--timeout", "0")],
)  # fmt: skip
def test_bad_option_values_are_usage_errors(command, option, value):
    args = {
        "run": ["run", "configs/movielens.yaml", option, value],
        "condense": ["condense", "--dataset", "x", "--method", "tfdcon", "-o", "o", option, value],
        "llm": ["llm", "title", "-f", "title=heat", option, value],
    }[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and option in result.output


def test_the_docs_state_the_llm_layers_numbers():
    """docs/architecture.md's LLM section keeps the code's numbers."""
    from pathlib import Path

    from condensers.llm import answers, server
    from condensers.llm.backends import openai

    text = (Path(__file__).resolve().parents[3] / "docs" / "architecture.md").read_text()
    section = text[text.index("## The LLM layer") : text.index("## Records and reproducibility")]
    defaults = ClientSettings()
    stated = [
        f"over {answers.MAX_ANSWER_CHARS:,} characters",
        f"over {answers.MAX_TITLE_WORDS} words or {answers.MAX_TITLE_CHARS} characters",
        f"`parse_retries` times (default {defaults.parse_retries})",
        f"`timeout_s`\n  (default {defaults.timeout_s:g} s)",
        f"`max_retries` times (default {defaults.max_retries}; backoff {defaults.backoff_s:g} s",
        f"over {openai.MAX_RESPONSE_BYTES >> 20} MiB,",
        f"`unavailable_after` (default {defaults.unavailable_after})",
        f"A body over {server.MAX_BODY_BYTES >> 20} MiB is answered 413",
        f"deeper\n  than {server.MAX_JSON_DEPTH} levels",
        f"`--read-deadline` (default {server.READ_DEADLINE_S:g} s",
        f"`--max-connections` (default {server.MAX_CONNECTIONS})",
    ]
    assert [claim for claim in stated if claim not in section] == []
