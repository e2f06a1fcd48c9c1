"""One validation style: train settings, learner configs, condenser params and LLM settings are
frozen pydantic models that refuse unknown keys; a config reports every mistake with its key
path; the dicts hashed into cache keys are the ones the dataclasses gave."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import tiny_config, write_config
from pydantic import ValidationError

import recommenders
from condensers import registry
from condensers.base import NoParams
from condensers.llm import ClientSettings, LLMSpecError
from condensers.llm.spec import parse_spec
from condensers.random import RandomTextParams
from condensers.tfdcon import TfdconParams
from condensers.user_embeddings import settings_dict
from harness.errors import ConfigError
from harness.run.config import load_config, parse_config
from harness.seeds import parse_seeds
from recommenders.settings import TrainSettings

REPO = Path(__file__).resolve().parents[2]
WRONG_TYPE = [1]  # a list is the wrong type for every scalar field


def _fields(model: type) -> list[str]:
    return sorted(model.model_fields)


# ---- a config reports every mistake ------------------------------------------------------


def test_three_mistakes_in_different_places_are_all_reported(tiny_folder, tmp_path):
    config = tiny_config(tiny_folder)
    config["training"]["epochs"] = 3  # a bad training key
    config["grid"]["condensers"][1]["params"]["text_tokens"] = "many"  # a bad param type
    config["grid"]["recommenders"] = ["naml", "bert4rec"]  # an unknown recommender
    path = write_config(tmp_path / "three.yaml", config)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    lines = str(error.value).splitlines()
    assert lines[0] == f"{path}: 3 problems"
    assert sorted(lines[1:]) == sorted(
        [
            f"{path}: training.epochs: unknown key; known: {', '.join(_fields(TrainSettings))}",
            f"{path}: grid.condensers[1].params.text_tokens: must be a number",
            f"{path}: grid.recommenders[1]: unknown recommender 'bert4rec'; "
            f"known: {', '.join(recommenders.names())}",
        ]
    )


def test_schema_and_registry_mistakes_are_reported_together(tiny_folder):
    config = tiny_config(tiny_folder, colour="blue")  # schema: an unknown top-level key
    config["grid"]["seeds"] = ["zero"]  # schema: a bad list item (the list is left out)
    config["grid"]["condensers"][1]["params"]["alpha"] = 0.5  # registry: not a random param
    config["training"]["lr"] = 2  # registry: out of range
    with pytest.raises(ConfigError) as error:
        parse_config(config, "x.yaml")
    lines = str(error.value).splitlines()
    assert lines[0] == "x.yaml: 4 problems"
    assert set(lines[1:]) == {
        "x.yaml: colour: unknown key",
        "x.yaml: grid.seeds[0]: must be an integer",
        "x.yaml: grid.condensers[1].params.alpha: unknown key; known: text, text_tokens",
        "x.yaml: training.lr: must be a number in (0, 1), got 2",
    }
    assert {p.path for p in error.value.problems} == {  # also kept as (path, message) pairs
        "colour", "grid.seeds[0]", "grid.condensers[1].params.alpha", "training.lr"
    }


def test_one_mistake_is_one_line(tiny_folder):
    config = tiny_config(tiny_folder)
    config["training"]["max_epochs"] = 0
    with pytest.raises(ConfigError) as error:
        parse_config(config, "x.yaml")
    assert str(error.value) == "x.yaml: training.max_epochs: must be a positive integer, got 0"


# ---- every condenser's params and every learner's config ----------------------------------


@pytest.mark.parametrize("name", registry.available())
def test_condenser_params_refuse_an_unknown_key_and_a_wrong_type(name):
    condenser_cls = registry.get(name)
    params = condenser_cls.Params
    assert params.model_config["frozen"] and params.model_config["extra"] == "forbid"
    with pytest.raises(ConfigError, match=f"{name}: unknown parameter 'nonesuch'"):
        condenser_cls.from_options({"nonesuch": 1})
    for field in _fields(params):
        with pytest.raises(ConfigError, match=f"^{name}: {field}: must be"):
            condenser_cls.from_options({field: WRONG_TYPE})
        with pytest.raises(ValidationError) as error:  # what a config reports, with its path
            params.model_validate({field: WRONG_TYPE, "nonesuch": 1})
        assert {e["loc"][0] for e in error.value.errors()} == {field, "nonesuch"}


@pytest.mark.parametrize("name", recommenders.names())
def test_learner_configs_refuse_an_unknown_key_and_a_wrong_type(name):
    config = recommenders.get(name).Config
    assert config.model_config["frozen"] and config.model_config["extra"] == "forbid"
    with pytest.raises(ConfigError, match="unknown model option 'nonesuch'; known: "):
        config.from_options({"nonesuch": 1})
    for field in _fields(config):
        with pytest.raises(ConfigError, match=f"^model option '{field}' must be"):
            config.from_options({field: WRONG_TYPE})
    with pytest.raises(ConfigError, match="model option 'word_dim' must be an integer"):
        config.from_options({"word_dim": True})  # no bools for sizes, as before


@pytest.mark.parametrize(
    ("model", "label", "error"),
    [(TrainSettings, "train setting", ConfigError), (ClientSettings, "llm setting", LLMSpecError)],
)
def test_settings_refuse_an_unknown_key_and_a_wrong_type(model, label, error):
    with pytest.raises(error, match=f"unknown {label} 'nonesuch'; known: "):
        model(nonesuch=1)
    for field in _fields(model):
        if field == "model_options":
            continue  # a mapping: a list is checked below
        with pytest.raises(error, match=f"^{label} '{field}' must be"):
            model(**{field: WRONG_TYPE})
    with pytest.raises(error, match="^2 problems\n"):
        model(nonesuch=1, other=2)


def test_train_settings_model_options_must_be_a_mapping():
    with pytest.raises(ConfigError, match="train setting 'model_options' must be a mapping"):
        TrainSettings(model_options=[1])


def test_llm_spec_is_a_frozen_model():
    spec = parse_spec("openai:m@http://127.0.0.1:1/v1/")
    assert (spec.backend, spec.model, spec.base_url) == ("openai", "m", "http://127.0.0.1:1/v1")
    with pytest.raises(ValidationError):
        spec.model = "other"


def test_train_settings_import_no_torch():
    code = "import recommenders.settings, sys; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---- cache keys and records: the same dicts as the dataclasses gave ------------------------

# hard-coded from `dataclasses.asdict` of the dataclasses these models replace
TFDCON_DICT = {"alpha": 0.5, "m": 1, "kmeans_n_init": 1, "kmeans_max_iter": 300,
               "kmeans_init_sample": 10000, "max_title_tokens": 20}  # fmt: skip
TRAIN_DICT = {"batch_size": 2048, "lr": 0.01, "max_epochs": 6, "patience": 2,
              "min_improvement": 0.001, "min_steps_per_epoch": 16, "max_tokens": 32,
              "max_history": 50, "negatives": 4, "device": "auto", "threads": 1,
              "early_stop_metric": "NDCG@5", "amp": True, "model_options": {}}  # fmt: skip


def _json(value) -> str:  # what content_key hashes: 1 and 1.0 differ here
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (TfdconParams(), TFDCON_DICT),
        (TfdconParams(alpha=1), {**TFDCON_DICT, "alpha": 1}),  # an int stays an int
        (TfdconParams(alpha=1.0), {**TFDCON_DICT, "alpha": 1.0}),
        (registry.make("tfdcon", {"alpha": 0.5}).params, TFDCON_DICT),
        (RandomTextParams(), {"text_tokens": None, "text": "random"}),
        (RandomTextParams(text_tokens=3), {"text_tokens": 3, "text": "random"}),
        (NoParams(), {}),
        (TrainSettings(), TRAIN_DICT),
        (TrainSettings(min_improvement=0, model_options={"word_dim": 8}),
         {**TRAIN_DICT, "min_improvement": 0, "model_options": {"word_dim": 8}}),
        # set, the long-history pieces change results: then (only then) they are in the dict
        (TrainSettings(encode_chunk_rows=512), {**TRAIN_DICT, "encode_chunk_rows": 512}),
    ],
)  # fmt: skip
def test_hashed_dicts_are_unchanged(made, expected):
    assert _json(made.model_dump()) == _json(expected)
    assert list(made.model_dump()) == list(expected)  # field order too (records keep it)


def test_user_embedding_settings_and_condenser_description_are_the_dumps():
    assert _json(settings_dict(TrainSettings())) == _json(TRAIN_DICT)
    assert registry.make("tfdcon").describe() == {"method": "tfdcon", "params": TFDCON_DICT}


def test_the_shipped_configs_params_dump_as_recorded():
    config = load_config(REPO / "configs" / "movielens.yaml")
    tfdcon = config.condenser("tfdcon")
    params = registry.get(tfdcon.name).Params.model_validate(tfdcon.params)
    assert _json(params.model_dump()) == _json(TFDCON_DICT)


# ---- one seed parser -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seeds"),
    [("0-4", [0, 1, 2, 3, 4]), ("3, 1,3", [3, 1]), ("0-1,5", [0, 1, 5]), (2, [2]), ([1, 0, 1], [1, 0])],
)  # fmt: skip
def test_one_seed_parser_for_configs_and_the_cli(tiny_folder, value, seeds):
    assert parse_seeds(value) == seeds
    config = tiny_config(tiny_folder)
    config["grid"]["seeds"] = value
    assert parse_config(config).grid.seeds == seeds


@pytest.mark.parametrize(
    ("value", "message"),
    [("4-2", "range '4-2' is empty"), ("x", "cannot read 'x'"), ("", "must not be empty"),
     ([-1], "must be a non-negative integer, got -1"), ([True], "must be an integer")],
)  # fmt: skip
def test_bad_seeds_are_named(value, message):
    with pytest.raises(ConfigError, match=f"^--seeds: .*{message}"):
        parse_seeds(value)
