"""What an enhance job runs with, settled once before the cache: its profile at its strength, the
system prompt, the sampling and the negative prompt, from the job's fields, then its strategy's
(strategies.py), then the defaults. The job's own fields always win: they are the caller's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from . import variants
from .profiles import Profile, fills_most_of_budget, resolve_profile
from .schemas import JobInput
from .strategies import Choice, Sampling
from .tokens import TokenCounter


@dataclass(frozen=True)
class Plan:
    profile: Profile
    strength_chosen_by: str  # caller, strategy, auto or default
    system_prompt: str | None  # the caller's, else the strategy's; None: the profile's own
    choice: Choice
    negative_prompt: bool | str
    seeds: tuple[int | None, ...]  # one per take; None: greedy
    temperature: float | None = None  # a sampling strategy's; None: SAMPLING's for a seeded take
    top_p: float | None = None


def make(job: JobInput, choice: Choice, counter_for: Callable[[Profile], TokenCounter]) -> Plan:
    strategy = choice.settings
    if job.strength:
        strength, chosen_by = job.strength, "caller"
    elif strategy.strength:
        strength, chosen_by = strategy.strength, "strategy"
    else:
        plain = resolve_profile(job.job_type, job.quality)
        auto = fills_most_of_budget(job.prompt, plain, counter_for(plain))
        strength, chosen_by = ("light", "auto") if auto else ("balanced", "default")
    profile = resolve_profile(job.job_type, job.quality, strength)
    if not strategy.stock_phrases:
        profile = replace(profile, stock_phrases=False)
    sampling = strategy.sampling if isinstance(strategy.sampling, Sampling) else None
    negative = job.negative_prompt if "negative_prompt" in job.model_fields_set else bool(strategy.negative_prompt)
    # A sampling strategy samples the job's own take too: with the job's seed, else one that
    # follows from the prompt, so that the answer stays repeatable and cacheable.
    seeds = variants.seeds(job.seed, job.prompt, job.variants, sample_first=sampling is not None)
    return Plan(profile, chosen_by, job.system_prompt or strategy.system_prompt_for(profile), choice, negative,
                tuple(seeds), sampling.temperature if sampling else None, sampling.top_p if sampling else None)
