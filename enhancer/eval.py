"""Quality evaluation on real prompts: `python -m enhancer.eval [FILE]`.

Every prompt of FILE (default: the public prompts in enhancer/data/prompts.txt) goes through the
service for every job type, the way a RunPod job would (`service.handle`, cache off), and each
answer is checked for what users of prompt enhancers complain about: over the encoder's limit,
the subject changed, chatter, invented people, repetition, the wrong language, silent no-ops.

    python -m enhancer.eval                      # the model the worker would load
    python -m enhancer.eval --emergency          # the rules-only path (no model)
    python -m enhancer.eval --limit 8 --job-types sdxl_image_fast video_fast --json out.json
    python -m enhancer.eval --strategies default,terse --limit 8 --html report.html   # compare.py

Prompts of one job type are submitted together, so the worker's micro-batching runs them as it
would a burst of concurrent jobs: latency percentiles are per request under that burst.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import compare, compare_page, plan, replay
from .cache import PromptCache
from .config import Settings
from .detect import (
    chatter_markers,
    has_chatter,
    invents_person,
    is_non_english,
    language_ok,
    repeated_parts,
)
from .postprocess.checks import off_picture
from .postprocess.text import sentences
from .profiles import JOB_TYPES, Profile, resolve_profile
from .quality import assess
from .schemas import parse_job_input
from .service import EnhancementService, build_messages
from .subject import (
    asks_for_person,
    content_words,
    invents_animal,
    subject_coverage,
    subject_verdict,
)
from .tokens import clip_counter, video_counter

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "data" / "prompts.txt"


def load_prompts(path: Path) -> list[str]:
    """One prompt a line; blank lines and '#' comment lines (the source header) are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def is_noop(answer: str, original: str) -> bool:
    """The answer adds no word of its own to the user's prompt: a silent no-op."""
    have = set(content_words(original))
    return not [w for w in content_words(answer) if w not in have]


@dataclasses.dataclass
class Row:
    """One prompt's answer and what the checks found in it."""

    prompt: str
    answer: str
    raw: str | None
    source: str
    seconds: float
    tokens: int
    budget: int
    prompt_tokens: int
    within_budget: bool
    coverage: float
    subject_kept: bool
    cross_language: bool  # answered in another language, and no word of the prompt to compare
    off_picture: list[str]
    chatter: list[str]
    invented_person: bool
    invented_animal: bool
    repeated: list[str]
    language_ok: bool
    non_english: bool
    noop: bool
    score: float
    raw_score: float | None
    unchanged_score: float
    raw_chatter: bool | None


def check(prompt: str, answer: str, source: str, raw: str | None, profile: Profile, counter,
          seconds: float) -> Row:
    """Every check on one answer; the counter is the one the service budgets with, so the score
    is the `quality_score` the service returned."""
    tokens = counter.count(answer)
    markers = chatter_markers(answer, prompt)
    if has_chatter(answer, prompt) and not markers:
        markers = ["(markup)"]
    verdict = subject_verdict(answer, prompt)
    return Row(
        prompt=prompt,
        answer=answer,
        raw=raw,
        source=source,
        seconds=seconds,
        tokens=tokens,
        budget=profile.budget,
        prompt_tokens=counter.count(prompt),
        within_budget=0 < tokens <= profile.budget,
        coverage=subject_coverage(answer, prompt),
        subject_kept=verdict is True,
        cross_language=verdict is None,
        off_picture=[u for u in sentences(answer) if off_picture(u, prompt)],
        chatter=markers,
        invented_person=invents_person(answer, prompt),
        invented_animal=invents_animal(answer, prompt),
        repeated=repeated_parts(answer, profile.family),
        language_ok=language_ok(answer, prompt, profile.family),
        non_english=is_non_english(prompt),
        noop=is_noop(answer, prompt),
        score=assess(answer, prompt, profile, counter).score,
        raw_score=assess(raw, prompt, profile, counter).score if raw is not None else None,
        unchanged_score=assess(prompt, prompt, profile, counter).score,
        raw_chatter=has_chatter(raw, prompt) if raw is not None else None,
    )


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "n/a"


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summarize(rows: list[Row], counter_name: str) -> dict[str, Any]:
    n = len(rows)
    fitting = [r for r in rows if r.prompt_tokens <= r.budget and not r.cross_language]
    person_free = [r for r in rows if not asks_for_person(r.prompt)]
    foreign = [r for r in rows if r.non_english]
    english = [r for r in rows if not r.non_english]
    raws = [r for r in rows if r.raw_score is not None]
    ms = [r.seconds * 1000 for r in rows]
    return {
        "answers": n,
        "counted_with": counter_name,
        "within_budget": sum(r.within_budget for r in rows),
        "fitting_prompts": len(fitting),
        "subject_kept": sum(r.subject_kept for r in fitting),
        "cross_language": sum(r.cross_language for r in rows),
        "off_picture": sum(bool(r.off_picture) for r in rows),
        "chatter": sum(bool(r.chatter) for r in rows),
        "person_free_prompts": len(person_free),
        "invented_person": sum(r.invented_person for r in person_free),
        "invented_animal": sum(r.invented_animal for r in rows),
        "repetition": sum(bool(r.repeated) for r in rows),
        "noop": sum(r.noop for r in rows),
        "non_english_prompts": len(foreign),
        "non_english_ok": sum(r.language_ok for r in foreign),
        "english_prompts": len(english),
        "english_ok": sum(r.language_ok for r in english),
        "mean_score": round(statistics.fmean(r.score for r in rows), 3) if rows else None,
        "mean_raw_score": round(statistics.fmean(r.raw_score for r in raws), 3) if raws else None,
        "mean_unchanged_score": round(statistics.fmean(r.unchanged_score for r in rows), 3) if rows else None,
        "raw_answers": len(raws),
        "raw_with_chatter": sum(bool(r.raw_chatter) for r in raws),
        "final_beats_raw": sum(r.score > r.raw_score for r in raws),
        "final_beats_unchanged": sum(r.score > r.unchanged_score for r in rows),
        "latency_ms_p50": round(_percentile(ms, 50), 1) if ms else None,
        "latency_ms_p95": round(_percentile(ms, 95), 1) if ms else None,
        "sources": dict(Counter(r.source for r in rows)),
    }


