"""What the benchmark scripts share: the public prompts and a service on a throwaway cache."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BENCH_SOURCE: another checkout's root, whose `enhancer` a bench measures instead (see source_tree).
sys.path.insert(0, os.environ.get("BENCH_SOURCE") or str(ROOT))

from enhancer.config import Settings  # noqa: E402


def eval_prompts() -> list[str]:
    path = ROOT / "enhancer" / "data" / "prompts.txt"
    if not path.exists():
        path = ROOT.parent / "shared" / "eval" / "prompts.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def bench_settings(**overrides) -> Settings:
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    return dataclasses.replace(Settings.from_env(), cache_dir=cache_dir, **overrides)


async def handle_all(service, jobs: list[dict], together: bool) -> tuple[float, list[dict]]:
    """(seconds, outputs) of jobs through the service, all at once or one after another."""
    import asyncio
    import time

    started = time.perf_counter()
    if together:
        outputs = list(await asyncio.gather(*(service.handle(job) for job in jobs)))
    else:
        outputs = [await service.handle(job) for job in jobs]
    return time.perf_counter() - started, outputs


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@functools.cache
def source_tree(revision: str) -> Path:
    """This repository's files at `revision`, unpacked in a temporary directory: a bench runs an
    earlier worker beside today's in one run, on the same machine and virtual environment."""
    target = Path(tempfile.mkdtemp(prefix=f"bench-{revision[:12]}-"))
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target
