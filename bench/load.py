"""Load: 500 jobs through RunPod's local API, 16 at a time, and the worker's memory before and after.

    python bench/load.py [--jobs 500] [--concurrency 16]

The mix: 75% enhance over the public prompts and all five job types, 20% exact duplicates of earlier
jobs (cache hits or shared generations), 5% bad input; `info` every 50 jobs. The worker is
`handler.py --rp_serve_api` on a free loopback port, on a throwaway cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _common import ROOT, eval_prompts, percentile

JOB_TYPES = ["sdxl_image_fast", "sdxl_image_high", "video_fast", "video_high", "wan_7b_enhanced"]
BAD = [
    {"prompt": ""}, {"prompt": "x", "job_type": "gif"}, {"prompt": 5}, {"prompt": "x", "seed": "1"},
    {"prompt": "x", "context": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, {"prompt": "x" * 5000},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_jobs(count: int, rng: random.Random) -> list[tuple[str, dict]]:
    prompts, jobs = eval_prompts(), []
    for i in range(count):
        roll = rng.random()
        if i and i % 50 == 0:
            jobs.append(("info", {"action": "info"}))
        elif roll < 0.05:
            jobs.append(("bad input", rng.choice(BAD)))
        elif roll < 0.25 and jobs:
            kind, job = rng.choice([j for j in jobs if j[0] == "enhance"] or jobs)
            jobs.append(("duplicate", job))
        else:
            jobs.append(("enhance", {"prompt": rng.choice(prompts), "job_type": rng.choice(JOB_TYPES)}))
    return jobs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    port = free_port()
    env = {**os.environ, "CACHE_DIR": tempfile.mkdtemp(prefix="load-cache-"), "MAX_CONCURRENCY": str(args.concurrency)}
    log = open(Path(tempfile.gettempdir()) / "bench-load-worker.log", "w")
    worker = subprocess.Popen(
        [sys.executable, "handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port),
         "--rp_log_level", "ERROR"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=600) as client:
            for _ in range(600):
                try:
                    await client.get(base + "/docs")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.5)
            await client.post(base + "/runsync", json={"input": {"prompt": "warm up", "use_cache": False}})
            rss_before = rss_mib(worker.pid)

            jobs = make_jobs(args.jobs, random.Random(args.seed))
            gate = asyncio.Semaphore(args.concurrency)
            outcomes: Counter[str] = Counter()
            by_kind: dict[str, list[float]] = {}
            latencies: list[float] = []
            # Resident memory every 100 answers: growth that levels off is bounded, a steady climb is a leak.
            rss_track: list[tuple[int, float]] = [(0, rss_before)]

            async def send(kind: str, job: dict) -> None:
                async with gate:
                    started = time.perf_counter()
                    try:
                        reply = (await client.post(base + "/runsync", json={"input": job})).json()
                        status = reply.get("status")
                        output = reply.get("output") or {}
                        if status == "COMPLETED" and output.get("success", True):
                            outcome = "ok" if kind != "bad input" else "bad input ACCEPTED"
                            if output.get("cache_hit"):
                                outcome = "ok (cache hit)"
                        elif status == "FAILED" and kind == "bad input":
                            outcome = "refused bad input (FAILED)"
                        else:
                            outcome = f"error: {status} {str(reply.get('error'))[:60]}"
                    except httpx.HTTPError as exc:
                        outcome = f"transport error: {type(exc).__name__}"
                    seconds = time.perf_counter() - started
                    outcomes[outcome] += 1
                    latencies.append(seconds)
                    by_kind.setdefault(kind, []).append(seconds)
                    if len(latencies) % 100 == 0:
                        rss_track.append((len(latencies), rss_mib(worker.pid)))

            started = time.perf_counter()
            await asyncio.gather(*(send(kind, job) for kind, job in jobs))
            wall = time.perf_counter() - started
            rss_after = rss_mib(worker.pid)
            alive = worker.poll() is None
            info = (await client.post(base + "/runsync", json={"input": {"action": "info"}})).json()["output"]
    finally:
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:  # uvicorn's graceful shutdown can wait on open requests
            worker.kill()

    print(f"# bench/load.py: {len(jobs)} jobs, {args.concurrency} at a time, through RunPod's local API; "
          f"model {info['model']['name']}")
    print(f"wall {wall:.1f}s, {len(jobs) / wall:.1f} jobs/s; worker still serving after the run: "
          f"{'yes' if alive else 'NO'}\n")
    print("| outcome | jobs |")
    print("| --- | --- |")
    for outcome, count in sorted(outcomes.items()):
        print(f"| {outcome} | {count} |")
    print("\n| jobs | count | p50 s | p95 s | p99 s |")
    print("| --- | --- | --- | --- | --- |")
    for kind, samples in sorted(by_kind.items()) + [("all", latencies)]:
        print(f"| {kind} | {len(samples)} | {percentile(samples, 50):.3f} | {percentile(samples, 95):.3f} | "
              f"{percentile(samples, 99):.3f} |")
    print(f"\nworker resident memory: {rss_before:.0f} MiB after warm-up, {rss_after:.0f} MiB after the run "
          f"({rss_after - rss_before:+.0f} MiB); decode steps run {info['batching']['steps_run']}, "
          f"rows {info['batching']['rows_run']}; cache entries {info['cache']['entries']}")
    print("resident memory by answers done: " + ", ".join(f"{n}: {mib:.0f} MiB" for n, mib in rss_track))


if __name__ == "__main__":
    asyncio.run(main())
