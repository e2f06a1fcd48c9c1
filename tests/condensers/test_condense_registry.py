"""The registry: built-in names, errors, and methods from other packages' entry points."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from condenser_fixtures import handmade_dataset

from condensers import registry
from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from harness.errors import ConfigError


def test_builtin_methods_are_registered():
    names = registry.available()
    for name in ("original", "random", "majority", "tfdcon", "tfdcon-content", "tfdcon-user"):
        assert name in names
        assert registry.get(name).name == name
    for name in ("release-random", "release-majority", "release-tfdcon"):
        assert registry.get(name).name == name


def test_unknown_method_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown condenser 'nope'.*tfdcon"):
        registry.get("nope")


def test_make_builds_typed_params_and_names_bad_keys():
    condenser = registry.make("tfdcon", {"alpha": 0.25, "m": 3})
    assert (condenser.params.alpha, condenser.params.m) == (0.25, 3)
    with pytest.raises(ConfigError, match="unknown parameter 'alpha'"):
        registry.make("original", {"alpha": 1.0})


def _install_plugin(root, *, dist: str, module: str, entry: str, body: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[condbench.condensers]\n{entry}\n")


def test_entry_point_in_another_package_is_found_by_name(tmp_path, monkeypatch, cache):
    _install_plugin(
        tmp_path,
        dist="condbench_plugin_demo",
        module="condbench_plugin_demo",
        entry="first-user = condbench_plugin_demo:FirstUser",
        body="""
            from condensers.base import Condenser, train_users, selected_users_train

            class FirstUser(Condenser):
                name = "first-user"
                summary = "keeps the lowest user id"

                def condense(self, dataset, budget, rng, ctx):
                    users = train_users(dataset)[:1]
                    return dataset.with_train(selected_users_train(dataset, users), variant=self.name)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "first-user" in registry.available()
    cls = registry.get("first-user")
    assert issubclass(cls, Condenser) and cls.__module__ == "condbench_plugin_demo"

    small = cls().condense(
        handmade_dataset(), Budget(users=1), np.random.default_rng(0), CondenseContext()
    )
    assert small.split("train")["user_id"].unique().tolist() == [10]
    monkeypatch.delitem(sys.modules, "condbench_plugin_demo", raising=False)


def test_entry_point_that_is_not_a_condenser_is_refused(tmp_path, monkeypatch):
    _install_plugin(
        tmp_path,
        dist="condbench_plugin_bad",
        module="condbench_plugin_bad",
        entry="not-a-method = condbench_plugin_bad:thing",
        body="thing = 42\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="not a Condenser"):
        registry.get("not-a-method")
    monkeypatch.delitem(sys.modules, "condbench_plugin_bad", raising=False)
