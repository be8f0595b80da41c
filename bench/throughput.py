"""Throughput: 8 distinct jobs through the service one after another vs all at once, with the loop
stop (`STOP_LOOPS`, enhancer/stopping.py) off and on, side by side in one run.

    python bench/throughput.py [--jobs 8] [--job-type video_fast] [--stop-loops off on] [--dtypes auto bfloat16]

Each configuration is a fresh warm service (embedded model unless MODEL_PATH/MODEL_NAME say
otherwise) with the cache off, so every job generates; they run one after the other, never at the
same time. GENERATION_ENGINE picks the engine (continuous, the default, or batch); `bench/serving.py`
compares the engines through RunPod's local API.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from _common import bench_settings, eval_prompts

from enhancer.service import EnhancementService


async def run(service: EnhancementService, prompts: list[str], job_type: str, together: bool):
    jobs = [{"prompt": p, "job_type": job_type, "use_cache": False, "include_raw": True} for p in prompts]
    before = service.generator.batches_run
    started = time.perf_counter()
    if together:
        results = await asyncio.gather(*(service.handle(job) for job in jobs))
    else:
        results = [await service.handle(job) for job in jobs]
    return time.perf_counter() - started, service.generator.batches_run - before, results


async def measure(stop_loops: bool, dtype: str, prompts: list[str], job_type: str) -> dict:
    service = EnhancementService.build(bench_settings(max_batch_size=len(prompts), stop_loops=stop_loops,
                                                      model_dtype=dtype))
    try:
        await service.handle({"prompt": "warm up", "job_type": job_type, "use_cache": False})
        one_by_one, steps_seq, sequential = await run(service, prompts, job_type, together=False)
        at_once, steps_together, together = await run(service, prompts, job_type, together=True)
        tokenizer = service.generator.tokenizer
        return {
            "one_by_one": one_by_one, "at_once": at_once, "steps_seq": steps_seq, "steps_together": steps_together,
            "answers": [r["enhanced_prompt"] for r in sequential],
            "same_modes": sum(a["enhanced_prompt"] == b["enhanced_prompt"] for a, b in zip(sequential, together)),
            "raw_tokens": [len(tokenizer(r["raw_model_text"] or "")["input_ids"]) for r in sequential],
            "model": service.generator.model_id, "device": service.generator.loaded.device,
            "dtype": service.generator.loaded.dtype,
            "engine": service.settings.generation_engine,
        }
    finally:
        service.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--job-type", default="video_fast")
    parser.add_argument("--stop-loops", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--dtypes", nargs="+", default=["auto"], choices=["auto", "float32", "bfloat16", "float16"],
                        help="MODEL_DTYPE of each configuration (auto: float32 on a CPU)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    prompts = eval_prompts()[: args.jobs]

    results = {}
    for dtype in args.dtypes:
        for setting in args.stop_loops:
            results[dtype, setting] = r = await measure(setting == "on", dtype, prompts, args.job_type)
            if len(results) == 1:
                print(f"# bench/throughput.py, {time.strftime('%Y-%m-%d %H:%M')}: {args.jobs} distinct "
                      f"{args.job_type} jobs, model {r['model']}, device {r['device']}, engine {r['engine']}, cache off")
                print("| dtype | loop stop | one after another (s) | all at once (s) | speed-up (goal >= 4x) | "
                      "decode steps one by one / at once | tokens per answer | same answer both modes |")
                print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            print(f"| {r['dtype']} | {setting} | {r['one_by_one']:.2f} | {r['at_once']:.2f} | "
                  f"{r['one_by_one'] / r['at_once']:.2f}x | {r['steps_seq']} / {r['steps_together']} | "
                  f"{' '.join(map(str, r['raw_tokens']))} | {r['same_modes']}/{args.jobs} |", flush=True)
    print()
    for dtype in args.dtypes:
        if (dtype, "off") in results and (dtype, "on") in results:
            off, on = results[dtype, "off"], results[dtype, "on"]
            same = sum(a == b for a, b in zip(off["answers"], on["answers"]))
            print(f"{off['dtype']}: final answers identical with the loop stop off and on: {same}/{args.jobs}; "
                  f"one after another {off['one_by_one'] / on['one_by_one']:.2f}x faster with it, all at once "
                  f"{off['at_once'] / on['at_once']:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
