"""Jobs under a strategies file: what the model is asked, the response's strategy fields, the cache key.

The model here is a stand-in that records its requests (the real model's path is the e2e test's)."""

from __future__ import annotations

import asyncio
import json

from enhancer.cache import PromptCache
from enhancer.config import Settings
from enhancer.service import EnhancementService

FILE = {
    "strategies": {
        "terse": {"system_prompt": {"sdxl": "Write terse tags."}, "strength": "light", "negative_prompt": True,
                  "stock_phrases": False},
        "vivid": {"system_prompt": {"sdxl_high": "Write vivid tags."}, "sampling": {"temperature": 0.8, "top_p": 0.9}},
        "auto": {"selector": [{"when": {"style": "anime"}, "use": "vivid"}, {"use": "terse"}]},
    },
    "experiments": {"tone": {"arms": {"terse": 1, "vivid": 1}, "key": "context.user_id"}},
}


class RecordingModel:
    """Answers every request with the same tags and keeps the requests."""

    model_id = "recording"
    tokenizer = None

    def __init__(self) -> None:
        self.requests = []

    async def generate(self, request):
        self.requests.append(request)
        return "a small red fox curled asleep in fresh snow, pale winter light, pine trees"

    def shutdown(self) -> None:
        pass


def service_with(tmp_path, content=FILE, with_model=True) -> tuple[EnhancementService, RecordingModel | None]:
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    settings = Settings(cache_dir=tmp_path / "cache", worker_id="w", strategies_file=str(path))
    model = RecordingModel() if with_model else None
    return EnhancementService(settings, model, PromptCache(settings.cache_dir, settings.worker_id)), model


def handle(service, job):
    return asyncio.run(service.handle(job))


def test_a_named_strategy_sets_the_system_prompt_strength_negative_and_response_fields(tmp_path):
    service, model = service_with(tmp_path)
    out = handle(service, {"prompt": "a fox in the snow", "strategy": "terse", "use_cache": False})
    (_, system), _ = model.requests[-1].messages
    assert system.startswith("Write terse tags.") and "Touch the idea lightly" in system
    assert model.requests[-1].seed is None  # greedy
    assert out["strategy"] == "terse" and "experiment" not in out and len(out["request_id"]) == 32
    assert "watermark" in out["negative_prompt"]  # the strategy's negative prompt is on
    # The job's own fields win over the strategy's.
    own = handle(service, {"prompt": "a fox in the snow", "strategy": "terse", "negative_prompt": False,
                           "strength": "rich", "system_prompt": "Mine.", "use_cache": False})
    (_, system), _ = model.requests[-1].messages
    assert system.startswith("Mine.") and "in full" in system and "negative_prompt" not in own


def test_a_sampling_strategy_samples_with_its_temperature_and_a_seed_from_the_prompt(tmp_path):
    service, model = service_with(tmp_path)
    handle(service, {"prompt": "a fox in the snow", "job_type": "sdxl_image_high", "strategy": "vivid"})
    first = model.requests[-1]
    assert (first.temperature, first.top_p) == (0.8, 0.9) and isinstance(first.seed, int)
    (_, system), _ = first.messages
    assert system == "Write vivid tags."
    handle(service, {"prompt": "a fox in the snow", "job_type": "sdxl_image_high", "strategy": "vivid",
                     "use_cache": False})
    assert model.requests[-1].seed == first.seed  # repeatable, so cacheable


def test_a_selector_names_the_template_and_an_experiment_names_its_arm(tmp_path):
    service, _ = service_with(tmp_path)
    anime = handle(service, {"prompt": "an anime girl with a sword", "strategy": "auto"})
    assert (anime["strategy"], anime["template"]) == ("auto", "vivid")
    arms = {handle(service, {"prompt": "a fox", "experiment": "tone", "context": {"user_id": n}})["arm"]
            for n in range(12)}
    assert arms == {"terse", "vivid"}
    one = [handle(service, {"prompt": p, "experiment": "tone", "context": {"user_id": 5}}) for p in ("a fox", "a cat")]
    assert one[0]["arm"] == one[1]["arm"] and one[0]["strategy"] == one[0]["arm"]
    assert one[0]["experiment"] == "tone"


def test_a_cache_hit_gets_its_own_request_id_and_strategies_do_not_share_entries(tmp_path):
    service, _ = service_with(tmp_path)
    first = handle(service, {"prompt": "a fox in the snow", "strategy": "terse"})
    again = handle(service, {"prompt": "a fox in the snow", "strategy": "terse"})
    assert again["cache_hit"] is True and again["request_id"] != first["request_id"]
    plain = handle(service, {"prompt": "a fox in the snow"})
    assert plain["cache_hit"] is False and plain["strategy"] == "default"


def test_an_unknown_strategy_or_experiment_is_refused_with_the_known_names(tmp_path):
    service, _ = service_with(tmp_path)
    out = handle(service, {"prompt": "a fox", "strategy": "loud"})
    assert out == {"success": False, "error": "strategy: unknown 'loud'; known: auto, default, terse, vivid",
                   "enhanced_prompt": "a fox"}
    assert handle(service, {"prompt": "a fox", "experiment": "x"})["error"].startswith("experiment: unknown 'x'")


def test_a_bad_strategies_file_serves_default_and_says_so_in_info(tmp_path):
    service, _ = service_with(tmp_path, {"strategies": {"terse": {"strength": "max"}}}, with_model=False)
    assert handle(service, {"prompt": "a fox"})["strategy"] == "default"
    warnings = handle(service, {"action": "info"})["warnings"]
    assert any(w.startswith("STRATEGIES_FILE") and "strategies.terse.strength" in w for w in warnings)


def test_without_stock_phrases_a_thin_repaired_answer_gets_none(tmp_path):
    service, model = service_with(tmp_path)
    model.generate = _answer("a small red fox")  # thin, and it lost words: stock tags would fill it
    plain = handle(service, {"prompt": "a fox in the snow, moonlight", "use_cache": False})
    terse = handle(service, {"prompt": "a fox in the snow, moonlight", "strategy": "terse", "use_cache": False})
    assert "sharp focus" in plain["enhanced_prompt"] and "sharp focus" not in terse["enhanced_prompt"]


def _answer(text):
    async def generate(request):
        return text
    return generate
