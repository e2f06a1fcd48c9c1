"""The container spec and the command-line rewriting, without a Docker daemon."""

from __future__ import annotations

import pytest

from harness.cli import container
from harness.cli.container import Mount, build_spec, strip_container_option


def make_spec(tmp_path, argv, *, environ=None, gpu=False, digest="sha256:abc"):
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": "/usr/bin", "SECRET_TOKEN": "x"}
    env.update(environ or {})
    return build_spec(
        "condbench:test",
        argv,
        cwd=str(tmp_path / "repo"),
        environ=env,
        uid=1234,
        gid=567,
        gpu=gpu,
        image_digest=digest,
    )


def mounts_by_target(spec) -> dict[str, Mount]:
    return {m.container: m for m in spec.mounts}


def test_fixed_mounts_user_and_working_dir(tmp_path):
    mirror = tmp_path / "mirror"
    spec = make_spec(
        tmp_path,
        ["--version"],
        environ={"CONDBENCH_MIRROR": str(mirror), "CONDBENCH_CACHE": str(tmp_path / "c")},
    )
    mounts = mounts_by_target(spec)
    assert mounts["/data"] == Mount(str(mirror), "/data", read_only=True)
    assert mounts["/cache"] == Mount(str(tmp_path / "c"), "/cache", read_only=False)
    assert mounts["/results"] == Mount(
        str(tmp_path / "repo" / "results"), "/results", read_only=False
    )
    assert mounts["/work"] == Mount(str(tmp_path / "repo"), "/work", read_only=True)
    assert spec.user == "1234:567"
    assert spec.working_dir == "/work"
    assert spec.command == ("--version",)


def test_default_cache_is_under_home_and_no_mirror_means_no_data_mount(tmp_path):
    spec = make_spec(tmp_path, ["--version"])
    mounts = mounts_by_target(spec)
    assert "/data" not in mounts
    assert "CONDBENCH_MIRROR" not in spec.environment
    assert mounts["/cache"].host == str(tmp_path / "home" / ".cache" / "condbench")


def test_environment_fixed_paths_passthrough_and_digest(tmp_path):
    spec = make_spec(
        tmp_path,
        ["--version"],
        environ={
            "CONDBENCH_MIRROR": str(tmp_path / "mirror"),
            "CONDBENCH_RESULTS": str(tmp_path / "out"),
            "CONDBENCH_LLM_BACKEND": "replay",
            "MLFLOW_TRACKING_URI": "http://tracking.example:5000",
            "OPENAI_BASE_URL": "http://localhost:8000/v1",
            "CONDBENCH_IMAGE_DIGEST": "stale",
        },
        digest="condbench@sha256:feed",
    )
    env = spec.environment
    assert env["CONDBENCH_MIRROR"] == "/data"
    assert env["CONDBENCH_CACHE"] == "/cache"
    assert env["CONDBENCH_RESULTS"] == "/results"
    assert env["CONDBENCH_LLM_BACKEND"] == "replay"
    assert env["MLFLOW_TRACKING_URI"] == "http://tracking.example:5000"
    assert env["OPENAI_BASE_URL"] == "http://localhost:8000/v1"
    assert env["CONDBENCH_IMAGE_DIGEST"] == "condbench@sha256:feed"
    assert "SECRET_TOKEN" not in env and "PATH" not in env
    assert mounts_by_target(spec)["/results"].host == str(tmp_path / "out")


@pytest.mark.parametrize("gpu", [True, False])
def test_gpu_device_request_only_when_the_host_has_one(tmp_path, gpu):
    kwargs = make_spec(tmp_path, ["--version"], gpu=gpu).docker_create_kwargs()
    if gpu:
        (request,) = kwargs["device_requests"]
        assert request["Count"] == -1
        assert request["Capabilities"] == [["gpu"]]
    else:
        assert "device_requests" not in kwargs


def test_docker_create_kwargs_carry_mounts_user_env(tmp_path):
    spec = make_spec(tmp_path, ["data", "stats", "movielens-tfdcon", "--json"])
    kwargs = spec.docker_create_kwargs()
    assert kwargs["image"] == "condbench:test"
    assert kwargs["command"] == ["data", "stats", "movielens-tfdcon", "--json"]
    assert kwargs["user"] == "1234:567"
    assert kwargs["environment"]["CONDBENCH_CACHE"] == "/cache"
    binds = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in kwargs["mounts"]}
    assert binds["/work"] == (str(tmp_path / "repo"), True)
    assert binds["/results"][1] is False


def test_argv_relative_paths_in_the_working_dir_stay(tmp_path):
    (tmp_path / "repo" / "configs").mkdir(parents=True)
    (tmp_path / "repo" / "configs" / "ml.yaml").write_text("x: 1\n")
    spec = make_spec(tmp_path, ["run", "configs/ml.yaml", "--only", "random", "--seeds", "1"])
    assert spec.command == ("run", "configs/ml.yaml", "--only", "random", "--seeds", "1")


