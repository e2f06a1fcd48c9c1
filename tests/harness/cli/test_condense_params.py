"""`condbench condense --param KEY=VALUE`: any condenser parameter, read as a YAML scalar."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from factories import tiny_dataset

from harness.cli import main
from harness.cli.condense import make_condenser
from harness.dataset import Dataset
from harness.errors import ConfigError


def test_params_are_yaml_scalars_of_the_condenser():
    condenser = make_condenser("tfdcon", ("alpha=0.7", "m=3"))
    assert condenser.params.alpha == 0.7 and isinstance(condenser.params.alpha, float)
    assert condenser.params.m == 3 and isinstance(condenser.params.m, int)


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        (("nope=1",), ["--param nope", "'nope'", "alpha", "m"]),
        (("alpha",), ["--param: expected KEY=VALUE, got 'alpha'"]),
        (("alpha=-1",), ["alpha"]),
    ],
)
def test_bad_params_are_refused_by_name(pairs, words):
    with pytest.raises(ConfigError) as caught:
        make_condenser("tfdcon", pairs)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_param_reaches_the_written_set(tmp_path):
    folder = tiny_dataset().save(tmp_path / "tiny")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["condense", "--dataset", str(folder), "--method", "random", "--budget", "8",
         "--param", "text_tokens=2.5", "-p", "text=random", "--quiet", "-o", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["users"] == 8
    written = Dataset.load(out)
    assert written.meta["condenser"]["params"] == {"text_tokens": 2.5, "text": "random"}
    assert written.meta["text_tokens_target"] == 2.5


def test_unknown_param_exits_2_naming_it(tmp_path):
    folder = tiny_dataset().save(tmp_path / "tiny")
    result = CliRunner().invoke(
        main,
        ["condense", "--dataset", str(folder), "--method", "random", "--param", "nope=1",
         "-o", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "nope" in result.stderr and "text_tokens" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
