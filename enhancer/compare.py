"""Strategies compared offline: `python -m enhancer.eval --strategies A,B [--replay FILE] [--html OUT]`.

The same prompts go through each named strategy as enhance jobs would (`service.handle`, cache
off, `report` on), and each answer is kept with what the worker's report says of it: its score, its
tokens against the budget, the spans the model did not write and why the worker put them there.
`--html` writes the side-by-side page (compare_page.py).

With the model (the default), each strategy asks it with its own system prompt, strength and
sampling. With `--replay`, the model's text is the recorded answer for every strategy (the model
answered once, long ago), so strategies differ only in what the worker does after generation:
strength, stock phrases, negative prompt. The page says which it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any, Iterable

from .model import GenerationRequest
from .profiles import resolve_profile
from .service import EnhancementService

DEFAULT_JOB_TYPES = ("sdxl_image_fast", "video_fast")


@dataclasses.dataclass
class Take:
    """One strategy's answer to one prompt."""

    strategy: str
    template: str  # what ran: a selector's pick, else the strategy itself
    text: str
    source: str  # enhancement_source
    quality_score: float
    tokens: int
    budget: int
    added: list[dict[str, Any]]  # the report's `added`: {"text", "why", "span"}
    missing: list[str]  # the prompt's words the answer does not carry
    negative_prompt: str | None
    seconds: float
    error: str | None = None

    @property
    def fill(self) -> float:
        return self.tokens / self.budget if self.budget else 0.0

    @property
    def added_share(self) -> float:
        """The share of the answer's characters the model did not write."""
        return sum(end - start for start, end in (a["span"] for a in self.added)) / len(self.text) if self.text else 0.0


@dataclasses.dataclass
class Case:
    prompt: str
    job_type: str
    takes: dict[str, Take]  # by strategy, in the order asked


@dataclasses.dataclass
class Comparison:
    strategies: list[str]
    settings: dict[str, dict[str, Any]]  # each strategy as the file defines it
    cases: list[Case]
    model: str
    source: str  # where the prompts came from
    replayed: bool  # the model's text is recorded, the same for every strategy
    seconds: float

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per strategy: the figures the page charts."""
        out = {}
        for name in self.strategies:
            takes = [case.takes[name] for case in self.cases if name in case.takes]
            answered = [t for t in takes if t.error is None]
            out[name] = {
                "answers": len(answered),
                "errors": len(takes) - len(answered),
                "mean_quality_score": _mean(t.quality_score for t in answered),
                "mean_token_fill": _mean(t.fill for t in answered),
                "within_budget": sum(0 < t.tokens <= t.budget for t in answered),
                "rules_share": _mean(t.source == "emergency_fallback" for t in answered),
                "mean_added_share": _mean(t.added_share for t in answered),
                "missing_words": sum(len(t.missing) for t in answered),
                "latency_ms_p50": round(statistics.median(t.seconds for t in answered) * 1000, 1) if answered else None,
            }
        return out

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k != "cases"},
                "summary": self.summary(),
                "cases": [{"prompt": c.prompt, "job_type": c.job_type,
                           "takes": {n: dataclasses.asdict(t) for n, t in c.takes.items()}} for c in self.cases]}


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 4) if values else None


class RecordedAnswers:
    """Stands where the model would: each request is answered with the recorded answer to its
    prompt (`--replay`), so the rest of the job runs as it would on the worker."""

    tokenizer = None

    def __init__(self, source: str) -> None:
        self.model_id = f"recorded answers ({source})"
        self.answers: dict[str, str] = {}  # prompt -> the raw answer; set per job type

    async def generate(self, request: GenerationRequest) -> str | None:
        user = request.messages[-1][1]
        # build_messages puts the prompt between the last <idea> tags.
        prompt = user[user.rfind("<idea>") + len("<idea>"):user.rfind("</idea>")]
        return self.answers.get(prompt)

    def shutdown(self) -> None:
        pass


def unknown(service: EnhancementService, names: list[str]) -> str | None:
    """The error for names the service's strategies do not hold; None when it holds them all."""
    missing = [n for n in names if n not in service.catalogue.strategies]
    if not missing:
        return None
    known = ", ".join(sorted(service.catalogue.strategies))
    where = service.settings.strategies_file or "no STRATEGIES_FILE"
    warning = f" ({service.catalogue.warning})" if service.catalogue.warning else ""
    return f"--strategies: unknown {', '.join(map(repr, missing))}; known: {known} (from {where}){warning}"


