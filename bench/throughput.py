"""Throughput: 8 distinct jobs through the handler one after another vs all at once.

    python bench/throughput.py [--jobs 8] [--job-type sdxl_image_fast]

Both runs use the same warm service (embedded model unless MODEL_PATH/MODEL_NAME say otherwise),
with the cache off so every job generates. GENERATION_ENGINE picks the engine (continuous, the
default, or batch); `bench/serving.py` compares both through RunPod's local API.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from _common import bench_settings, eval_prompts

from enhancer.service import EnhancementService


async def run(service: EnhancementService, prompts: list[str], job_type: str, together: bool):
    jobs = [{"prompt": p, "job_type": job_type, "use_cache": False} for p in prompts]
    before = (service.generator.batches_run, service.generator.rows_run)
    started = time.perf_counter()
    if together:
        results = await asyncio.gather(*(service.handle(job) for job in jobs))
    else:
        results = [await service.handle(job) for job in jobs]
    seconds = time.perf_counter() - started
    batches = service.generator.batches_run - before[0]
    return seconds, batches, results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--job-type", default="sdxl_image_fast")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    service = EnhancementService.build(bench_settings(max_batch_size=args.jobs))
    prompts = eval_prompts()[: args.jobs]
    await service.handle({"prompt": "warm up", "use_cache": False})

    one_by_one, calls_seq, sequential = await run(service, prompts, args.job_type, together=False)
    at_once, calls_batch, batched = await run(service, prompts, args.job_type, together=True)
    same = sum(a["enhanced_prompt"] == b["enhanced_prompt"] for a, b in zip(sequential, batched))

    print(f"# bench/throughput.py: {args.jobs} distinct {args.job_type} jobs, model {service.generator.model_id}, "
          f"device {service.generator.loaded.device}, engine {service.settings.generation_engine}")
    unit = "decode steps" if service.settings.generation_engine == "continuous" else "generate calls"
    print(f"| mode | seconds | jobs/s | {unit} |")
    print("| --- | --- | --- | --- |")
    print(f"| one after another | {one_by_one:.2f} | {args.jobs / one_by_one:.2f} | {calls_seq} |")
    print(f"| all at once | {at_once:.2f} | {args.jobs / at_once:.2f} | {calls_batch} |")
    print(f"\nspeed-up: {one_by_one / at_once:.2f}x (goal: at least 4x); "
          f"identical answers in both modes: {same}/{args.jobs}")
    service.close()


if __name__ == "__main__":
    asyncio.run(main())
