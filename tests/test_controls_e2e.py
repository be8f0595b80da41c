"""The job's controls through RunPod's local API on the embedded model: negative prompts and variants,
every bad value an error naming its field, `legacy` ignoring them."""

from __future__ import annotations

import httpx
import pytest

from conftest import free_port
from enhancer.negative import WAN_NEGATIVE_EN
from enhancer.tokens import clip_counter

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
    video = runsync({"prompt": "a red kite over a field", "job_type": "video_fast", "negative_prompt": True})["output"]
    assert video["negative_prompt"] == WAN_NEGATIVE_EN
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


BAD_CONTROLS = [  # (field, value, the error's start; None: a value that is fine)
    ("negative_prompt", 5, "negative_prompt: must be true, false or a non-empty string of terms"),
    ("negative_prompt", "1", None),  # a string is terms, not a flag: accepted
    ("negative_prompt", "   ", "negative_prompt: must be true, false or a non-empty string of terms"),
    ("variants", 0, "variants: must be an integer from 1 to 8 (got 0)"),
    ("variants", 9, "variants: must be an integer from 1 to 8 (got 9)"),
    ("variants", "2", "variants: has the wrong type"),
]


def test_a_bad_control_fails_the_job_with_an_error_naming_the_field_and_the_worker_serves_on(runsync):
    for field, value, message in BAD_CONTROLS:
        answer = runsync({"prompt": "a cat", field: value})
        if message is None:
            assert answer["status"] == "COMPLETED", (field, value, answer)
            continue
        assert answer["status"] == "FAILED" and answer["error"].startswith(message), (field, value, answer)
    assert runsync({"prompt": "a cat"})["output"]["success"] is True
