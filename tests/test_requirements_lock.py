"""requirements.lock, pyproject's requires-python and the Dockerfile's Python check agree.

Fast: the lock's header names the Pythons that requires-python admits (CPython 3.11 and 3.12),
every pin carries a hash, the Dockerfile's builder stage accepts exactly those Pythons, and
scripts/lock-requirements merges per-Python resolutions as documented. Slow: the lock really
installs, wheels only and hash-checked, into a fresh venv of each of those Pythons.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"


def _load_lock_script():
    path = REPO / "scripts" / "lock-requirements"
    loader = importlib.machinery.SourceFileLoader("lock_requirements", str(path))
    spec = importlib.util.spec_from_loader("lock_requirements", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


lock_script = _load_lock_script()


def requires_python() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]


def test_supported_pythons_come_from_requires_python():
    assert lock_script.supported_pythons(">=3.11,<3.13") == ["3.11", "3.12"]
    assert lock_script.supported_pythons(">=3.11,<3.12") == ["3.11"]
    # the Pythons of the pinned CUDA base images (issue 18) stay covered
    assert {"3.11", "3.12"} <= set(lock_script.supported_pythons(requires_python()))


def test_lock_header_names_the_pythons_of_requires_python():
    text = LOCK.read_text()
    pythons = lock_script.supported_pythons(requires_python())
    assert text.startswith(lock_script.header(pythons)), "regenerate: scripts/lock-requirements"
    named = re.search(r"\(CPython (.+?), linux x86_64\)", text.splitlines()[0])
    assert named and re.split(r", | and ", named[1]) == pythons


def test_every_pin_has_a_hash_and_only_python_markers():
    pins = lock_script.locked_pins(LOCK.read_text())
    assert len(pins) > 50
    names = [name for name, _, marker, _ in pins if marker is None]
    assert len(names) == len(set(names)), "an unmarked package pinned twice"
    assert "torch" not in {name for name, *_ in pins}, "torch comes from the base image"
    for name, version, marker, hashes in pins:
        assert hashes, f"{name}=={version} has no --hash"
        assert all(len(digest) == 64 for digest in hashes)
        if marker is not None:
            assert re.fullmatch(r'python_version == "3\.\d+"( or python_version == "3\.\d+")*',
                                marker), f"{name}: marker {marker!r}"  # fmt: skip
    # each supported Python gets exactly one version of each package
    for python in lock_script.supported_pythons(requires_python()):
        applying = [
            name
            for name, _, marker, _ in pins
            if marker is None or Marker(marker).evaluate({"python_version": python})
        ]
        assert len(applying) == len(set(applying)), f"Python {python}: a package pinned twice"


def test_dockerfile_accepts_exactly_the_pythons_of_requires_python():
    dockerfile = (REPO / "Dockerfile").read_text()
    check = re.search(r"assert sys\.version_info\[:2\] in (\(\(.*?\)\)), f'(.*?)'", dockerfile)
    assert check, "the builder stage's Python check is missing"
    accepted = [f"{major}.{minor}" for major, minor in ast.literal_eval(check[1])]
    pythons = lock_script.supported_pythons(requires_python())
    assert accepted == pythons
    assert check[2].endswith(f"condbench needs {' or '.join(pythons)}"), check[2]


def _report(python: str, *items: tuple[str, str, str], requires: dict | None = None) -> dict:
    """A pip --report with `items` (name, version, sha256) for Python `python`."""
    return {
        "environment": {"python_version": python, "python_full_version": f"{python}.0"},
        "install": [
            {
                "metadata": {
                    "name": name,
                    "version": version,
                    "requires_dist": (requires or {}).get(name, []),
                },
                "download_info": {"archive_info": {"hashes": {"sha256": digest * 64}}},
            }
            for name, version, digest in items
        ],
    }


def test_merge_one_line_per_shared_pin_with_each_pythons_hash():
    r311 = _report("3.11", ("numpy", "2.4.6", "a"), ("click", "8.5.1", "c"), ("torch", "2", "t"))
    r312 = _report("3.12", ("numpy", "2.4.6", "b"), ("click", "8.5.1", "c"), ("torch", "2", "t"))
    text = lock_script.lock_text(
        {"3.11": (r311, {"numpy", "click"}), "3.12": (r312, {"numpy", "click"})}
    )
    assert text.startswith(lock_script.header(["3.11", "3.12"]))
    assert "# left to the base image: torch\n" in text
    pins = {name: (version, marker, hashes) for name, version, marker, hashes in
            lock_script.locked_pins(text)}  # fmt: skip
    assert pins == {
        "click": ("8.5.1", None, ["c" * 64]),
        "numpy": ("2.4.6", None, ["a" * 64, "b" * 64]),
    }


def test_merge_marks_pins_that_differ_or_one_python_alone_needs():
    r311 = _report("3.11", ("numpy", "1.26.4", "a"), ("tomli", "2.0", "t"))
    r312 = _report("3.12", ("numpy", "2.0.0", "b"))
    text = lock_script.lock_text({"3.11": (r311, {"numpy", "tomli"}), "3.12": (r312, {"numpy"})})
    assert 'numpy==1.26.4 ; python_version == "3.11" \\\n' in text
    assert 'numpy==2.0.0 ; python_version == "3.12" \\\n' in text
    assert 'tomli==2.0 ; python_version == "3.11" \\\n' in text
    constraints = lock_script.constraints_for("3.12", text, freed=set())
    assert constraints == ["numpy==2.0.0"]
    assert lock_script.constraints_for("3.11", text, freed={"tomli"}) == ["numpy==1.26.4"]


def test_needed_without_torch_evaluates_markers_for_the_reports_python():
    requires = {"app": ["tomli>=1; python_version < '3.12'", "torch"], "torch": ["sympy"]}
    items = [("app", "1", "a"), ("tomli", "2", "b"), ("torch", "2", "c"), ("sympy", "1", "d")]
    assert lock_script.needed_without_torch(
        _report("3.11", *items, requires=requires), ["app"]
    ) == {"app", "tomli"}
    assert lock_script.needed_without_torch(
        _report("3.12", *items, requires=requires), ["app"]
    ) == {"app"}


# ---- slow: a real install of the lock on each supported Python


@pytest.mark.slow
@pytest.mark.parametrize("python", lock_script.supported_pythons(requires_python()))
def test_lock_installs_on_each_supported_python(python, tmp_path):
    """`pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock`, the
    image builder's command, for real into a fresh venv of `python` (found on PATH, in
    ~/.pyenv/versions or /usr/bin; skipped, saying so, when this machine has none), from PyPI
    alone as in the image (this machine's local indexes and pip config are set aside). Proves
    that every pin has a wheel for that Python on linux x86_64 whose hash the lock lists, and
    that the main dependencies and condbench's CLI import without torch (the base image
    provides it). Needs network access to PyPI. Measured on the shared 2-core VM: 85-95 s per
    Python (venv, install, imports) with the wheels in pip's cache, about 70 s for the install
    alone with no cache; a --dry-run would prove less (no hash check of the files)."""
    interpreter = lock_script.find_python(python)
    if interpreter is None:
        pytest.skip(f"no working python{python} on this machine (PATH, ~/.pyenv, /usr/bin)")
    venv = tmp_path / f"venv-{python}"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=300)
    local = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT")
    env = {k: v for k, v in os.environ.items() if k not in local}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        + ["--require-hashes", "--no-deps", "--only-binary=:all:"]
        + ["--index-url=https://pypi.org/simple", "-r", str(LOCK)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imports = "numpy, pandas, pyarrow, sklearn, scipy, mlflow, optuna, transformers, docker, "
    imports += "pydantic, yaml, jinja2, httpx, gguf, click, tqdm, harness.cli"
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import sys, {imports}; print(sys.version)"],
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    assert probe.stdout.startswith(f"{python}.")
