"""Provenance: what every record says about where it came from."""

from __future__ import annotations

import platform

from harness.run import provenance


def test_environment_names_code_packages_and_machine():
    env = provenance.environment()
    assert env.python == platform.python_version()
    assert env.packages["torch"].startswith("2.") and env.packages["condbench"] != "not installed"
    assert env.device == "cpu" or env.device.startswith("cuda:")
    assert env.git_sha == "unknown" or len(env.git_sha.removesuffix("+dirty")) == 40
    assert env.image_digest  # "host" outside the container


def test_image_digest_comes_from_the_container_runner(monkeypatch):
    from harness.cli import container

    monkeypatch.setenv(container.IMAGE_DIGEST_ENV, "sha256:" + "ab" * 32)
    assert provenance.image_digest() == "sha256:" + "ab" * 32
    assert container.current_image_digest() == "sha256:" + "ab" * 32
    monkeypatch.delenv(container.IMAGE_DIGEST_ENV)
    assert provenance.image_digest() == container.HOST_DIGEST == provenance.HOST_DIGEST


def test_command_line_is_retypeable():
    assert (
        provenance.command_line(["/x/bin/condbench", "run", "a b.yaml"])
        == "condbench run 'a b.yaml'"
    )


def test_git_sha_outside_a_repository(tmp_path):
    assert provenance.git_sha(tmp_path) == "unknown"
