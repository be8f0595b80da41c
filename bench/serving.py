"""Serving through RunPod's local API: a short job behind a long one, and 8 concurrent jobs, for this
worker and, with `--against`, an earlier revision of it, side by side in one run.

    python bench/serving.py [--against REV [--against-engines continuous batch]] [--jobs 8] [--repeat 1]

For each worker, a fresh `handler.py --rp_serve_api` on a throwaway cache, cache off in every job:
- short alone: one sdxl_image_fast job with nothing else running;
- short behind long: the same job sent 1 s after a video_high job, while that one generates;
  the ratio is its time over its time alone (goal: at most 1.5x);
- 8 distinct video_fast jobs one after another, then all at once (goal: at least 4x).
`--against REV` runs REV's files (git archive) on the same machine and environment first, once per
engine of `--against-engines` (GENERATION_ENGINE: `batch` was the micro-batcher, before this worker
had one engine). The workers run one after the other, never at the same time, so they do not share
the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import ROOT, eval_prompts, source_tree
from load import free_port

SHORT = ("a red kite over a green field", "sdxl_image_fast")
LONG = ("a busy harbour at dawn, fishing boats leaving one by one", "video_high")


class Worker:
    def __init__(self, root: Path, engine: str | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CACHE_DIR": tempfile.mkdtemp(prefix="serving-cache-")}
        if engine:
            env["GENERATION_ENGINE"] = engine
        self.log_path = Path(tempfile.mkstemp(prefix="bench-serving-", suffix=".log")[1])
        self.process = subprocess.Popen(
            [sys.executable, "handler.py", "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port",
             str(self.port), "--rp_log_level", "ERROR"],
            cwd=root, env=env, stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
        )

    async def ready(self, client: httpx.AsyncClient) -> None:
        for _ in range(1200):
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log_path}")
            try:
                await client.get(self.base + "/docs")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
        raise TimeoutError("worker did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def job(client: httpx.AsyncClient, base: str, prompt: str, job_type: str) -> tuple[float, float, dict]:
    """(start, end) on the perf counter, and the output."""
    started = time.perf_counter()
    reply = (await client.post(base + "/runsync", json={"input": {
        "prompt": prompt, "job_type": job_type, "use_cache": False}})).json()
    if reply.get("status") != "COMPLETED":
        raise RuntimeError(f"job failed: {reply}")
    return started, time.perf_counter(), reply["output"]


async def measure(root: Path, engine: str | None, jobs: int, repeat: int) -> dict:
    worker = Worker(root, engine)
    try:
        async with httpx.AsyncClient(timeout=3600) as client:
            await worker.ready(client)
            base = worker.base
            for prompt, job_type in (("warm up", "sdxl_image_fast"), ("warm up", "video_fast"),
                                     ("warm up", "video_high")):
                await job(client, base, prompt, job_type)
            alone, behind, long_overlapped = [], [], []
            for _ in range(repeat):
                start, end, _ = await job(client, base, *SHORT)
                alone.append(end - start)

                async def short_later():
                    await asyncio.sleep(1.0)
                    return await job(client, base, *SHORT)

                (_, long_end, _), (short_start, short_end, _) = await asyncio.gather(
                    job(client, base, *LONG), short_later())
                behind.append(short_end - short_start)
                long_overlapped.append(long_end > short_end)
            prompts = eval_prompts()[:jobs]
            started = time.perf_counter()
            for prompt in prompts:
                await job(client, base, prompt, "video_fast")
            sequential = time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.gather(*(job(client, base, prompt, "video_fast") for prompt in prompts))
            together = time.perf_counter() - started
            info = (await client.post(base + "/runsync", json={"input": {"action": "info"}})).json()["output"]
    finally:
        worker.stop()
    return {"alone": statistics.median(alone), "behind": statistics.median(behind),
            "long_still_running": all(long_overlapped), "sequential": sequential, "together": together,
            "model": info["model"]["name"], "batching": info["batching"]}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="an earlier revision to run first, for comparison")
    parser.add_argument("--against-engines", nargs="+", default=["continuous"], choices=["batch", "continuous"],
                        help="GENERATION_ENGINE of the earlier revision's workers")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="short-alone / short-behind-long pairs (median)")
    args = parser.parse_args()
    workers = [(f"{args.against} {engine}", source_tree(args.against), engine)
               for engine in (args.against_engines if args.against else [])] + [("this tree", ROOT, None)]
    print(f"# bench/serving.py, {time.strftime('%Y-%m-%d %H:%M')}, through RunPod's local API; "
          f"{os.cpu_count()} CPUs; cache off; workers one after the other", flush=True)
    print("| worker | short alone (s) | short behind long (s) | ratio (goal <= 1.5x) | long still running | "
          f"{args.jobs} video_fast one by one (s) | {args.jobs} at once (s) | speed-up (goal >= 4x) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for label, root, engine in workers:  # each row printed as soon as it is measured
        r = await measure(root, engine, args.jobs, args.repeat)
        print(f"| {label} | {r['alone']:.2f} | {r['behind']:.2f} | {r['behind'] / r['alone']:.2f}x | "
              f"{'yes' if r['long_still_running'] else 'no'} | {r['sequential']:.2f} | {r['together']:.2f} | "
              f"{r['sequential'] / r['together']:.2f}x |", flush=True)
        print(f"<!-- {label}: model {r['model']}; {r['batching']} -->", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
