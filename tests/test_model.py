"""Model resolution order, the kept dequantized weights, and the micro-batching engine's failure
handling (GENERATION_ENGINE=batch)."""

from __future__ import annotations

import pytest

from enhancer.config import Settings
from enhancer.model import (
    DeviceLost,
    GenerationFailed,
    GenerationRequest,
    Generator,
    resolve_model_source,
)
from enhancer.profiles import PROFILES
from enhancer.service import build_messages


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


def request(prompt: str, profile: str = "sdxl_fast", seed: int | None = None) -> GenerationRequest:
    chosen = PROFILES[profile]
    return GenerationRequest(build_messages(prompt, chosen, None, {}), chosen.max_new_tokens, seed)


class ScriptedGenerator(Generator):
    """The micro-batching engine (GENERATION_ENGINE=batch) with `_run` replaced, to inject failures the
    CPU cannot produce. The continuous engine's failures are in test_engine.py."""

    def __init__(self, failures):
        super().__init__(loaded=None)
        self.failures = failures
        self.calls: list[int] = []

    def _run(self, requests):
        self.calls.append(len(requests))
        for r in requests:
            if r.seed in self.failures:
                raise self.failures[r.seed]
        return [f"ok {r.seed}" for r in requests]


def test_a_failing_row_does_not_fail_the_others():
    generator = ScriptedGenerator({2: ValueError("bad row")})
    results = generator.generate_batch([request("x", seed=s) for s in range(4)])
    assert results[0] == "ok 0" and results[1] == "ok 1" and results[3] == "ok 3"
    assert isinstance(results[2], GenerationFailed)


def test_out_of_memory_splits_the_batch_and_retries_the_halves():
    class OOMOnBigBatches(ScriptedGenerator):
        def _run(self, requests):
            self.calls.append(len(requests))
            if len(requests) > 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return [f"ok {r.seed}" for r in requests]

    generator = OOMOnBigBatches({})
    results = generator.generate_batch([request("x", seed=s) for s in range(8)])
    assert results == [f"ok {s}" for s in range(8)]
    assert generator.calls == [8, 4, 2, 2, 4, 2, 2]


def test_a_single_request_still_out_of_memory_after_a_retry_fails_alone():
    generator = ScriptedGenerator({0: RuntimeError("CUDA out of memory")})
    [result] = generator.generate_batch([request("x", seed=0)])
    assert isinstance(result, GenerationFailed) and generator.calls == [1, 1]


def test_a_cuda_error_that_breaks_the_device_is_reported_as_device_lost():
    generator = ScriptedGenerator({0: RuntimeError("CUDA error: an illegal memory access was encountered")})
    results = generator.generate_batch([request("x", seed=0), request("y", seed=1)])
    assert all(isinstance(r, DeviceLost) for r in results)


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
