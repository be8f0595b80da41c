"""Model resolution order and the kept dequantized weights (the engine's failure handling is in
test_engine.py)."""

from __future__ import annotations

import pytest

from enhancer.config import Settings
from enhancer.model import resolve_model_source


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def fake_cached_model(hub, name: str):
    folder = hub / f"models--{name.replace('/', '--')}"
    snapshot = folder / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("abc123")
    return snapshot


def test_model_path_wins_over_model_name(tmp_path, empty_hub_cache):
    local = tmp_path / "my-model"
    local.mkdir()
    (local / "config.json").write_text("{}")
    fake_cached_model(empty_hub_cache, "Qwen/Qwen2.5-7B-Instruct")
    source = resolve_model_source(Settings(model_path=str(local)))
    assert (source.kind, source.location, source.gguf_file) == ("path", str(local), None)


def test_model_name_is_taken_from_the_local_hub_cache(empty_hub_cache):
    snapshot = fake_cached_model(empty_hub_cache, "Qwen/Qwen2.5-7B-Instruct")
    source = resolve_model_source(Settings(model_path="/does/not/exist"))
    assert source.kind == "hub_cache" and source.location == str(snapshot.resolve())
    assert source.model_id == "Qwen/Qwen2.5-7B-Instruct"


def test_hub_is_used_only_when_downloads_are_allowed(empty_hub_cache):
    assert resolve_model_source(Settings(allow_model_download=True)).kind == "hub"
    assert resolve_model_source(Settings()).kind == "embedded"


def test_embedded_default_is_the_smollm2_gguf(empty_hub_cache):
    source = resolve_model_source(Settings())
    assert source.gguf_file.endswith(".gguf")
    assert source.model_id.startswith("HuggingFaceTB/SmolLM2-135M-Instruct")


@pytest.mark.e2e
def test_dequantized_gguf_weights_are_kept_and_reload_identically(tmp_path):
    import torch

    from enhancer.model import embedded_model_source, load_model

    source = embedded_model_source()
    first = load_model(source, converted_root=tmp_path)
    second = load_model(source, converted_root=tmp_path)
    assert (first.weights_from, second.weights_from) == ("gguf", "converted")
    expected, reloaded = first.model.state_dict(), second.model.state_dict()
    assert expected.keys() == reloaded.keys()
    assert all(torch.equal(expected[name], reloaded[name]) for name in expected)
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "a red fox"}]
    assert first.tokenizer.apply_chat_template(messages) == second.tokenizer.apply_chat_template(messages)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
