"""Several takes on one prompt: their seeds, and which of them are distinct. Pure functions.

The first take is the job's own answer (greedy, or the job's seed), so `enhanced_prompt` of a job
with variants is the answer the same job without them gets; the others sample with seeds that follow
from the job's seed, or from the prompt where it has none, so a job asked again gets the same takes.
"""

from __future__ import annotations

import hashlib
import re

# Two takes whose word sets overlap this much say the same thing.
NEAR_DUPLICATE = 0.85


def _base(job_seed: int | None, prompt: str) -> int:
    if job_seed is not None:
        return job_seed
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "big")


def seeds(job_seed: int | None, prompt: str, count: int, sample_first: bool = False) -> list[int | None]:
    """The seeds of `count` takes: the job's own first (None: greedy, unless `sample_first`),
    then sampled ones."""
    base = _base(job_seed, prompt)
    first = base if sample_first else job_seed
    return [first] + [(base + i) % 2**32 for i in range(1, count)]


def replacement_seeds(job_seed: int | None, prompt: str, count: int) -> list[int]:
    """Seeds for `count` takes that replace near-duplicates, none of them a first take's."""
    base = _base(job_seed, prompt)
    return [(base + 1000 + i) % 2**32 for i in range(count)]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def similarity(a: str, b: str) -> float:
    left, right = _words(a), _words(b)
    return len(left & right) / len(left | right) if left | right else 1.0


def repeats(a: str, b: str) -> bool:
    """Whether two takes say the same thing."""
    return similarity(a, b) >= NEAR_DUPLICATE
