"""The Supabase edge function (examples/supabase-edge-function) run for real with Node.

Its TypeScript is type-checked and compiled with the pinned `typescript` from the example's
package-lock.json (`npm ci` runs first when node_modules is missing), then:
- its unit tests run against a scripted fake of RunPod's API (cold start, polling, TIMED_OUT, HTTP errors);
- its request logic and its Deno.serve wrapper call RunPod's local API, `python handler.py --rp_serve_api`,
  serving the embedded model: /runsync, /run + /status polling, FAILED, unreachable, deadlines.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, free_port, subprocess_env, wait_for_http

EXAMPLE = ROOT / "examples" / "supabase-edge-function"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def node_major() -> int:
    if not NODE:
        return 0
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        return int(version.lstrip("v").split(".")[0])
    except ValueError:
        return 0


pytestmark = pytest.mark.skipif(
    not NODE or not NPM or node_major() < 20,
    reason="the edge-function tests need Node.js >= 20 with npm on PATH (node and npm not found, or too old)",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The example compiled to ES modules in a temporary folder (tsc also type-checks it, strictly)."""
    if not (EXAMPLE / "node_modules" / "typescript" / "package.json").is_file():
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed in {EXAMPLE}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    out = tmp_path_factory.mktemp("edge-dist")
    tsc = EXAMPLE / "node_modules" / "typescript" / "bin" / "tsc"
    done = subprocess.run(
        [NODE, str(tsc), "-p", "tsconfig.json", "--outDir", str(out)],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"tsc failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
    (out / "package.json").write_text('{"type": "module"}\n')
    return out


def run_node(built: Path, scenario: dict, timeout: float = 400) -> dict:
    done = subprocess.run(
        [NODE, str(built / "test" / "live.js"), json.dumps(scenario)], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def enhance(built: Path, **options) -> dict:
    return run_node(built, {"call": "enhancePrompt", "options": options})


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    """RunPod's local API over handler.py (embedded model, its own cache), as users start it."""
    tmp = tmp_path_factory.mktemp("edge-local-api")
    port = free_port()
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
            cwd=ROOT, env=subprocess_env(tmp / "cache"), stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/docs", process)
    except Exception:
        process.kill()
        raise AssertionError(log_path.read_text()[-4000:])
    yield base
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


# One generation on the embedded model; the other live calls send the same job and hit the cache.
GOOD_JOB = {
    "prompt": "a red fox in the snow",
    "jobType": "sdxl_image_fast",
    "systemPrompt": "You write comma-separated SDXL prompts. Keep the subject first.",
    "context": {"style": "wildlife photography", "brand": "acme"},
}


@pytest.fixture(scope="module")
def good_job(local_api, built) -> dict:
    return enhance(built, endpointUrl=local_api, deadlineMs=300_000, **GOOD_JOB)


def test_unit_tests_against_a_fake_runpod_api(built):
    done = subprocess.run(
        [NODE, "--test", str(built / "test" / "enhance.test.js")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_runsync_completes_with_the_callers_system_prompt(good_job):
    assert good_job["source"] == "runpod", good_job
    assert good_job["status"] == "COMPLETED"
    assert good_job["calls"] == ["runsync"]
    assert "red fox" in good_job["enhancedPrompt"].lower()
    assert good_job["enhancedPrompt"] != GOOD_JOB["prompt"]
    assert good_job["enhancementSource"] == "edge_function"
    assert good_job["jobId"].startswith("test-")
    assert good_job["output"]["success"] is True and good_job["output"]["job_type"] == "sdxl_image_fast"


def test_run_then_status_polling(local_api, built, good_job):
    # The local API runs a /run job only when its /status is asked for, and only with POST:
    # the client's GET gets 405, and it goes on with POST.
    result = enhance(built, endpointUrl=local_api, deadlineMs=120_000, mode="async", **GOOD_JOB)
    assert result["source"] == "runpod", result
    assert result["calls"] == ["run", "status", "status"]
    assert result["enhancedPrompt"] == good_job["enhancedPrompt"]
    assert result["output"]["cache_hit"] is True


def test_the_deno_serve_wrapper(local_api, built, good_job):
    body = {
        "prompt": GOOD_JOB["prompt"], "job_type": GOOD_JOB["jobType"], "system_prompt": GOOD_JOB["systemPrompt"],
        "context": GOOD_JOB["context"], "deadline_ms": 120_000,
    }
    answer = run_node(built, {"call": "index", "env": {"RUNPOD_ENDPOINT_URL": local_api}, "body": body})
    assert answer["httpStatus"] == 200
    reply = answer["body"]
    assert reply["success"] is True and reply["source"] == "runpod" and reply["status"] == "COMPLETED"
    assert reply["enhanced_prompt"] == good_job["enhancedPrompt"]
    assert reply["enhancement_source"] == "edge_function" and reply["cache_hit"] is True

    missing = run_node(built, {"call": "index", "env": {}, "body": {"prompt": "a cat"}})
    assert missing["body"]["source"] == "fallback" and missing["body"]["enhanced_prompt"] == "a cat"
    assert "RUNPOD_ENDPOINT_ID" in missing["body"]["reason"]
    no_key = run_node(built, {"call": "index", "env": {"RUNPOD_ENDPOINT_ID": "abc"}, "body": {"prompt": "a cat"}})
    assert "RUNPOD_API_KEY" in no_key["body"]["reason"]
    bad = run_node(built, {"call": "index", "env": {"RUNPOD_ENDPOINT_URL": local_api}, "body": {"prompt": " "}})
    assert bad["httpStatus"] == 400 and bad["body"]["error"].startswith("prompt:")


def test_the_client_passes_a_negative_prompt_and_variants_and_returns_both(local_api, built):
    result = enhance(built, endpointUrl=local_api, deadlineMs=300_000, prompt="a paper boat on a pond",
                     jobType="video_fast", negativePrompt="rain", variants=2)
    assert result["source"] == "runpod", result
    assert result["negativePrompt"].startswith("rain, ") and "worst quality" in result["negativePrompt"]
    assert result["variants"][0] == result["enhancedPrompt"] and 1 <= len(result["variants"]) <= 2


def test_the_client_passes_strength_kept_terms_and_report_and_returns_the_changes(local_api, built):
    result = enhance(built, endpointUrl=local_api, deadlineMs=300_000, prompt="a paper boat on a pond <lora:ink:0.5>",
                     jobType="sdxl_image_fast", strength="light", keepTerms=["ohwx style"], report=True)
    assert result["source"] == "runpod", result
    assert "ohwx style" in result["enhancedPrompt"] and "<lora:ink:0.5>" in result["enhancedPrompt"]
    changes = result["changes"]
    assert changes["strength"] == {"applied": "light", "chosen_by": "caller"}
    for entry in changes["kept_terms"]:
        start, end = entry["span"]
        assert result["enhancedPrompt"][start:end] == entry["term"]
    bad = enhance(built, endpointUrl=local_api, deadlineMs=60_000, prompt="a koi pond", keepTerms="koi")
    assert bad["source"] == "fallback" and "keep_terms" in bad["reason"]


def test_a_failed_job_returns_the_original_prompt(local_api, built):
    result = enhance(built, endpointUrl=local_api, prompt="a koi pond", jobType="gif", deadlineMs=60_000)
    assert result["source"] == "fallback"
    assert result["status"] == "FAILED"
    assert result["enhancedPrompt"] == "a koi pond"
    assert "job_type" in result["reason"] and "sdxl_image_fast" in result["reason"]


def test_an_unreachable_endpoint_returns_the_original_prompt(built):
    result = enhance(built, endpointUrl=f"http://127.0.0.1:{free_port()}", prompt="a koi pond", deadlineMs=10_000)
    assert result["source"] == "fallback"
    assert result["status"] == "NETWORK_ERROR"
    assert result["enhancedPrompt"] == "a koi pond"
    assert "could not be reached" in result["reason"]


def test_a_tiny_deadline_returns_the_original_prompt(local_api, built, good_job):
    result = enhance(built, endpointUrl=local_api, deadlineMs=1, **GOOD_JOB)
    assert result["source"] == "fallback", result
    assert result["status"] == "DEADLINE_EXCEEDED"
    assert result["enhancedPrompt"] == GOOD_JOB["prompt"]
    assert "deadline of 1 ms exceeded" in result["reason"]


def test_a_deadline_while_the_endpoint_does_not_answer(built):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        result = enhance(built, endpointUrl=f"http://127.0.0.1:{port}", prompt="a koi pond", deadlineMs=700)
    assert result["status"] == "DEADLINE_EXCEEDED"
    assert result["enhancedPrompt"] == "a koi pond"
    assert "waiting for /runsync" in result["reason"]
    assert result["elapsedMs"] < 3000
