"""`condbench llm title|interests --json` against a scripted loopback endpoint."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from condensers.llm.cache import CACHE_FILE, ResponseCache
from harness.cli import main
from harness.errors import CondbenchError


def test_llm_title_prints_one_json_object_and_uses_the_cache(scripted_endpoint, cache):
    endpoint = scripted_endpoint([(200, "[new_title]{Heat is a heist thriller.}", 0.0)])
    args = [
        "llm",
        "title",
        "--llm",
        f"openai:m@{endpoint.base_url}",
        "-f",
        "title=heat",
        "-f",
        "year=1995",
        "--json",
    ]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["answer"] == "Heat is a heist thriller."
    assert report["stats"]["calls"] == 1 and report["llm"]["backend"] == "openai"
    again = json.loads(CliRunner().invoke(main, args).stdout)
    assert again["answer"] == report["answer"] and again["stats"]["calls"] == 0
    assert len(endpoint.requests) == 1
    assert (cache / "llm" / "cache.sqlite").is_file()


def test_llm_interests_and_bad_input(scripted_endpoint, cache):
    endpoint = scripted_endpoint([(200, "[interests] -crime, -heists", 0.0)])
    result = CliRunner().invoke(
        main, ["llm", "interests", "--llm", f"openai:m@{endpoint.base_url}", "heat", "ronin"]
    )
    assert result.exit_code == 0 and result.stdout.split() == ["crime", "heists"]
    bad_field = CliRunner().invoke(main, ["llm", "title", "--llm", "local", "-f", "no-equals-sign"])
    assert bad_field.exit_code == 2 and "NAME=TEXT" in bad_field.output
    bad_spec = CliRunner().invoke(main, ["llm", "title", "--llm", "gpt4", "-f", "title=x"])
    assert bad_spec.exit_code == 2 and "is not one of" in bad_spec.output


def test_a_corrupt_cache_file_is_a_clear_error(tmp_path):
    (tmp_path / CACHE_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CondbenchError, match="not a usable LLM cache"):
        ResponseCache(tmp_path)
