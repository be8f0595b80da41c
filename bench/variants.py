"""Variants: one job with `variants: 4` against 4 separate jobs and against one job of one variant,
in one run (goal on this CPU: 4 variants in at most 2x the time of one).

    python bench/variants.py [--variants 4] [--prompts 4] [--job-type sdxl_image_fast]

A fresh warm service (embedded model unless MODEL_PATH/MODEL_NAME say otherwise), cache off. For
each prompt: one job of one variant; one job of N variants (decoded together as rows of one batch);
N separate jobs with the same seeds, one after another, then all at once. Medians over the prompts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import time

from _common import bench_settings, eval_prompts, handle_all

from enhancer.service import EnhancementService
from enhancer.variants import seeds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--job-type", default="sdxl_image_fast")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    service = EnhancementService.build(bench_settings(max_batch_size=max(8, args.variants)))
    base = {"job_type": args.job_type, "use_cache": False}
    await service.handle({**base, "prompt": "warm up"})
    rows = {"one variant": [], f"{args.variants} variants, one job": [],
            f"{args.variants} separate jobs, one after another": [], f"{args.variants} separate jobs, at once": []}
    kept = []
    for prompt in eval_prompts()[: args.prompts]:
        job = {**base, "prompt": prompt}
        separate = [{**job, "seed": seed} if seed is not None else job
                    for seed in seeds(None, prompt, args.variants)]
        one, _ = await handle_all(service, [job], together=True)
        many, [output] = await handle_all(service, [{**job, "variants": args.variants}], together=True)
        sequential, _ = await handle_all(service, separate, together=False)
        together, _ = await handle_all(service, separate, together=True)
        for name, seconds in zip(rows, (one, many, sequential, together)):
            rows[name].append(seconds)
        kept.append(len(output.get("variants", [output])))
    one = statistics.median(rows["one variant"])
    print(f"# bench/variants.py, {time.strftime('%Y-%m-%d %H:%M')}: {args.prompts} {args.job_type} prompts, "
          f"model {service.generator.model_id}, device {service.generator.loaded.device}, cache off")
    print("| run | median seconds | vs one variant |")
    print("| --- | --- | --- |")
    for name, samples in rows.items():
        print(f"| {name} | {statistics.median(samples):.2f} | {statistics.median(samples) / one:.2f}x |")
    print(f"distinct variants kept per job (of {args.variants}): {kept}")
    service.close()


if __name__ == "__main__":
    asyncio.run(main())
