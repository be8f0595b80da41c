"""Which rules answers are cached: the rules' answer to a model that wrote nothing usable is as
repeatable as the model's own and is kept; a fallback caused by a failure is not."""

from __future__ import annotations

import asyncio

import pytest

from enhancer.cache import PromptCache
from enhancer.config import Settings
from enhancer.model import DeviceLost, GenerationFailed
from enhancer.service import EnhancementService
from enhancer.status import EMERGENCY_MODEL


class FakeGenerator:
    """Answers every request with one scripted result (text, or an exception to raise)."""

    model_id = "fake-model"
    tokenizer = None

    def __init__(self, result):
        self.result = result
        self.calls = 0

    async def generate(self, request):
        self.calls += 1
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result

    def shutdown(self):
        pass


def service_with(tmp_path, generator) -> EnhancementService:
    settings = Settings(cache_dir=tmp_path / "cache", worker_id="w")
    return EnhancementService(settings, generator, PromptCache(settings.cache_dir, settings.worker_id))


def handle(service, job):
    return asyncio.run(service.handle(job))


@pytest.mark.parametrize("seed", [None, 7])
def test_a_rules_answer_to_an_unusable_model_answer_is_cached_and_marked_as_rules(tmp_path, seed):
    generator = FakeGenerator("")  # nothing usable
    service = service_with(tmp_path, generator)
    job = {"prompt": "a red kite over a field", "job_type": "video_fast"}
    if seed is not None:
        job["seed"] = seed
    first = handle(service, job)
    assert first["enhancement_source"] == "emergency_fallback" and first["cache_hit"] is False
    second = handle(service, job)
    assert second["cache_hit"] is True and generator.calls == 1
    assert second["enhancement_source"] == "emergency_fallback" and second["model"] == EMERGENCY_MODEL
    assert second["enhanced_prompt"] == first["enhanced_prompt"]


@pytest.mark.parametrize("failure", [GenerationFailed("out of memory after retries"), DeviceLost("CUDA error")])
def test_a_rules_answer_caused_by_a_failure_is_not_cached(tmp_path, failure):
    generator = FakeGenerator(failure)
    service = service_with(tmp_path, generator)
    job = {"prompt": "a red kite over a field"}
    first = handle(service, job)
    assert first["enhancement_source"] == "emergency_fallback"
    assert len(service.cache) == 0
    if isinstance(failure, GenerationFailed):
        assert handle(service, job)["cache_hit"] is False and generator.calls == 2


def test_a_rules_answer_for_want_of_a_model_is_not_cached(tmp_path):
    service = service_with(tmp_path, None)
    job = {"prompt": "a red kite over a field"}
    assert handle(service, job)["enhancement_source"] == "emergency_fallback"
    assert handle(service, job)["cache_hit"] is False and len(service.cache) == 0
