"""Throughput: 8 distinct jobs through the service one after another vs all at once, with the loop
stop (`STOP_LOOPS`, enhancer/stopping.py) off and on, side by side in one run; with `--against`, an
earlier revision of the worker measured the same way first.

    python bench/throughput.py [--against REV] [--jobs 8] [--job-type video_fast] [--stop-loops off on]
                               [--dtypes auto bfloat16]

Each configuration is a fresh warm service (embedded model unless MODEL_PATH/MODEL_NAME say
otherwise) with the cache off, so every job generates; each source runs in a process of its own
(REV's files from git archive, same machine and environment), one after the other, never at the
same time. `bench/serving.py` measures serving through RunPod's local API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time

from _common import ROOT, bench_settings, eval_prompts, handle_all, source_tree


async def run(service, prompts: list[str], job_type: str, together: bool):
    jobs = [{"prompt": p, "job_type": job_type, "use_cache": False, "include_raw": True} for p in prompts]
    before = service.generator.steps_run
    seconds, results = await handle_all(service, jobs, together)
    return seconds, service.generator.steps_run - before, results


async def measure(stop_loops: bool, dtype: str, prompts: list[str], job_type: str) -> dict:
    from enhancer.service import EnhancementService  # of BENCH_SOURCE's tree where set

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
        }
    finally:
        service.close()


async def measure_here(args) -> None:
    """Every configuration of this process's source, as one JSON line."""
    logging.basicConfig(level=logging.WARNING)
    prompts = eval_prompts()[: args.jobs]
    results = [{"setting": setting, **await measure(setting == "on", dtype, prompts, args.job_type)}
               for dtype in args.dtypes for setting in args.stop_loops]
    print(json.dumps(results))


def measure_source(root, args) -> list[dict]:
    command = [sys.executable, __file__, "--json", "--jobs", str(args.jobs), "--job-type", args.job_type,
               "--stop-loops", *args.stop_loops, "--dtypes", *args.dtypes]
    done = subprocess.run(command, env={**os.environ, "BENCH_SOURCE": str(root)}, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the measurement of {root} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="an earlier revision to measure first, for comparison")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--job-type", default="video_fast")
    parser.add_argument("--stop-loops", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--dtypes", nargs="+", default=["auto"], choices=["auto", "float32", "bfloat16", "float16"],
                        help="MODEL_DTYPE of each configuration (auto: float32 on a CPU)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one source, in a child process
    args = parser.parse_args()
    if args.json:
        asyncio.run(measure_here(args))
        return

    sources = ([(args.against, source_tree(args.against))] if args.against else []) + [("this tree", ROOT)]
    answers: dict[tuple, list[str]] = {}
    for index, (label, root) in enumerate(sources):
        for r in measure_source(root, args):
            if not answers:
                print(f"# bench/throughput.py, {time.strftime('%Y-%m-%d %H:%M')}: {args.jobs} distinct "
                      f"{args.job_type} jobs, model {r['model']}, device {r['device']}, cache off")
                print("| worker | dtype | loop stop | one after another (s) | all at once (s) | speed-up (goal >= 4x) | "
                      "decode steps one by one / at once | tokens per answer | same answer both modes |")
                print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            answers[label, r["dtype"], r["setting"]] = r["answers"]
            print(f"| {label} | {r['dtype']} | {r['setting']} | {r['one_by_one']:.2f} | {r['at_once']:.2f} | "
                  f"{r['one_by_one'] / r['at_once']:.2f}x | {r['steps_seq']} / {r['steps_together']} | "
                  f"{' '.join(map(str, r['raw_tokens']))} | {r['same_modes']}/{args.jobs} |", flush=True)
    print()
    for (label, dtype, setting), texts in answers.items():
        if label != "this tree" and ("this tree", dtype, setting) in answers:
            same = sum(a == b for a, b in zip(texts, answers["this tree", dtype, setting]))
            print(f"{dtype}, loop stop {setting}: final answers identical to {label}'s: {same}/{args.jobs}")
        if setting == "off" and (label, dtype, "on") in answers:
            same = sum(a == b for a, b in zip(texts, answers[label, dtype, "on"]))
            print(f"{label}, {dtype}: final answers identical with the loop stop off and on: {same}/{args.jobs}")


if __name__ == "__main__":
    main()