def render(job_type: str, profile: Profile, s: dict[str, Any]) -> str:
    n = s["answers"]
    raw = (f"{s['mean_raw_score']:.3f} (final higher on {_pct(s['final_beats_raw'], s['raw_answers'])})"
           if s["mean_raw_score"] is not None else "n/a (no model text)")
    lines = [
        f"### {job_type} (profile {profile.name}, budget {profile.budget} tokens, counted with {s['counted_with']})",
        "| check | result | goal |",
        "| --- | --- | --- |",
        f"| answers | {n} | |",
        f"| within budget | {_pct(s['within_budget'], n)} | 100% |",
        f"| subject kept: every prompt word carried (prompts that fit the budget; see subject.carries_subject) | {_pct(s['subject_kept'], s['fitting_prompts'])} | 100% |",
        f"| subject not verifiable: answered in another language, no word to compare | {_pct(s.get('cross_language', 0), n)} | |",
        f"| off-picture sentence (postprocess.checks.off_picture) | {_pct(s.get('off_picture', 0), n)} | 0 |",
        f"| chatter | {_pct(s['chatter'], n)} | 0 |",
        f"| invented person (of person-free prompts) | {_pct(s['invented_person'], s['person_free_prompts'])} | < 5% |",
        f"| invented animal (a species the prompt did not name) | {_pct(s['invented_animal'], n)} | |",
        f"| repetition | {_pct(s['repetition'], n)} | 0 |",
        f"| no-op (no word added) | {_pct(s['noop'], n)} | 0 |",
        f"| language: non-English prompts in one language (WAN: the prompt's; SDXL: English around the user's own words) | {_pct(s['non_english_ok'], s['non_english_prompts'])} | 100% |",
        f"| language: English prompts answered in Latin script only | {_pct(s['english_ok'], s['english_prompts'])} | 100% |",
        f"| mean quality_score: final | {s['mean_score']:.3f} | |",
        f"| mean quality_score: raw model text | {raw} | |",
        f"| mean quality_score: prompt unchanged | {s['mean_unchanged_score']:.3f} (final higher on {_pct(s['final_beats_unchanged'], n)}) | |",
        f"| latency p50 / p95 | {s['latency_ms_p50']:.0f} ms / {s['latency_ms_p95']:.0f} ms"
        + (f" (model text reused from {s['model_text_from']}: postprocess only)" if s.get("model_text_from") else "")
        + " | |",
        f"| answers by enhancement_source | {', '.join(f'{k}: {v}' for k, v in sorted(s['sources'].items()))} | |",
    ]
    return "\n".join(lines)


def build_service(emergency: bool, batch_size: int | None = None, strategies_file: Path | None = None,
                  generator=None) -> EnhancementService:
    """A service on a throwaway cache and strategy records; with `emergency`, no model at all (the
    rules-only path); with `generator`, that instead of the model (compare.RecordedAnswers)."""
    settings = Settings.from_env()
    scratch = Path(tempfile.mkdtemp(prefix="eval-"))
    settings = dataclasses.replace(
        settings,
        cache_dir=scratch / "cache",
        outcomes_dir=scratch / "outcomes",
        max_batch_size=batch_size or settings.max_batch_size,
        strategies_file=str(strategies_file) if strategies_file else settings.strategies_file,
    )
    if emergency or generator is not None:
        cache = PromptCache(settings.cache_dir, settings.worker_id, settings.cache_size_limit_mb,
                            settings.cache_ttl_seconds)
        return EnhancementService(settings, generator, cache)
    return EnhancementService.build(settings)


