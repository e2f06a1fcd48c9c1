"""Configs: the shipped ones load; a wrong key or type fails before any work, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_runner import invoke_condbench
from factories import tiny_config, write_config

from harness.errors import ConfigError
from harness.run.config import load_config, parse_config
from harness.run.runner import expand_cells

REPO = Path(__file__).resolve().parents[3]


def test_movielens_config_is_the_papers_grid():
    config = load_config(REPO / "configs" / "movielens.yaml")
    assert config.grid.datasets == ["movielens-tfdcon"]
    assert [c.method for c in config.grid.condensers] == [
        "original",
        "random",
        "majority",
        "tfdcon",
        "release-tfdcon",
    ]
    assert [c.budgets for c in config.grid.condensers] == [["all"], ["47"], ["47"], ["47"], ["47"]]
    assert config.condenser("tfdcon").llm == "replay"
    assert config.grid.recommenders == ["naml", "nrms", "fastformer"]
    assert config.grid.seeds == [0, 1, 2, 3, 4]
    assert len(expand_cells(config)) == 5 * 3 * 5


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["grid"]["condensers"][1]["params"].update(text_tokens="many"),
         "grid.condensers[1].params.text_tokens: must be a number"),
        (lambda c: c.update(colour="blue"), "colour: unknown key"),
        (lambda c: c["grid"]["condensers"][0].update(budget=3), "grid.condensers[0].budget: unknown key"),
        (lambda c: c["grid"]["condensers"][1].update(budgets=["lots"]), "grid.condensers[1].budgets"),
        (lambda c: c["grid"].update(seeds="4-0"), "grid.seeds: range '4-0' is empty"),
        (lambda c: c["grid"].update(seeds=["zero"]), "grid.seeds[0]: must be an integer"),
        (lambda c: c["training"].update(max_epochs="ten"), "training.max_epochs: must be an integer"),
        (lambda c: c["training"].update(epochs=3), "training.epochs: unknown key"),
        (lambda c: (c["grid"]["condensers"][1].update(name="nonesuch"), c.pop("tuning")),
         "grid.condensers[1].name: unknown condenser 'nonesuch'"),
        (lambda c: c["grid"].update(recommenders=["naml", "bert4rec"]), "grid.recommenders[1]: unknown recommender"),
        (lambda c: c["grid"].update(datasets=["no-such-data"]), "grid.datasets[0]: unknown dataset"),
        (lambda c: c.update(metrics=["NDCG@5", "nDCG"]), "metrics: metric 'nDCG' needs a cutoff"),
        (lambda c: c["tuning"].update(condenser="tfdcon"), "tuning.condenser 'tfdcon' is none of the grid"),
        (lambda c: c["tuning"]["space"].update(alpha={"low": 2, "high": 1}), "tuning.space.alpha: high (1.0) is below low"),
        (lambda c: c["tuning"]["space"].update(alpha={"low": 0, "high": 1}), "tuning.space.alpha: not a parameter of"),
        (lambda c: c["tuning"].update(recommender="sasrec"), "tuning.recommender: unknown recommender 'sasrec'"),
    ],
)  # fmt: skip
def test_bad_config_names_the_key(tiny_folder, tmp_path, edit, expected):
    config = tiny_config(tiny_folder)
    edit(config)
    path = write_config(tmp_path / "bad.yaml", config)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert "\n" not in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ngrid: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml \(line \d+\): not valid YAML"):
        load_config(path)


def test_dataset_folders_resolve_relative_to_the_config(tiny_folder):
    config = tiny_config(tiny_folder)
    config["grid"]["datasets"] = [f"./{tiny_folder.name}"]  # beside the config, whatever the cwd
    path = write_config(tiny_folder.parent / "relative.yaml", config)
    assert load_config(path).grid.datasets == [str(tiny_folder.resolve())]


def test_seed_range_and_single_budget(tiny_folder):
    data = tiny_config(tiny_folder)
    data["grid"]["seeds"] = "3-5"
    data["grid"]["condensers"][1]["budgets"] = "10%"
    config = parse_config(data)
    assert config.grid.seeds == [3, 4, 5]
    assert config.grid.condensers[1].budgets == ["10%"]


def test_cli_rejects_bad_config_before_any_work(tiny_folder, tmp_path):
    config = tiny_config(tiny_folder)
    config["grid"]["condensers"][1]["params"]["text_tokens"] = "many"
    path = write_config(tmp_path / "bad.yaml", config)
    results = tmp_path / "results"
    done = invoke_condbench("run", path, "--results", results, "--cache", tmp_path / "cache")
    assert done.exit_code == 2, done.output
    assert done.stderr.strip().splitlines() == [
        f"error: {path}: grid.condensers[1].params.text_tokens: must be a number"
    ]
    assert done.stdout == ""
    assert not results.exists()  # nothing was started


def test_yaml_round_trip_of_tiny_config(tiny_folder, tmp_path):
    path = write_config(tmp_path / "ok.yaml", tiny_config(tiny_folder))
    assert yaml.safe_load(path.read_text())["name"] == "tiny"
    assert len(expand_cells(load_config(path))) == 4


def test_condenser_option_adds_a_method_at_the_grids_budgets(tiny_folder, tmp_path):
    from harness.run.config import with_condensers

    config = load_config(write_config(tmp_path / "c.yaml", tiny_config(tiny_folder)))
    grown = with_condensers(config, ["majority"])
    assert [(c.method, c.budgets) for c in grown.grid.condensers][-1] == ("majority", ["8"])
    assert len(expand_cells(grown)) == 6
    with pytest.raises(ConfigError, match="already has a condenser labelled 'random'"):
        with_condensers(config, ["random"])
    with pytest.raises(ConfigError, match="unknown condenser 'mine'"):
        with_condensers(config, ["mine"])
