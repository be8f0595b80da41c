"""The job's controls through RunPod's local API on the embedded model: negative prompts, variants,
strength, kept terms and the change report, every bad value an error naming its field, `legacy`
ignoring them."""

from __future__ import annotations

import httpx
import pytest

from conftest import free_port
from enhancer.negative import WAN_NEGATIVE_EN
from enhancer.tokens import clip_counter

KEPT_IN_PROMPT = ('"OPEN"', "(red door:1.3)", "<lora:film_grain:0.6>")

pytestmark = pytest.mark.e2e


@pytest.fixture
def runsync(serve):
    port = free_port()
    base = serve(["handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                 port, "/docs")

    def run(job_input: dict) -> dict:
        return httpx.post(f"{base}/runsync", json={"input": job_input}, timeout=600).json()

    return run


def test_negative_prompts_and_variants_through_the_local_api(runsync):
    image = runsync({"prompt": "a cartoon fox with bokeh lights", "job_type": "sdxl_image_fast",
                     "negative_prompt": True})["output"]
    terms = image["negative_prompt"].split(", ")
    assert "watermark" in terms and "blurry" not in terms and clip_counter().count(image["negative_prompt"]) <= 75
    video = runsync({"prompt": "a red kite over a field", "job_type": "video_fast", "negative_prompt": True,
                     "report": True})["output"]
    # Wan2.1's published default, in its order, but for the terms the report says were left out and why.
    removed = {r["term"] for r in video["changes"]["negative_removed"]}
    assert video["negative_prompt"].split(", ") == [t for t in WAN_NEGATIVE_EN.split(", ") if t not in removed]
    assert len(removed) <= 4 and all(r["reason"] for r in video["changes"]["negative_removed"])
    merged = runsync({"prompt": "a red kite over a field", "job_type": "sdxl_image_fast",
                      "negative_prompt": "extra tails, watermark"})["output"]
    assert merged["negative_prompt"].startswith("extra tails, watermark, ")
    assert merged["negative_prompt"].count("watermark") == 1

    plain = runsync({"prompt": "a lighthouse in a storm", "job_type": "sdxl_image_fast"})["output"]
    assert "variants" not in plain and "negative_prompt" not in plain
    takes = runsync({"prompt": "a lighthouse in a storm", "job_type": "sdxl_image_fast", "variants": 3})["output"]
    texts = [take["enhanced_prompt"] for take in takes["variants"]]
    assert takes["enhanced_prompt"] == texts[0] == plain["enhanced_prompt"]
    assert 1 <= len(texts) <= 3 and len(set(texts)) == len(texts)
    assert takes["variants"][0]["seed"] is None and all(isinstance(t["seed"], int) for t in takes["variants"][1:])
    assert all(0 <= take["quality_score"] <= 10 for take in takes["variants"])
    again = runsync({"prompt": "a lighthouse in a storm", "job_type": "sdxl_image_fast", "variants": 3})["output"]
    assert again["cache_hit"] is True and again["variants"] == takes["variants"]  # cached as a unit

    legacy = runsync({"action": "legacy", "prompt": "a lighthouse", "job_type": "sdxl_image_fast",
                      "variants": 3, "negative_prompt": True})["output"]
    assert legacy["success"] is True and "variants" not in legacy and "negative_prompt" not in legacy


def assert_spans_hold(changes: dict, text: str) -> None:
    """Every span of the report is [start, end) into the enhanced prompt and holds what it names."""
    located = [(w["span"], w["by"]) for w in changes["words"] if "span" in w]
    located += [(k["span"], k["term"]) for k in changes["kept_terms"]] + [(a["span"], a["text"]) for a in changes["added"]]
    assert located
    for (start, end), shown in located:
        assert text[start:end] == shown, (start, end, shown, text)


def test_kept_terms_strength_and_the_report_through_the_local_api(runsync):
    prompt = 'a neon sign reading "OPEN" over a (red door:1.3), rainy street <lora:film_grain:0.6>'
    image = runsync({"prompt": prompt, "job_type": "sdxl_image_fast", "keep_terms": ["ohwx style"], "report": True,
                     "negative_prompt": True, "strength": "rich"})["output"]
    text, changes = image["enhanced_prompt"], image["changes"]
    assert all(term in text for term in (*KEPT_IN_PROMPT, "ohwx style")), text
    tokens = clip_counter().count(text)
    assert tokens <= 75 and changes["tokens"] == {"encoders": {"clip_vit_l": tokens, "openclip_vit_bigg": tokens},
                                                  "budget": 75, "counted_with": "clip-bpe"}
    assert changes["strength"] == {"applied": "rich", "chosen_by": "caller"}
    assert [k["term"] for k in changes["kept_terms"]] == ["ohwx style", *KEPT_IN_PROMPT]
    assert {w["word"] for w in changes["words"]} >= {"neon", "sign", "door", "street"}
    assert all(w["carried"] != "missing" for w in changes["words"])
    assert_spans_hold(changes, text)
    # The positive asks for lettering: the negative may not ask it away, and the report says so.
    assert "text" not in image["negative_prompt"].split(", ")
    assert any(r["term"] == "text" and "lettering" in r["reason"] for r in changes["negative_removed"])

    video = runsync({"prompt": "a paper boat drifts on a pond", "job_type": "video_fast", "keep_terms": ["ohwx"],
                     "report": True})["output"]
    assert "ohwx" in video["enhanced_prompt"] and list(video["changes"]["tokens"]["encoders"]) == ["umt5_xxl"]
    assert_spans_hold(video["changes"], video["enhanced_prompt"])

    # A prompt that fills most of the budget is touched lightly unless the caller says otherwise.
    long = ("an old fisherman mending a green net on a wooden pier at dawn, gulls overhead, mist on the water, "
            "stacked lobster traps, coils of rope, a red rowing boat, a distant lighthouse")
    assert runsync({"prompt": long, "report": True})["output"]["changes"]["strength"] == \
        {"applied": "light", "chosen_by": "auto"}
    assert runsync({"prompt": long, "strength": "balanced", "report": True})["output"]["changes"]["strength"] == \
        {"applied": "balanced", "chosen_by": "caller"}
    light = runsync({"prompt": "a lighthouse in a storm", "strength": "light"})["output"]
    assert "a lighthouse in a storm" in light["enhanced_prompt"].lower()  # the user's wording and order stay
    rich = runsync({"prompt": "a lighthouse in a storm", "strength": "rich"})["output"]
    assert rich["cache_hit"] is False  # the strength is part of the cache key
    assert "changes" not in light and "changes" not in rich

    legacy = runsync({"action": "legacy", "prompt": "a lighthouse", "keep_terms": ["ohwx"], "report": True,
                      "strength": "light"})["output"]
    assert legacy["success"] is True and "changes" not in legacy


BAD_CONTROLS = [  # (field, value, the error's start; None: a value that is fine)
    ("negative_prompt", 5, "negative_prompt: must be true, false or a non-empty string of terms"),
    ("negative_prompt", "1", None),  # a string is terms, not a flag: accepted
    ("negative_prompt", "   ", "negative_prompt: must be true, false or a non-empty string of terms"),
    ("variants", 0, "variants: must be an integer from 1 to 8 (got 0)"),
    ("variants", 9, "variants: must be an integer from 1 to 8 (got 9)"),
    ("variants", "2", "variants: has the wrong type"),
    ("strength", "max", "strength: must be one of light, balanced, rich (got 'max')"),
    ("strength", 2, "strength: has the wrong type"),
    ("strength", "light", None),
    ("keep_terms", "ohwx", "keep_terms: has the wrong type"),
    ("keep_terms", [""], "keep_terms: term 0 is empty"),
    ("keep_terms", ["ok", 3], "keep_terms.1: has the wrong type"),
    ("keep_terms", ["x"] * 17, "keep_terms: must hold at most 16 terms (got 17)"),
    ("keep_terms", ["x" * 201], "keep_terms: term 0 is longer than 200 characters"),
    ("keep_terms", ["ab1 " * 49], "keep_terms: kept verbatim beside the quality tags, 'ab1 ab1"),
    ("keep_terms", [], None),
    ("report", "yes", "report: has the wrong type"),
    ("report", False, None),
]


def test_a_bad_control_fails_the_job_with_an_error_naming_the_field_and_the_worker_serves_on(runsync):
    for field, value, message in BAD_CONTROLS:
        answer = runsync({"prompt": "a cat", field: value})
        if message is None:
            assert answer["status"] == "COMPLETED", (field, value, answer)
            continue
        assert answer["status"] == "FAILED" and answer["error"].startswith(message), (field, value, answer)
    assert runsync({"prompt": "a cat"})["output"]["success"] is True