def capture_raw(service: EnhancementService) -> dict:
    """Record the model's raw text per request, so it can be scored next to the final answer.

    Wraps the instance's `_generate` (the service's one call into the model). Job types that
    share a profile (video_high and wan_7b_enhanced) send the model the same messages, and
    greedy decoding gives the same text, so the second one reuses the first one's generation:
    a third less model time, the same answers."""
    raws: dict = {}
    original = service._generate

    async def recording(request):
        key = (request.messages, request.max_new_tokens)
        if request.seed is None and isinstance(raws.get(key), str):
            return raws[key]
        raw = await original(request)
        raws[key] = raw if isinstance(raw, str) else None
        return raw

    service._generate = recording  # type: ignore[method-assign]
    return raws


async def run_job_type(service: EnhancementService, raws: dict, prompts: list[str], job_type: str) -> list[Row]:
    profile = resolve_profile(job_type)
    counter = service._counter(profile)

    async def one(prompt: str) -> tuple[dict, float]:
        started = time.perf_counter()
        result = await service.handle({"prompt": prompt, "job_type": job_type, "use_cache": False})
        return result, time.perf_counter() - started

    results = await asyncio.gather(*(one(p) for p in prompts))
    rows = []
    for prompt, (result, seconds) in zip(prompts, results):
        # The model was asked what the job's plan says (a long prompt is touched lightly).
        job = parse_job_input({"prompt": prompt, "job_type": job_type}, service.settings)
        job_plan = plan.make(job, service.catalogue.choose(prompt, {}), service._counter)
        messages = build_messages(prompt, job_plan.profile, job_plan.system_prompt, {})
        raw = raws.get((messages, job_plan.profile.max_new_tokens))
        row = check(prompt, result.get("enhanced_prompt") or "", result.get("enhancement_source", "error"),
                    raw, profile, counter, seconds)
        rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m enhancer.eval", description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_PROMPTS,
                        help="prompts, one a line, '#' lines skipped (default: %(default)s)")
    parser.add_argument("--emergency", action="store_true", help="evaluate the rules-only path (no model)")
    # No default here: --replay must tell "not given" (each answer through its own job type) apart.
    parser.add_argument("--job-types", nargs="+", choices=list(JOB_TYPES),
                        help="job types to evaluate (default: all); with --replay, each answer through "
                             "each of these instead of its own (--both-tiers is then ignored)")
    parser.add_argument("--limit", type=int, help="only the first N prompts")
    parser.add_argument("--json", type=Path, help="also write the summaries and every answer here")
    parser.add_argument("--batch-size", type=int, default=48,
                        help="micro-batch size for this run (default %(default)s: a whole burst in one "
                             "generate call, several times faster on CPU than the worker's 8)")
    parser.add_argument("--recheck", type=Path, metavar="JSON",
                        help="print the tables of a saved --json run, re-judged by today's checks")
    parser.add_argument("--show", action="store_true", help="print every answer that failed a check")
    parser.add_argument("--replay", type=Path, metavar="JSONL",
                        help="no model: run recorded answers ({prompt, raw, job_type} a line) through the "
                             "post-generation path and print what it did to them")
    parser.add_argument("--both-tiers", action="store_true",
                        help="with --replay: each answer through both profiles of its family")
    parser.add_argument("--inject-kept", action="store_true",
                        help="with --replay: give each prompt a weight, a quotation, a LoRA tag and a "
                             "keep_terms trigger, which the answer must hold verbatim")
    parser.add_argument("--strategies", type=lambda v: [n.strip() for n in v.split(",") if n.strip()],
                        metavar="A,B", help="compare these strategies on the same prompts (with --replay: "
                                            "on the recorded answers); see --html")
    parser.add_argument("--strategies-file", type=Path, metavar="JSON",
                        help="the strategies to compare (default: STRATEGIES_FILE)")
    parser.add_argument("--html", type=Path, metavar="OUT",
                        help="with --strategies: write the side-by-side page here")
    return parser.parse_args(argv)


async def evaluate(service: EnhancementService, prompts: list[str], job_types: list[str]) -> dict[str, tuple]:
    raws = capture_raw(service)
    out = {}
    generated_by: dict[str, str] = {}
    for job_type in job_types:
        rows = await run_job_type(service, raws, prompts, job_type)
        profile = resolve_profile(job_type)
        summary = summarize(rows, service._counter(profile).name)
        if service.generator is not None and profile.name in generated_by:
            summary["model_text_from"] = generated_by[profile.name]
        generated_by.setdefault(profile.name, job_type)
        out[job_type] = (profile, rows, summary)
    return out


