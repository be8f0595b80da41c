"""Two workers sharing one volume (or one Redis server, CACHE_URL) and one strategies file, through
RunPod's local API on the embedded model: the same user gets the same arm on both, per-arm counts
seen from either worker are what was sent, feedback for an unknown request is refused."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from conftest import free_port

pytestmark = pytest.mark.e2e

STRATEGIES = {
    "strategies": {
        "terse": {"system_prompt": {"sdxl": "Write at most eight short comma-separated tags."}, "strength": "light"},
        "vivid": {"sampling": {"temperature": 0.8, "top_p": 0.9}, "negative_prompt": True},
    },
    "experiments": {"tone": {"arms": {"terse": 1, "vivid": 1}, "key": "context.user_id", "default": True}},
}


@pytest.mark.parametrize("store", ["volume", "redis"])
def test_two_workers_share_arms_and_counts_and_refuse_unknown_feedback(serve, tmp_path, request, store):
    path = tmp_path / "strategies.json"
    path.write_text(json.dumps(STRATEGIES), encoding="utf-8")
    shared = {"CACHE_URL": request.getfixturevalue("redis_server").url} if store == "redis" else {}
    workers = []
    for _ in range(2):
        port = free_port()
        workers.append(serve(["handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port",
                              str(port)], port, "/docs", STRATEGIES_FILE=str(path), **shared))

    def run(base: str, job_input: dict) -> dict:
        reply = httpx.post(f"{base}/runsync", json={"input": job_input}, timeout=600).json()
        assert reply["status"] == "COMPLETED", reply
        return reply["output"]

    sent: dict[str, int] = {"terse": 0, "vivid": 0}
    ids: dict[str, list[str]] = {"terse": [], "vivid": []}
    for user in range(4):
        job = {"prompt": "a lighthouse on a cliff", "context": {"user_id": f"user-{user}"}}
        answers = [run(base, job) for base in workers]  # the second is the first's cache entry
        assert answers[0]["arm"] == answers[1]["arm"] and answers[0]["experiment"] == "tone"
        assert answers[0]["strategy"] == answers[0]["arm"] and answers[1]["cache_hit"] is True
        for answer in answers:
            sent[answer["arm"]] += 1
            ids[answer["arm"]].append(answer["request_id"])
    assert len({i for arm in ids.values() for i in arm}) == 8  # every response its own id

    # Outcomes given through either worker, for answers of either.
    for n, request_id in enumerate(ids["terse"] + ids["vivid"]):
        feedback = run(workers[n % 2], {"action": "feedback", "request_id": request_id,
                                        "outcome": "kept" if n % 2 else "edited", "score": 0.5})
        assert feedback["success"] is True
    unknown = httpx.post(f"{workers[0]}/runsync", json={"input": {"action": "feedback", "request_id": "nope",
                                                                   "outcome": "kept"}}, timeout=60).json()
    assert unknown["status"] == "FAILED" and unknown["error"].startswith("request_id: unknown 'nope'")

    for base in workers:
        deadline = time.monotonic() + 30
        while True:  # the other worker writes its records a few at a time
            block = run(base, {"action": "info"})["strategies"]
            arms = block["experiments"]["tone"]["arms"]
            counts = {arm: arms[arm]["requests"] for arm in sent}
            judged = {arm: sum(arms[arm]["outcomes"].values()) for arm in sent}
            if (counts, judged) == (sent, sent) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert counts == sent and judged == sent
        assert block["strategies"]["default"]["requests"] == 0
        assert all(arms[arm]["external_score"]["n"] == sent[arm] for arm in sent)
    # The records live in the store the workers share: the volume's directory, or the server.
    assert (tmp_path / "outcomes").is_dir() == (store == "volume")
