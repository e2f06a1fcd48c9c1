"""The converted copy of the local model is sealed: altered or unsealed, it is converted again."""

from __future__ import annotations

from condensers.llm import model_files
from harness.cache_seal import FOLDER_SEAL, seal
from harness.paths import atomic_dir


def test_a_converted_model_that_fails_its_seal_is_converted_again(tmp_path, monkeypatch, capsys):
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"not really a gguf")
    converted = []

    def fake_convert(path, target, inputs):
        converted.append(target)
        with atomic_dir(target) as tmp:
            (tmp / "model.safetensors").write_bytes(b"weights")
            seal(tmp, inputs)

    monkeypatch.setattr(model_files, "convert_gguf", fake_convert)
    target = model_files.converted_model_dir(gguf, tmp_path)
    assert model_files.converted_model_dir(gguf, tmp_path) == target and len(converted) == 1
    capsys.readouterr()
    (target / "model.safetensors").write_bytes(b"weightz")
    model_files.converted_model_dir(gguf, tmp_path)
    err = capsys.readouterr().err
    assert err.startswith(f"cache: converted model {target}: model.safetensors differs")
    (target / FOLDER_SEAL).unlink()  # a copy an older condbench made
    model_files.converted_model_dir(gguf, tmp_path)
    assert "no seal (written by an older condbench" in capsys.readouterr().err
    assert len(converted) == 3
