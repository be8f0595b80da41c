"""What one decode step costs by batch size, per dtype: why batching gains less on a CPU than on a GPU.

    python bench/steps.py [--dtypes float32 bfloat16] [--batches 1 2 4 8] [--context 300]

The worker's model (the embedded one unless MODEL_PATH/MODEL_NAME say otherwise), one dtype after the
other in one run: a 226-token prefill (a system prompt's length), then decode steps at each batch size
on a KV cache of `--context` tokens, as the continuous engine runs them (enhancer/decode.py: the slot
cache, a 4D mask, each row's own positions, the eager step a CPU runs). Median of the steps; the last column is what batching
buys: b rows in one step against b steps of one row.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import bench_settings

from enhancer.decode import Decoder
from enhancer.model import load_with_fallback


def step_ms(model, batch: int, context: int, steps: int) -> float:
    import torch
    from transformers import DynamicCache

    decoder = Decoder(model, batch, context + steps + 1)
    prefill = DynamicCache()
    model(input_ids=torch.randint(100, 1000, (1, context)), cache=prefill, use_cache=True, logits_to_keep=1)
    prompt = [(layer.keys, layer.values) for layer in prefill.layers]
    for slot in range(batch):
        decoder.cache.place(slot, prompt, context, context + steps + 1)
    times = []
    for i in range(steps):
        started = time.perf_counter()
        logits = decoder.step(batch, context + i + 1)
        decoder.advance(logits.argmax(dim=-1))
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def prefill_ms(model, tokens: int = 226, repeats: int = 3) -> float:
    import torch

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model(input_ids=torch.randint(100, 1000, (1, tokens)), logits_to_keep=1)
        times.append(time.perf_counter() - started)
    return 1000 * min(times)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--context", type=int, default=300)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    batches = sorted(set(args.batches) | {1})  # batch 1 is what the others are compared with

    loaded = load_with_fallback(bench_settings())
    print(f"# bench/steps.py, {time.strftime('%Y-%m-%d %H:%M')}: {loaded.source.model_id} on {loaded.device}, "
          f"{torch.get_num_threads()} threads, context {args.context} tokens, median of {args.steps} steps")
    print("| dtype | prefill 226 tokens (ms) | batch | ms/step | vs batch 1 | tokens/s | b steps of 1 row / 1 step of b |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with torch.inference_mode():
        for name in args.dtypes:
            model = loaded.model.to(getattr(torch, name))
            step_ms(model, 1, args.context, 3)  # first calls allocate
            prefill = prefill_ms(model)
            for batch in batches:
                ms = step_ms(model, batch, args.context, args.steps)
                if batch == 1:
                    single = ms
                print(f"| {name} | {prefill:.0f} | {batch} | {ms:.1f} | {ms / single:.2f}x | {1000 * batch / ms:.0f} | "
                      f"{batch * single / ms:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
