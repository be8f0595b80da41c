"""The worker as users start it: RunPod's local API, the HTTP routes, the CLI, the local test job."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT, free_port, subprocess_env
from enhancer.tokens import clip_counter

pytestmark = pytest.mark.e2e


def test_runpod_local_api_runsync_completes_and_fails_bad_input(serve):
    port = free_port()
    base = serve(
        ["handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
        port, "/docs",
    )
    ok = httpx.post(f"{base}/runsync", json={"input": {"prompt": "a koi pond", "job_type": "video_fast"}},
                    timeout=300).json()
    assert ok["status"] == "COMPLETED"
    assert ok["output"]["success"] is True and "koi pond" in ok["output"]["enhanced_prompt"]
    assert ok["output"]["enhancement_source"] == "worker_fallback"

    bad = httpx.post(f"{base}/runsync", json={"input": {"prompt": "a koi pond", "job_type": "gif"}},
                     timeout=60).json()
    assert bad["status"] == "FAILED"
    assert bad["error"].startswith("job_type: must be one of sdxl_image_fast")

    info = httpx.post(f"{base}/runsync", json={"input": {"action": "info"}}, timeout=60).json()
    assert info["status"] == "COMPLETED" and info["output"]["model_loaded"] is True


def test_http_routes_serve_the_seed_api(serve):
    port = free_port()
    base = serve(["-m", "enhancer.http"], port, "/health", HTTP_PORT=str(port), HTTP_HOST="127.0.0.1")
    assert httpx.get(f"{base}/health").json()["model_loaded"] is True

    body = {"prompt": "beautiful woman", "job_type": "sdxl_image_fast", "quality": "fast"}
    enhanced = httpx.post(f"{base}/enhance", json=body, timeout=300)
    assert enhanced.status_code == 200
    assert clip_counter().count(enhanced.json()["enhanced_prompt"]) <= 75
    assert httpx.post(f"{base}/enhance", json=body, timeout=60).json()["cache_hit"] is True

    edge_body = {**body, "prompt": "a castle on a hill",
                 "system_prompt": "Describe the picture in detailed comma-separated tags."}
    intelligent = httpx.post(f"{base}/enhance/intelligent", json=edge_body, timeout=300)
    assert intelligent.json()["enhancement_source"] == "edge_function"
    legacy = httpx.post(f"{base}/enhance/legacy", json=body, timeout=300).json()
    assert "enhancement_source" not in legacy and legacy["success"] is True

    controls = httpx.post(f"{base}/enhance", json={**body, "negative_prompt": "extra tails", "variants": 2},
                          timeout=300).json()
    assert controls["negative_prompt"].startswith("extra tails, ")
    assert controls["variants"][0]["enhanced_prompt"] == controls["enhanced_prompt"]
    bad_control = httpx.post(f"{base}/enhance", json={**body, "variants": 12})
    assert bad_control.status_code == 400 and bad_control.json()["error"].startswith("variants: must be an integer")
    steered = httpx.post(f"{base}/enhance", json={**body, "strength": "rich", "keep_terms": ["ohwx"], "report": True},
                         timeout=300).json()
    assert "ohwx" in steered["enhanced_prompt"] and steered["changes"]["strength"]["applied"] == "rich"
    bad_strength = httpx.post(f"{base}/enhance", json={**body, "strength": "max"})
    assert bad_strength.status_code == 400 and bad_strength.json()["error"].startswith("strength: must be one of")
    judged = httpx.post(f"{base}/enhancement/feedback", json={"request_id": steered["request_id"], "outcome": "kept"})
    assert judged.status_code == 200 and judged.json()["outcome"] == "kept"
    unknown = httpx.post(f"{base}/enhancement/feedback", json={"request_id": "nope", "outcome": "kept"})
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("request_id: unknown")

    bad = httpx.post(f"{base}/enhance", json={"prompt": "   "})
    assert bad.status_code == 400
    assert bad.json() == {"success": False, "error": "prompt: must not be empty or only whitespace",
                          "enhanced_prompt": "   "}
    not_json = httpx.post(f"{base}/enhance", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"].startswith("input:")

    info = httpx.get(f"{base}/enhancement/info").json()
    assert info["cache_size"] >= 1
    cleared = httpx.post(f"{base}/enhancement/cache/clear").json()
    assert cleared["success"] is True and cleared["cleared"] >= 1 and cleared["cache_size"] == 0


def run_cli(args: list[str], cache_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "enhancer", *args], cwd=ROOT, env=subprocess_env(cache_dir),
        capture_output=True, text=True, timeout=600,
    )


def test_cli_prints_the_prompt_and_the_cache_is_shared_across_processes_and_restarts(tmp_path):
    cache_dir = tmp_path / "shared-cache"
    first = run_cli(["a cat", "--job-type", "video_high"], cache_dir)
    assert first.returncode == 0, first.stderr
    text = first.stdout.strip()
    assert "cat" in text.lower() and text.endswith((".", "!", "?"))

    # A second process is another worker: the first one exited (its lease released), so the second
    # takes its shard over, and must find the first one's entry.
    second = run_cli(["a cat", "--job-type", "video_high", "--json"], cache_dir)
    assert second.returncode == 0, second.stderr
    response = json.loads(second.stdout)
    assert response["cache_hit"] is True and response["enhanced_prompt"] == text
    assert len([p for p in cache_dir.iterdir() if p.is_dir()]) == 1

    bad = run_cli(["   "], cache_dir)
    assert bad.returncode == 1 and bad.stderr.startswith("prompt:")

    steered = run_cli(["a cat on a roof", "--strength", "light", "--keep", "ohwx", "--keep", "Tom", "--report"],
                      cache_dir)
    assert steered.returncode == 0, steered.stderr
    prompt, report = steered.stdout.split("\n", 1)
    assert "ohwx" in prompt and "Tom" in prompt
    assert json.loads(report)["strength"] == {"applied": "light", "chosen_by": "caller"}


def test_python_handler_py_runs_the_local_test_job(tmp_path):
    done = subprocess.run(
        [sys.executable, "handler.py"], cwd=ROOT, env=subprocess_env(tmp_path / "cache"),
        capture_output=True, text=True, timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Job result" in output and "a castle on a hill" in output
    assert "'enhancement_source': 'worker_fallback'" in output  # the model's answer, not the rules'
    assert "Local testing complete" in output


def test_two_http_workers_share_a_redis_cache_and_a_server_killed_mid_run_fails_no_job(serve, redis_server):
    """CACHE_URL: restart-proof and shared between workers, cleared everywhere, and never a failed job."""
    ports = [free_port(), free_port()]
    a, b = (serve(["-m", "enhancer.http"], port, "/health", HTTP_PORT=str(port), HTTP_HOST="127.0.0.1",
                  CACHE_URL=redis_server.url) for port in ports)
    body = {"prompt": "beautiful woman", "job_type": "sdxl_image_fast", "quality": "fast"}  # the model's answer

    def enhance(base):
        reply = httpx.post(f"{base}/enhance", json=body, timeout=300)
        assert reply.status_code == 200 and reply.json()["success"] is True, reply.text
        return reply.json()

    first = enhance(a)
    assert first["cache_hit"] is False
    shared = enhance(b)  # the other worker's answer
    assert shared["cache_hit"] is True and shared["enhanced_prompt"] == first["enhanced_prompt"]
    assert httpx.get(f"{b}/enhancement/info").json()["cache"]["store"] == "redis"
    assert httpx.post(f"{b}/enhancement/cache/clear").json()["cleared"] == 1
    assert httpx.get(f"{a}/enhancement/info").json()["cache_size"] == 0  # the clear on b reached a

    redis_server.kill()
    assert enhance(a)["cache_hit"] is False  # a miss, answered by the model
    assert httpx.get(f"{a}/enhancement/info").json()["cache"]["available"] is False
    redis_server.start()  # empty: the test server keeps nothing on disk
    replies = []
    deadline = time.monotonic() + 120
    while not (replies and replies[-1]["cache_hit"]) and time.monotonic() < deadline:
        replies.append(enhance(a))  # the worker retries the server 2 s after a failure
        time.sleep(0.5)
    assert replies[-1]["cache_hit"] is True