def test_argv_paths_under_mounted_folders_are_rewritten(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    repo = tmp_path / "repo"
    spec = make_spec(
        tmp_path,
        [
            "run",
            str(repo / "configs" / "ml.yaml"),
            "--mirror",
            str(mirror),
            f"--cache={tmp_path / 'c' / 'sub'}",
            "--results",
            "results/run1",
        ],
        environ={"CONDBENCH_MIRROR": str(mirror), "CONDBENCH_CACHE": str(tmp_path / "c")},
    )
    assert spec.command == (
        "run",
        "/work/configs/ml.yaml",
        "--mirror",
        "/data",
        "--cache=/cache/sub",
        "--results",
        "/results/run1",
    )


def test_argv_paths_outside_every_mount_get_a_read_only_mount(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "entry.zip").write_bytes(b"PK")
    spec = make_spec(tmp_path, ["submit", str(elsewhere / "entry.zip"), "../elsewhere/sub"])
    # a file brings its folder (a config finds the dataset folders beside it)
    # and a folder under a mounted one needs no mount of its own
    assert spec.command == ("submit", "/inputs/0/elsewhere/entry.zip", "/inputs/0/elsewhere/sub")
    mounts = mounts_by_target(spec)
    assert mounts["/inputs/0/elsewhere"] == Mount(str(elsewhere), "/inputs/0/elsewhere", True)
    assert not any(m.container.startswith("/inputs/1") for m in spec.mounts)
    other = tmp_path / "other"
    other.mkdir()
    assert make_spec(tmp_path, ["x", str(other)]).command == ("x", "/inputs/0/other")


def test_words_that_are_not_host_paths_stay(tmp_path):
    spec = make_spec(tmp_path, ["data", "stats", "movielens-tfdcon", "--json", "/opt/inside/image"])
    assert spec.command == ("data", "stats", "movielens-tfdcon", "--json", "/opt/inside/image")


def test_local_tracking_store_is_mounted_writable(tmp_path):
    store = tmp_path / "mlruns"
    spec = make_spec(
        tmp_path,
        ["run", "c.yaml", "--tracking-uri", f"sqlite:///{store}/mlflow.db"],
        environ={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/repo/results/mlflow.db"},
    )
    assert spec.command[-1] == "sqlite:////stores/0/mlruns/mlflow.db"
    assert mounts_by_target(spec)["/stores/0/mlruns"] == Mount(
        str(store), "/stores/0/mlruns", False
    )
    # a store under the results folder needs no mount of its own
    assert spec.environment["MLFLOW_TRACKING_URI"] == "sqlite:////results/mlflow.db"


def test_strip_container_option_both_spellings():
    assert strip_container_option(["run", "c.yaml", "--container", "img:1", "--only", "x"]) == (
        "img:1",
        ["run", "c.yaml", "--only", "x"],
    )
    assert strip_container_option(["verify", "--container=img", "r.json"]) == (
        "img",
        ["verify", "r.json"],
    )
    assert strip_container_option(["run", "c.yaml"]) == (None, ["run", "c.yaml"])
    assert strip_container_option(["run", "--", "--container", "x"]) == (
        None,
        ["run", "--", "--container", "x"],
    )


def test_maybe_run_in_container_returns_without_the_option(monkeypatch):
    monkeypatch.delenv("CONDBENCH_IMAGE_DIGEST", raising=False)
    assert container.maybe_run_in_container(["run", "configs/x.yaml"]) is None
    assert container.maybe_run_in_container(["/usr/bin/condbench", "verify", "r.json"]) is None


def test_maybe_run_in_container_reruns_without_the_option_and_exits_with_its_code(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONDBENCH_IMAGE_DIGEST", raising=False)
    seen = {}
    monkeypatch.setattr(container, "image_digest", lambda image: f"{image}@sha256:0f")

    def fake_run(spec, **_):
        seen["spec"] = spec
        return 3

    monkeypatch.setattr(container, "run_in_container", fake_run)
    with pytest.raises(SystemExit) as exited:
        container.maybe_run_in_container(
            ["condbench", "run", "c.yaml", "--container", "img", "--only", "a"]
        )
    assert exited.value.code == 3
    assert seen["spec"].command == ("run", "c.yaml", "--only", "a")
    assert seen["spec"].image == "img"
    assert seen["spec"].environment["CONDBENCH_IMAGE_DIGEST"] == "img@sha256:0f"


def test_current_image_digest(monkeypatch):
    monkeypatch.delenv("CONDBENCH_IMAGE_DIGEST", raising=False)
    assert container.current_image_digest() == "host"
    monkeypatch.setenv("CONDBENCH_IMAGE_DIGEST", "condbench@sha256:1234")
    assert container.current_image_digest() == "condbench@sha256:1234"


def test_host_gpu_can_be_forced(monkeypatch):
    assert container.host_has_gpu({"CONDBENCH_CONTAINER_GPU": "1"}) is True
    assert container.host_has_gpu({"CONDBENCH_CONTAINER_GPU": "0"}) is False
    monkeypatch.setattr(container.shutil, "which", lambda name: None)
    assert container.host_has_gpu({}) is (
        "torch" in container.sys.modules and container.sys.modules["torch"].cuda.is_available()
    )


def test_no_daemon_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(container.ContainerError, match="no Docker daemon answers"):
        container.image_digest("condbench:test")


def test_a_path_named_twice_is_mounted_once(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    spec = make_spec(tmp_path, ["verify", str(outside), f"--baseline={outside}"])
    inside = "/inputs/0/" + tmp_path.name + "/outside.json"
    assert spec.command == ("verify", inside, f"--baseline={inside}")
    assert sum(m.host == str(tmp_path) for m in spec.mounts) == 1


def test_results_inside_the_working_dir_are_writable_at_both_paths(tmp_path):
    spec = make_spec(tmp_path, ["run", "c.yaml"])  # a run that writes to its default `results/`
    results = str(tmp_path / "repo" / "results")
    mounts = mounts_by_target(spec)
    assert mounts["/results"] == Mount(results, "/results", read_only=False)
    assert mounts["/work/results"] == Mount(results, "/work/results", read_only=False)
    outside = make_spec(
        tmp_path, ["run", "c.yaml"], environ={"CONDBENCH_RESULTS": str(tmp_path / "r")}
    )
    assert "/work/results" not in mounts_by_target(outside)
