"""What the benchmark scripts share: the public prompts and a service on a throwaway cache."""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
