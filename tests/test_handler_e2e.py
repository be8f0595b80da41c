"""The five actions through handler.py's async handler, on the real embedded model."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from enhancer.subject import carries_subject
from enhancer.tokens import clip_counter

pytestmark = pytest.mark.e2e

ENHANCE_KEYS = {
    "success", "original_prompt", "enhanced_prompt", "generation_time", "enhancement_type", "job_type",
    "quality", "enhancement_source", "cache_hit", "worker_optimizations", "quality_score", "model",
}


def test_handler_is_async_and_declares_a_concurrency_modifier(handler_module, service):
    assert inspect.iscoroutinefunction(handler_module.handler)
    assert handler_module.concurrency_modifier(1) == service.settings.max_concurrency


def test_enhance_sdxl_fast_answers_within_75_clip_tokens_with_the_subject_first(run_job):
    result = run_job({"prompt": "a castle on a hill", "use_cache": False})
    assert ENHANCE_KEYS <= result.keys()
    assert result["success"] is True
    assert result["enhancement_source"] == "worker_fallback"
    assert result["model"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert result["job_type"] == "sdxl_image_fast" and result["quality"] == "fast"
    text = result["enhanced_prompt"]
    assert clip_counter().count(text) <= 75
    assert result["sdxl_optimizations"]["token_count"] == clip_counter().count(text)
    assert "wan_optimizations" not in result
    # The model's own words for the subject ("a medieval fortress perched atop a hill") lead,
    # right after the quality tags; the user's words are added only where the answer lost it.
    assert carries_subject(text, "a castle on a hill")
    assert len(text) > len("masterpiece, best quality, highly detailed, a castle on a hill, ") + 60
    assert "\n" not in text
    assert 0 <= result["quality_score"] <= 1


def test_sdxl_high_fits_two_clip_windows(run_job):
    result = run_job({"prompt": "portrait of an old fisherman", "job_type": "sdxl_image_high", "use_cache": False})
    assert result["quality"] == "high"
    assert clip_counter().count(result["enhanced_prompt"]) <= 120
    assert result["sdxl_optimizations"]["has_resolution"] is True


@pytest.mark.parametrize("job_type,budget", [("video_fast", 175), ("video_high", 250), ("wan_7b_enhanced", 250)])
def test_video_answers_are_whole_sentences_within_budget(run_job, service, job_type, budget):
    result = run_job({"prompt": "a train speeding down the tracks", "job_type": job_type, "use_cache": False})
    text = result["enhanced_prompt"]
    assert result["wan_optimizations"]["token_count"] == service.video_counter.count(text) <= budget
    assert result["wan_optimizations"]["has_motion"] and result["wan_optimizations"]["has_cinematography"]
    assert text.rstrip().endswith((".", "!", "?"))
    assert "train" in text.lower()


def test_explicit_quality_overrides_the_job_types_tier(run_job):
    result = run_job({"prompt": "a lighthouse", "job_type": "sdxl_image_fast", "quality": "high", "use_cache": False})
    assert result["quality"] == "high"
    high = run_job({"prompt": "a lighthouse", "job_type": "sdxl_image_high", "use_cache": False})
    assert result["enhanced_prompt"] == high["enhanced_prompt"]  # the sdxl_high profile, greedy


def test_intelligent_and_legacy_actions(run_job):
    intelligent = run_job({"action": "intelligent", "prompt": "a misty harbour", "use_cache": False})
    assert intelligent["enhancement_source"] == "worker_fallback"
    legacy = run_job({"action": "legacy", "prompt": "a misty harbour"})
    assert set(legacy) == {
        "success", "original_prompt", "enhanced_prompt", "generation_time", "enhancement_type", "job_type", "quality",
    }
    assert legacy["success"] is True and "harbour" in legacy["enhanced_prompt"].lower()


def test_system_prompt_from_an_edge_function_is_reported_as_edge_function(run_job):
    result = run_job({
        "prompt": "a castle on a hill",
        # An instruction the embedded 135M model answers with a description (asked for tags, it
        # talks about the castle as a product, and the answer is the rules').
        "system_prompt": "You write SDXL prompts. Describe the picture in one sentence. Reply with the prompt only.",
        "context": {"user_preferences": "high_detail"},
        "use_cache": False,
    })
    assert result["enhancement_source"] == "edge_function"
    assert "castle on a hill" in result["enhanced_prompt"]


def test_second_identical_job_is_a_cache_hit_and_cache_clear_empties_it(run_job):
    job = {"prompt": "a blue whale under the ice", "job_type": "video_fast"}
    first = run_job(job)
    second = run_job(job)
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["enhanced_prompt"] == first["enhanced_prompt"]
    info = run_job({"action": "info"})
    assert info["cache_size"] >= 1 and info["cache"]["hits"] >= 1
    cleared = run_job({"action": "cache_clear"})
    assert cleared["success"] is True and cleared["cleared"] >= 1 and cleared["cache_size"] == 0
    assert run_job(job)["cache_hit"] is False


def test_edge_function_answers_are_not_served_to_other_callers(run_job):
    plain = {"prompt": "a castle on a hill", "job_type": "sdxl_image_fast"}
    run_job(plain)
    edge = run_job({**plain, "system_prompt": "Write SDXL tags only."})
    assert edge["cache_hit"] is False and edge["enhancement_source"] == "edge_function"


def test_greedy_output_is_deterministic_and_a_seed_is_reproducible(run_job):
    job = {"prompt": "a paper boat on a puddle", "use_cache": False}
    assert run_job(job)["enhanced_prompt"] == run_job(job)["enhanced_prompt"]
    seeded = {**job, "seed": 1234}
    assert run_job(seeded)["enhanced_prompt"] == run_job(seeded)["enhanced_prompt"]


def test_info_reports_model_cache_budgets_and_metrics(run_job):
    info = run_job({"action": "/enhancement/info"})
    assert info["model_loaded"] is True
    assert info["model"]["status"] == "loaded" and info["model"]["device"] == "cpu"
    assert info["model"]["dtype"] == "float32"
    assert info["supported_job_types"]["sdxl_image_fast"]["budgets"]["fast"] == 75
    assert info["supported_job_types"]["video_high"]["budgets"]["high"] == 250
    assert info["cache"]["persistent"] is True
    assert set(info["fallback_prompts"]) == {"sdxl_fast", "sdxl_high", "wan_fast", "wan_high"}
    assert "p50" in info["metrics"]["latency_ms"]
    batching = info["batching"]
    assert (batching["engine"], batching["kv_cache"], batching["slot_tokens"]) == ("continuous", "slots", 1024)
    assert batching["graphs"] == {"on": False, "buckets": [], "capture_seconds": None, "reason": "no CUDA device"}
    assert batching["warmup_seconds"] > 0 and batching["prefix_hits"] >= 0


@pytest.mark.parametrize("job_input,field", [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "a cat", "job_type": "sdxl_image_ultra"}, "job_type"),
    ({"prompt": "a cat", "quality": "max"}, "quality"),
    ({"prompt": "a cat", "action": "explode"}, "action"),
    ({"prompt": "a cat", "seed": "7"}, "seed"),
    ({"prompt": 42}, "prompt"),
    ("just a string", "input"),
])
def test_bad_input_is_an_error_string_naming_the_field_and_the_worker_keeps_serving(run_job, job_input, field):
    result = run_job(job_input)
    assert result["success"] is False
    assert isinstance(result["error"], str) and result["error"].startswith(field)
    assert "Traceback" not in result["error"]
    assert run_job({"prompt": "a cat"})["success"] is True


def test_a_validation_error_keeps_the_original_prompt_as_the_answer(run_job):
    result = run_job({"prompt": "a cat", "job_type": "nope"})
    assert result["enhanced_prompt"] == "a cat"


def test_concurrent_jobs_share_decode_steps(handler_module, service):
    prompts = ["a fox", "a heron", "a lynx", "an owl"]

    async def burst():
        jobs = [handler_module.handler({"id": str(i), "input": {"prompt": p, "use_cache": False}})
                for i, p in enumerate(prompts)]
        return await asyncio.gather(*jobs)

    before = service.generator.shared_steps
    results = asyncio.run(burst())
    assert all(r["success"] for r in results)
    assert service.generator.shared_steps > before


def test_identical_concurrent_jobs_run_one_generation(handler_module, service):
    async def burst():
        job = {"input": {"prompt": "a glass of lemonade", "use_cache": False}}
        return await asyncio.gather(*[handler_module.handler({"id": str(i), **job}) for i in range(3)])

    before = service.generator.rows_run
    results = asyncio.run(burst())
    assert service.generator.rows_run - before == 1
    assert len({r["enhanced_prompt"] for r in results}) == 1


def test_a_cuda_error_answers_with_the_emergency_fallback_and_asks_for_a_new_worker(run_job, service, monkeypatch):
    def broken(*args):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(service.generator.prefiller, "forward", broken)
    monkeypatch.setattr(service, "device_lost", False)
    result = run_job({"prompt": "a snow leopard", "use_cache": False})
    assert result["success"] is True and result["enhancement_source"] == "emergency_fallback"
    assert result["refresh_worker"] is True and "snow leopard" in result["enhanced_prompt"]
    info = run_job({"action": "info"})
    assert info["model_loaded"] is False and info["model"]["status"] == "device_lost"


def test_generation_that_fails_falls_back_to_rules_and_is_not_cached(run_job, service, monkeypatch):
    def out_of_memory(*args):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(service.generator.prefiller, "forward", out_of_memory)
    job = {"prompt": "a snow leopard on a ridge", "job_type": "video_fast"}
    first = run_job(job)
    assert first["enhancement_source"] == "emergency_fallback" and "refresh_worker" not in first
    assert first["model"] == "rules (emergency fallback)"
    assert run_job(job)["cache_hit"] is False


def test_an_answer_of_which_nothing_survives_cleanup_is_credited_to_the_rules(run_job, service, monkeypatch):
    async def invents_a_person(request):
        return "A man stands at the water's edge."

    async def describes_the_beach(request):
        return "wet sand, pastel sky, low tide"

    monkeypatch.setattr(service.generator, "generate", invents_a_person)
    job = {"prompt": "an empty beach at dawn", "use_cache": False}
    dropped = run_job(job)
    assert dropped["enhancement_source"] == "emergency_fallback" and "man" not in dropped["enhanced_prompt"]

    monkeypatch.setattr(service.generator, "generate", describes_the_beach)
    kept = run_job(job)
    assert kept["enhancement_source"] == "worker_fallback" and "wet sand" in kept["enhanced_prompt"]
