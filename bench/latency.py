"""In-process latency of the paths that must not wait for the model.

    python bench/latency.py [--iterations 2000]

Cache hit (handle() of a job whose answer is stored), the emergency path (handle() of a new
prompt each time on a worker with no model), and exact CLIP counting of a 75-token SDXL prompt.
Goal: cache hit and emergency path under 1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import time

from _common import bench_settings, eval_prompts, percentile

from enhancer.cache import PromptCache
from enhancer.service import EnhancementService
from enhancer.tokens import clip_counter

SDXL_75 = (
    "masterpiece, best quality, highly detailed, a red fox in a snowy forest, thick orange fur, "
    "frost on whiskers, pine trees, falling snow, soft natural lighting, golden hour, rim light, "
    "sharp focus, intricate details, depth of field, 85mm lens, wildlife photography, cinematic"
)


async def time_async(call, iterations: int) -> list[float]:
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def time_sync(call, iterations: int) -> list[float]:
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def row(name: str, samples: list[float], goal: str) -> str:
    ms = [s * 1000 for s in samples]
    return (f"| {name} | {percentile(ms, 50):.3f} | {percentile(ms, 95):.3f} | {percentile(ms, 99):.3f} "
            f"| {len(ms)} | {goal} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    n = args.iterations

    service = EnhancementService.build(bench_settings())
    # Emergency answers are not cached (a later job should get the model's), so the stored job
    # is one the embedded model answers.
    job = {"prompt": "a castle on a hill", "job_type": "sdxl_image_fast"}
    stored = await service.handle(job)
    assert stored["cache_hit"] is False
    if stored["enhancement_source"] == "emergency_fallback":
        raise SystemExit(f"the model gave no usable answer for {job['prompt']!r}: nothing to cache")
    assert (await service.handle(job))["cache_hit"] is True
    hits = await time_async(lambda: service.handle(job), n)

    settings = bench_settings()
    no_model = EnhancementService(settings, None, PromptCache(settings.cache_dir, "bench"))
    # A different prompt every iteration (the public prompts, numbered), so that no memo of the
    # text functions is warm from an earlier iteration: the figure is that of a new prompt.
    prompts = (f"{p} {i}" for i, p in enumerate(itertools.cycle(eval_prompts())))

    def fresh(job_type: str):
        return no_model.handle({"prompt": next(prompts), "job_type": job_type, "use_cache": False})

    assert (await fresh("sdxl_image_fast"))["enhancement_source"] == "emergency_fallback"
    emergency = await time_async(lambda: fresh("sdxl_image_fast"), n)
    emergency_video = await time_async(lambda: fresh("video_high"), n)

    counter = clip_counter()
    assert counter.count(SDXL_75) <= 77
    counting = time_sync(lambda: counter.count(SDXL_75), n)

    print(f"# bench/latency.py: {n} iterations each, model {service.generator.model_id}")
    print("| path | p50 ms | p95 ms | p99 ms | samples | goal |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(row("cache hit, handle()", hits, "< 1 ms"))
    print(row("emergency path, handle(), sdxl_fast", emergency, "< 1 ms"))
    print(row("emergency path, handle(), wan_high", emergency_video, "< 1 ms"))
    print(row(f"exact CLIP count ({counter.count(SDXL_75)} tokens)", counting, "-"))
    service.close()
    no_model.close()


if __name__ == "__main__":
    asyncio.run(main())
