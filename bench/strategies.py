"""Strategies: what selection and the outcome records add to a job, and what `info` costs with many
records, in one run (goals: under 1 ms a job; `info` with 10 strategies and 100 000 requests).

    python bench/strategies.py [--jobs 2000] [--records 100000] [--redis redis://127.0.0.1:6379/0]

Per job, side by side on the same prompts: a rules-only job (no model: the cost of everything
but generation) without a strategies file and with one of 10 strategies (a selector among them)
and a default experiment, strategies that answer as the default does; and the added calls alone
(choose the strategy, make the plan, record the response). Then 100 000 requests (a fifth of them with feedback) written by two workers into
one directory, and `info.strategies` and the whole `info` read from a third worker; with `--redis`,
the same on that server (CACHE_URL's store; the bench empties its records first and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _common import bench_settings, eval_prompts

from enhancer import plan
from enhancer.cache import PromptCache
from enhancer.outcomes import Request, VolumeStore
from enhancer.outcomes.redis_store import RedisStore
from enhancer.schemas import parse_job_input
from enhancer.service import EnhancementService


def strategies_file(directory: Path) -> Path:
    """10 strategies that answer as the built-in default does (so that a job does the same work
    with the file as without it, and the difference is what selection and records cost): 9 plain
    ones, a selector of 4 rules over them, and a default experiment of 3 arms."""
    strategies: dict = {f"s{n}": {"stock_phrases": True} for n in range(9)}
    strategies["auto"] = {"selector": [{"when": {"style": "anime"}, "use": "s1"},
                                       {"when": {"content": "animal", "length": "short"}, "use": "s2"},
                                       {"when": {"language": "zh"}, "use": "s3"}, {"use": "s4"}]}
    body = {"strategies": strategies,
            "experiments": {"ab": {"arms": {"s0": 1, "s5": 1, "auto": 2}, "key": "context.user_id", "default": True}}}
    path = directory / "strategies.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def rules_service(directory: Path, strategies: Path | None) -> EnhancementService:
    settings = bench_settings(worker_id=f"bench-{uuid.uuid4().hex[:6]}", outcomes_dir=directory / "outcomes",
                              strategies_file=str(strategies) if strategies else None)
    return EnhancementService(settings, None, PromptCache(settings.cache_dir, settings.worker_id))


async def per_job(service: EnhancementService, prompts: list[str], jobs: int) -> list[float]:
    seconds = []
    for n in range(jobs):
        job = {"prompt": prompts[n % len(prompts)], "use_cache": False, "context": {"user_id": f"u{n % 97}"}}
        started = time.perf_counter()
        await service.handle(job)
        seconds.append(time.perf_counter() - started)
    return seconds


def added_calls(service: EnhancementService, prompts: list[str], jobs: int) -> list[float]:
    """Only what strategies add to a job: choose, plan, record."""
    parsed = [parse_job_input({"prompt": p, "context": {"user_id": f"u{n}"}}, service.settings)
              for n, p in enumerate(prompts)]
    seconds = []
    for n in range(jobs):
        job = parsed[n % len(parsed)]
        started = time.perf_counter()
        choice = service.catalogue.choose(job.prompt, job.context, job.strategy, job.experiment)
        plan.make(job, choice, service._counter)
        service.outcomes.record(Request(uuid.uuid4().hex, choice.strategy, choice.experiment, choice.arm, 0.5,
                                        False, False, 12.0))
        seconds.append(time.perf_counter() - started)
    return seconds


def fill(open_worker, records: int) -> None:
    names = [f"s{n}" for n in range(9)] + ["auto"]
    for worker in ("w1", "w2"):
        store = open_worker(worker)
        for n in range(records // 2):
            rid = f"{worker}-{n}"
            strategy = names[n % len(names)]
            arm = strategy if strategy in ("s0", "s5", "auto") else None
            store.record(Request(rid, strategy, "ab" if arm else None, arm, (n % 10) / 10, n % 7 == 0, n % 3 == 0,
                                 5 + n % 50, time.time()))
            if n % 5 == 0:
                store.feedback(rid, ("kept", "edited", "regenerated", "discarded")[n % 4], (n % 100) / 100)
        store.flush(timeout=120)
        store.close()


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.3f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--redis", metavar="URL", help="also measure the records on this Redis server")
    args = parser.parse_args()
    prompts = eval_prompts()
    work = Path(tempfile.mkdtemp(prefix="bench-strategies-"))
    path = strategies_file(work)

    plain, strategic = rules_service(work / "plain", None), rules_service(work / "strategic", path)
    for service in (plain, strategic):  # warm: token counters, regexes, caches of the text checks
        await per_job(service, prompts, len(prompts))
    rounds = {"plain": [], "strategic": []}
    for _ in range(4):  # interleaved, so that the host's drift falls on both
        rounds["plain"] += await per_job(plain, prompts, args.jobs // 4)
        rounds["strategic"] += await per_job(strategic, prompts, args.jobs // 4)
    added = added_calls(strategic, prompts, args.jobs)
    print(f"# bench/strategies.py, {time.strftime('%Y-%m-%d %H:%M')}: {args.jobs} rules-only jobs each way, "
          f"{len(prompts)} public prompts, 10 strategies (a selector of 4 rules), a default experiment of 3 arms")
    print("| per job | median ms | p95 ms |")
    print("| --- | --- | --- |")
    for name, samples in (("rules-only job, no strategies file", rounds["plain"]),
                          ("rules-only job, 10 strategies and an experiment", rounds["strategic"]),
                          ("the added calls alone (choose, plan, record)", added)):
        print(f"| {name} | {ms(samples)} | {sorted(samples)[int(0.95 * len(samples))] * 1000:.3f} |")
    print(f"added per job (median difference of the two jobs): "
          f"{(statistics.median(rounds['strategic']) - statistics.median(rounds['plain'])) * 1000:.3f} ms")
    for service in (plain, strategic):
        service.close()

    stores = {"volume": lambda worker: VolumeStore(work / "records", worker)}
    if args.redis:
        RedisStore(args.redis).reset()
        stores["redis"] = lambda worker: RedisStore(args.redis)
    print("\n| store | write: requests and feedbacks, 2 workers | info.strategies from a third worker (median ms) "
          "| the whole info action (median ms) | requests counted |")
    print("| --- | --- | --- | --- | --- |")
    for name, open_worker in stores.items():
        started = time.perf_counter()
        fill(open_worker, args.records)
        written = time.perf_counter() - started
        reader = rules_service(work / f"reader-{name}", path)
        reader.outcomes.close()
        reader.outcomes = open_worker("reader")
        summary, summaries, infos = await read(reader)
        counted = sum(s["requests"] for s in summary["strategies"].values())
        print(f"| {name} | {args.records} + {args.records // 5} in {written:.1f} s | {ms(summaries)} | {ms(infos)} "
              f"| {counted} |")
        if name == "redis":
            reader.outcomes.reset()
        reader.close()
    print(f"leader of experiment ab: {summary['experiments']['ab']['leader']}")


async def read(reader: EnhancementService) -> tuple[dict, list[float], list[float]]:
    summaries, infos = [], []
    for _ in range(5):
        started = time.perf_counter()
        summary = reader.outcomes.summary(sorted(reader.catalogue.strategies), {"ab": ["auto", "s0", "s5"]})
        summaries.append(time.perf_counter() - started)
        started = time.perf_counter()
        await reader.handle({"action": "info"})
        infos.append(time.perf_counter() - started)
    return summary, summaries, infos


if __name__ == "__main__":
    asyncio.run(main())