def _failures(rows: list[Row]) -> list[str]:
    lines = []
    for r in rows:
        problems = []
        if not r.within_budget:
            problems.append(f"over budget {r.tokens}/{r.budget}")
        if r.prompt_tokens <= r.budget and not r.cross_language and not r.subject_kept:
            problems.append(f"subject lost (coverage {r.coverage:.2f})")
        if r.chatter:
            problems.append(f"chatter {r.chatter}")
        if r.off_picture:
            problems.append(f"off-picture {r.off_picture}")
        if r.invented_person:
            problems.append("invented person")
        if r.invented_animal:
            problems.append("invented animal")
        if r.repeated:
            problems.append(f"repeated {r.repeated}")
        if not r.language_ok:
            problems.append("language")
        if r.noop:
            problems.append("no-op")
        if problems:
            lines.append(f"- {r.prompt!r}: {'; '.join(problems)}\n    {r.answer!r}")
    return lines


def print_recheck(path: Path, show: bool) -> int:
    """The tables of a saved run, every check and score recomputed by today's code: runs of
    different versions compared on one definition. Answers, sources and timings are as saved."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    service = build_service(emergency=payload["model"].startswith("rules"), batch_size=1)
    try:
        print(f"## Enhancement quality (rechecked by today's checks): {payload['prompts']} prompts from "
              f"{Path(payload['file']).name}, model {payload['model']}, {payload['seconds']:.0f} s in all\n")
        for job_type, block in payload["job_types"].items():
            profile = resolve_profile(job_type)
            counter = service._counter(profile)
            rows = [check(r["prompt"], r["answer"], r["source"], r.get("raw"), profile, counter, r["seconds"])
                    for r in block["rows"]]
            print(render(job_type, profile, summarize(rows, counter.name)) + "\n")
            failures = _failures(rows) if show else []
            if failures:
                print("\n".join(failures) + "\n")
    finally:
        service.close()
    return 0


def compare_strategies(args: argparse.Namespace) -> int:
    """`--strategies A,B`: the same prompts through each; a summary printed, the page written."""
    if args.replay:
        lines = replay.load_answers(args.replay)[: args.limit]
        work, recorded = compare.replay_work(lines, args.job_types)
        service = build_service(False, args.batch_size, args.strategies_file,
                                compare.RecordedAnswers(args.replay.name))
        source = args.replay.name
    else:
        prompts = load_prompts(args.file)[: args.limit]
        work = {job_type: prompts for job_type in args.job_types or compare.DEFAULT_JOB_TYPES}
        recorded = None
        service = build_service(args.emergency, args.batch_size, args.strategies_file)
        source = args.file.name
    try:
        error = compare.unknown(service, args.strategies)
        if error:
            print(error, file=sys.stderr)
            return 2
        comparison = compare.run(service, args.strategies, work, source, recorded)
    finally:
        service.close()
    print(f"## Strategies compared: {len(comparison.cases)} answers each, model {comparison.model}, "
          f"{comparison.seconds:.0f} s in all\n")
    print(compare.markdown(comparison))
    if args.html:
        args.html.write_text(compare_page.render(comparison), encoding="utf-8")
        print(f"\nwrote {args.html}")
    if args.json:
        compare.write_json(comparison, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.recheck:
        return print_recheck(args.recheck, args.show)
    if args.strategies:
        return compare_strategies(args)
    if args.replay:
        counters = {"sdxl": clip_counter(), "wan": video_counter(Settings.from_env().video_tokenizer_path, None)}
        return replay.run(args.replay, counters, args.both_tiers, args.json, args.show, args.job_types,
                          args.inject_kept)
    prompts = load_prompts(args.file)[: args.limit]
    if not prompts:
        print(f"no prompts in {args.file}", file=sys.stderr)
        return 1
    service = build_service(args.emergency, args.batch_size)
    try:
        model = service.generator.model_id if service.generator else "rules (emergency fallback)"
        started = time.perf_counter()
        results = asyncio.run(evaluate(service, prompts, args.job_types or list(JOB_TYPES)))
        elapsed = time.perf_counter() - started
    finally:
        service.close()
    print(f"## Enhancement quality: {len(prompts)} prompts from {args.file.name}, model {model}, "
          f"{elapsed:.0f} s in all\n")
    for job_type, (profile, rows, summary) in results.items():
        print(render(job_type, profile, summary) + "\n")
        failures = _failures(rows) if args.show else []
        if failures:
            print("\n".join(failures) + "\n")
    if args.json:
        payload = {
            "file": str(args.file), "model": model, "prompts": len(prompts), "seconds": round(elapsed, 1),
            "job_types": {
                job_type: {"summary": summary, "rows": [dataclasses.asdict(r) for r in rows]}
                for job_type, (_, rows, summary) in results.items()
            },
        }
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