async def _take(service: EnhancementService, prompt: str, job_type: str, strategy: str) -> Take:
    started = time.perf_counter()
    result = await service.handle({"prompt": prompt, "job_type": job_type, "strategy": strategy,
                                   "use_cache": False, "report": True})
    seconds = time.perf_counter() - started
    if not result.get("success", True) or "changes" not in result:
        profile = resolve_profile(job_type)
        return Take(strategy, strategy, result.get("enhanced_prompt") or "", "error", 0.0, 0, profile.budget,
                    [], [], None, seconds, error=result.get("error", "no answer"))
    changes = result["changes"]
    tokens = changes["tokens"]
    return Take(
        strategy=strategy, template=result.get("template", strategy), text=result["enhanced_prompt"],
        source=result["enhancement_source"], quality_score=result["quality_score"],
        tokens=max(tokens["encoders"].values()), budget=tokens["budget"], added=changes["added"],
        missing=[w["word"] for w in changes["words"] if w["carried"] == "missing"],
        negative_prompt=result.get("negative_prompt"), seconds=seconds)


async def compare(service: EnhancementService, strategies: list[str], work: dict[str, list[str]]) -> list[Case]:
    """Every prompt of `work` (job type -> prompts) through every strategy. A job type's prompts
    go in together, one strategy at a time, so the model batches them as a burst of jobs. One job
    of each job type runs first, untimed, so that no strategy's latency holds the start's."""
    cases = []
    for job_type, prompts in work.items():
        await _take(service, prompts[0], job_type, strategies[0])
        by_strategy = {}
        for name in strategies:
            by_strategy[name] = await asyncio.gather(*(_take(service, p, job_type, name) for p in prompts))
        cases += [Case(p, job_type, {n: by_strategy[n][i] for n in strategies}) for i, p in enumerate(prompts)]
    return cases


def run(service: EnhancementService, strategies: list[str], work: dict[str, list[str]], source: str,
        recorded: dict[str, dict[str, str]] | None = None) -> Comparison:
    """The comparison; `recorded` (job type -> prompt -> raw answer) when the service answers
    with RecordedAnswers."""
    started = time.perf_counter()

    async def all_cases() -> list[Case]:
        if recorded is None:
            return await compare(service, strategies, work)
        cases = []
        for job_type, prompts in work.items():
            service.generator.answers = recorded[job_type]
            cases += await compare(service, strategies, {job_type: prompts})
        return cases

    cases = asyncio.run(all_cases())
    settings = {name: service.catalogue.strategies[name].model_dump(exclude_defaults=True) for name in strategies}
    return Comparison(strategies, settings, cases, service.generator.model_id if service.generator else
                      "rules (emergency fallback)", source, recorded is not None, time.perf_counter() - started)


def replay_work(lines: list[dict[str, Any]], job_types: list[str] | None
                ) -> tuple[dict[str, list[str]], dict[str, dict[str, str]]]:
    """The replay corpus as work: each line through its own job type, or through each of
    `job_types`; and the recorded answer per job type and prompt."""
    work: dict[str, list[str]] = {}
    recorded: dict[str, dict[str, str]] = {}
    for line in lines:
        for job_type in job_types or [line["job_type"]]:
            answers = recorded.setdefault(job_type, {})
            if line["prompt"] not in answers:
                answers[line["prompt"]] = line["raw"]
                work.setdefault(job_type, []).append(line["prompt"])
    return work, recorded


def write_json(comparison: Comparison, path: Path) -> None:
    path.write_text(json.dumps(comparison.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")


def markdown(comparison: Comparison) -> str:
    """The summary as a table for the terminal."""
    summary = comparison.summary()
    columns = ("answers", "errors", "mean_quality_score", "mean_token_fill", "within_budget", "mean_added_share",
               "rules_share", "missing_words", "latency_ms_p50")
    lines = ["| strategy | " + " | ".join(columns) + " |", "| --- " * (len(columns) + 1) + "|"]
    for name, figures in summary.items():
        lines.append(f"| {name} | " + " | ".join("n/a" if figures[c] is None else str(figures[c]) for c in columns)
                     + " |")
    return "\n".join(lines)
