"""The worker's continuous-batching engine against transformers' own ContinuousBatchingManager, in
process, on the same model and prompts, in one run.

    python bench/engines.py [--jobs 8] [--new-tokens 64] [--job-type video_fast]

Both greedy. transformers' manager (5.24) drops the repetition penalty (its processors see only the
last token), so its answers are also compared with those of plain `generate` with the worker's
settings. Its config on the CPU: paged cache of page_size 64 (a page above the system prompt's
length shares nothing), num_blocks and max_batch_tokens set (else it sizes the cache from free RAM).
"""

from __future__ import annotations

import argparse
import logging
import time

import torch
from _common import bench_settings, eval_prompts

from enhancer.engine import ContinuousGenerator
from enhancer.model import REPETITION_PENALTY, GenerationRequest, load_with_fallback
from enhancer.profiles import resolve_profile
from enhancer.service import build_messages


def plain(loaded, request: GenerationRequest) -> list[int]:
    tokenizer = loaded.tokenizer
    ids = prompt_ids(loaded, request)
    with torch.inference_mode():
        output = loaded.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                       max_new_tokens=request.max_new_tokens, do_sample=False,
                                       repetition_penalty=REPETITION_PENALTY, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, len(ids):], skip_special_tokens=True)


def prompt_ids(loaded, request: GenerationRequest) -> list[int]:
    tokenizer = loaded.tokenizer
    text = tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in request.messages], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def transformers_cb(loaded, requests: list[GenerationRequest], new_tokens: int) -> tuple[float, list[str]]:
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    tokenizer = loaded.tokenizer
    config = GenerationConfig(max_new_tokens=new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id)
    longest = max(len(prompt_ids(loaded, r)) for r in requests) + new_tokens
    paged = ContinuousBatchingConfig(num_blocks=len(requests) * (longest // 64 + 2), max_batch_tokens=512,
                                     page_size=64)
    inputs = [prompt_ids(loaded, r) for r in requests]
    started = time.perf_counter()
    with torch.inference_mode():
        outputs = loaded.model.generate_batch(inputs=inputs, generation_config=config,
                                              continuous_batching_config=paged, warmup=False)
    seconds = time.perf_counter() - started
    ordered = sorted(outputs.values(), key=lambda o: inputs.index(o.prompt_ids))
    return seconds, [tokenizer.decode(o.generated_tokens, skip_special_tokens=True) for o in ordered]


def ours(engine: ContinuousGenerator, requests: list[GenerationRequest]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    results = engine.generate_batch(requests)
    return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--job-type", default="video_fast")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    loaded = load_with_fallback(bench_settings())
    profile = resolve_profile(args.job_type, None)
    requests = [GenerationRequest(build_messages(p, profile, None, {}), args.new_tokens)
                for p in eval_prompts()[: args.jobs]]
    expected = [plain(loaded, r) for r in requests]
    # The loop stop off: plain generate and transformers' manager have none, and the figures compare
    # the engines' mechanics on the same tokens.
    engine = ContinuousGenerator(loaded, max_batch_size=args.jobs, stop_loops=False)
    ours(engine, requests[:1])  # keeps the system prompt, as a warm worker has
    transformers_cb(loaded, requests[:1], 4)  # first-use costs out of the figures

    rows = []
    for name, run in (("worker (enhancer/engine.py)", lambda batch: ours(engine, batch)),
                      ("transformers ContinuousBatchingManager", lambda batch: transformers_cb(loaded, batch,
                                                                                                args.new_tokens))):
        alone, _ = run(requests[:1])
        together, answers = run(requests)
        same = sum(a == b for a, b in zip(answers, expected))
        rows.append((name, alone, together, same))

    print(f"# bench/engines.py: {args.jobs} distinct {args.job_type} prompts, greedy, {args.new_tokens} new tokens at "
          f"most, model {loaded.source.model_id}, {loaded.device}, {time.strftime('%Y-%m-%d %H:%M')}")
    print("| engine | 1 request (s) | all at once (s) | answers equal to plain generate (worker settings) |")
    print("| --- | --- | --- | --- |")
    for name, alone, together, same in rows:
        print(f"| {name} | {alone:.2f} | {together:.2f} | {same}/{args.jobs} |")
    engine.shutdown()


if __name__ == "__main__":
    main()
