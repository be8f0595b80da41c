"""Replay real model answers through the worker's post-generation path, without a model:
`python -m enhancer.eval --replay ANSWERS.jsonl [--both-tiers | --job-types T ...] [--json OUT] [--show]`.

Each line is `{"prompt", "raw", "job_type", "system_prompt"?}` (other fields are kept as they
are). The raw answer goes through `answer.finish` and `quality.assess`, the very code a live job
runs after generation, and each result is checked (replay_checks.py) for what turns a good answer
into a worse one: a prompt word the model carried and the worker lost, the model's text replaced
by the rules, a model sentence cut into pieces (WAN), an SDXL piece that does not read alone, the
prompt put in front of text that already says it, a word in another script, a mix of languages, a
stock phrase that contradicts the prompt or the answer, a clean answer not kept whole, a stock
ending. Each row also says which units of the model's answer were dropped, and why.

`--job-types` sends every line through the listed job types instead of its own: a long video
answer through an SDXL profile is the long prose that SDXL must turn into phrases.

`--inject-kept` gives each prompt the terms a caller keeps verbatim, which the recorded answer was
not written with: the prompt's first word weighted `(word:1.2)` (the model wrote it plain), a
quotation on a sign and a LoRA tag (the model never saw them), and the caller's `keep_terms`
trigger "ohwx style" (not in the prompt at all). Each must come out verbatim, within the budget.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from . import negative
from .answer import carries_model_text, finish
from .detect import defects
from .postprocess.keep import restore_all
from .postprocess.text import sentences
from .profiles import JOB_TYPES, resolve_profile
from .quality import assess
from .replay_checks import (
    added_stock,
    contradicting_stock,
    dangling_pieces,
    ends_in_stock,
    fragments,
    kept_whole_eligible,
    mixed_language,
    restated,
    stray_script,
)
from .subject import carried_words, missing_words, required_words, subject_verdict
from .tokens import TokenCounter

_TIERS = {"sdxl": ("sdxl_image_fast", "sdxl_image_high"), "wan": ("video_fast", "video_high")}
_SHOWN_DROP_CHARS = 80
INJECTED_TERMS = ('a sign that reads "OPEN"', "<lora:add_detail:0.6>")
INJECTED_TRIGGER = "ohwx style"


def load_answers(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines]
    for number, row in enumerate(rows, 1):
        missing = [k for k in ("prompt", "raw", "job_type") if not isinstance(row.get(k), str)]
        if missing or row["job_type"] not in JOB_TYPES:
            raise ValueError(f"{path}:{number}: needs string fields prompt, raw and a known job_type")
    return rows


def inject_kept(line: dict[str, Any]) -> dict[str, Any]:
    """The line with kept terms in its prompt and its `keep_terms` (see the module doc)."""
    prompt = line["prompt"]
    first = next(iter(required_words(prompt)), None)
    if first and first.isascii():
        prompt = re.sub(rf"(?<![\w-]){re.escape(first)}(?![\w-])", lambda m: f"({m.group()}:1.2)", prompt,
                        count=1, flags=re.IGNORECASE)
    sign, lora = INJECTED_TERMS
    prompt = f"{prompt.rstrip(' .')}, {sign} {lora}"
    return {**line, "prompt": prompt, "keep_terms": [*line.get("keep_terms", ()), INJECTED_TRIGGER]}


@dataclasses.dataclass
class ReplayRow:
    prompt: str
    raw: str
    job_type: str
    answer: str
    enhancement_source: str  # the label the worker would put on the answer
    quality_score: float
    raw_score: float
    tokens: int
    budget: int
    within_budget: bool
    subject_kept: bool
    cross_language: bool  # answered in another language, and no word of the prompt to compare
    missing_words: list[str]  # the prompt's required words the answer does not carry
    lost_by_worker: list[str]  # those of them the model's cleaned answer did carry
    model_text_kept: bool  # a word of the model's own survives, whatever the label says
    dropped: list[dict[str, str]]  # {"text", "reason"}: each unit of the model's answer dropped
    defects: list[str]
    fragments: list[str]  # WAN only: SDXL turns long prose into phrases on purpose
    dangling_pieces: list[str]  # SDXL only
    restated: bool
    stray_script: bool
    mixed_language: bool
    contradicting_stock: list[str]
    added_stock: list[str]
    ends_in_stock: bool
    kept_whole: bool | None  # None: not a clean in-budget video answer
    kept_terms: list[str]  # what must be verbatim: the caller's keep_terms, the prompt's quotations, weights, LoRA tags
    kept_lost: list[str]  # those of them the answer does not hold verbatim
    negative_removed: list[dict[str, str]]  # {"term", "reason"}: terms of the target's negative prompt left out
    negative_contradicting: list[str]  # terms of the negative prompt that negate the answer or the prompt
    extra: dict[str, Any]


def replay_one(line: dict[str, Any], job_type: str, counters: dict[str, TokenCounter]) -> ReplayRow:
    profile = resolve_profile(job_type)
    counter = counters[profile.family]
    prompt, raw = line["prompt"], line["raw"]
    answer = finish(raw, prompt, profile, counter, line.get("system_prompt"), line.get("keep_terms", ()))
    source = ("edge_function" if line.get("system_prompt") else "worker_fallback") if answer.from_model \
        else "emergency_fallback"
    cleaned = answer.cleaned or ""
    text = answer.text
    missing = missing_words(text, prompt)
    model_carried = carried_words(cleaned, prompt) if cleaned else frozenset()
    tokens = counter.count(text)
    wan = profile.family == "wan"
    remarks = tuple(d.text for d in answer.drops if d.reason == "off_picture")
    verdict = subject_verdict(text, prompt)
    positive = f"{text}\n{prompt}"
    built = negative.build(profile.family, positive, True, counter)
    kept_whole = None
    if wan and kept_whole_eligible(cleaned, raw, prompt, counter, profile.budget):
        # A kept term put back verbatim ("Meta". for "Meta.") is no cut.
        kept_whole = all(s in text for s in sentences(restore_all(cleaned, answer.kept)))
    return ReplayRow(
        prompt=prompt, raw=raw, job_type=job_type, answer=text, enhancement_source=source,
        quality_score=assess(text, prompt, profile, counter).score,
        raw_score=assess(raw, prompt, profile, counter).score,
        tokens=tokens, budget=profile.budget, within_budget=0 < tokens <= profile.budget,
        subject_kept=verdict is True,
        cross_language=verdict is None,
        missing_words=missing,
        lost_by_worker=[w for w in missing if w in model_carried],
        model_text_kept=bool(cleaned) and carries_model_text(text, cleaned, prompt),
        dropped=[{"text": d.text, "reason": d.reason} for d in answer.drops],
        defects=list(defects(text, prompt, profile.family)),
        # A kept term put back in a sentence ("A (tranquil:1.2) tableau") leaves it whole.
        fragments=fragments(restore_all(cleaned, answer.kept), text, prompt, remarks) if wan else [],
        dangling_pieces=[] if wan else dangling_pieces(text, f"{cleaned}\n{prompt}"),
        restated=restated(cleaned, text, prompt),
        stray_script=stray_script(text, prompt),
        mixed_language=mixed_language(text, prompt),
        contradicting_stock=contradicting_stock(raw, text, prompt),
        added_stock=added_stock(raw, text),
        ends_in_stock=ends_in_stock(text),
        kept_whole=kept_whole,
        kept_terms=[t.text for t in answer.kept],
        kept_lost=[t.text for t in answer.kept if t.text not in text],
        negative_removed=[{"term": r.term, "reason": r.reason} for r in built.removed],
        negative_contradicting=[t for t in negative.terms(built.text) if negative.contradiction(t, positive)],
        extra={k: v for k, v in line.items() if k not in ("prompt", "raw", "job_type", "keep_terms")},
    )


def _job_types_for(line: dict[str, Any], job_types: list[str] | None, both_tiers: bool) -> tuple[str, ...]:
    """Where a line goes: through the listed job types when given, else its own (and its
    family's other tier with `both_tiers`)."""
    if job_types:
        return tuple(job_types)
    own = line["job_type"]
    return _TIERS[JOB_TYPES[own][0]] if both_tiers else (own,)


def replay(lines: list[dict[str, Any]], counters: dict[str, TokenCounter], both_tiers: bool,
           job_types: list[str] | None = None) -> list[ReplayRow]:
    return [replay_one(line, job_type, counters)
            for line in lines for job_type in _job_types_for(line, job_types, both_tiers)]


def summarize(rows: list[ReplayRow]) -> dict[str, Any]:
    n = len(rows)
    eligible = [r for r in rows if r.kept_whole is not None]
    return {
        "answers": n,
        "within_budget": sum(r.within_budget for r in rows),
        "subject_kept": sum(r.subject_kept for r in rows if not r.cross_language),
        "cross_language": sum(r.cross_language for r in rows),
        "lost_by_worker": sum(bool(r.lost_by_worker) for r in rows),
        "missing_words": sum(bool(r.missing_words) for r in rows),
        "model_text_kept": sum(r.model_text_kept for r in rows),
        "credited_without_model_text": sum(r.enhancement_source != "emergency_fallback" and not r.model_text_kept
                                           for r in rows),
        "fragments": sum(bool(r.fragments) for r in rows),
        "dangling_pieces": sum(bool(r.dangling_pieces) for r in rows),
        "restated": sum(r.restated for r in rows),
        "stray_script": sum(r.stray_script for r in rows),
        "mixed_language": sum(r.mixed_language for r in rows),
        "contradicting_stock": sum(bool(r.contradicting_stock) for r in rows),
        "ends_in_stock": sum(r.ends_in_stock for r in rows),
        "with_added_stock": sum(bool(r.added_stock) for r in rows),
        "clean_in_budget": len(eligible),
        "kept_whole": sum(bool(r.kept_whole) for r in eligible),
        "with_kept_terms": sum(bool(r.kept_terms) for r in rows),
        "kept_terms_verbatim": sum(bool(r.kept_terms) and not r.kept_lost for r in rows),
        "negative_contradicting": sum(bool(r.negative_contradicting) for r in rows),
        "negative_removed": dict(Counter(d["reason"].split(":")[0] for r in rows for d in r.negative_removed)),
        "dropped": dict(Counter(d["reason"] for r in rows for d in r.dropped)),
        "defects": dict(Counter(d for r in rows for d in r.defects)),
        "mean_score": round(statistics.fmean(r.quality_score for r in rows), 3) if rows else None,
        "mean_raw_score": round(statistics.fmean(r.raw_score for r in rows), 3) if rows else None,
    }


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "n/a"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def render(job_type: str, s: dict[str, Any]) -> str:
    n = s["answers"]
    pieces = (("a model sentence cut into fragments (WAN)", _pct(s["fragments"], n), "0")
              if JOB_TYPES[job_type][0] == "wan" else
              ("SDXL piece ending on a preposition, article, conjunction or possessive",
               _pct(s["dangling_pieces"], n), "0"))
    rows = [
        ("answers", str(n), ""),
        ("within budget", _pct(s["within_budget"], n), "100%"),
        ("subject kept: every prompt word carried", _pct(s["subject_kept"], n - s["cross_language"]), "100%"),
        ("subject not verifiable: answered in another language", _pct(s["cross_language"], n), ""),
        ("prompt word the model's text carried, lost by the worker", _pct(s["lost_by_worker"], n), "0"),
        ("prompt words missing from the answer", _pct(s["missing_words"], n), ""),
        ("model text kept (by text, not label)", _pct(s["model_text_kept"], n), ">= 95%"),
        ("credited to the model but carrying none of its text", _pct(s["credited_without_model_text"], n), "0"),
        pieces,
        ("prompt put in front of text that already says it", _pct(s["restated"], n), "0"),
        ("script leak into an English answer", _pct(s["stray_script"], n), "0"),
        ("mixed-language answer", _pct(s["mixed_language"], n), "0"),
        ("stock phrase contradicting prompt or answer", _pct(s["contradicting_stock"], n), "0"),
        ("clean in-budget video answers kept whole", _pct(s["kept_whole"], s["clean_in_budget"]), ">= 95%"),
        ("kept terms all verbatim (of the answers with any)", _pct(s["kept_terms_verbatim"], s["with_kept_terms"]),
         "100%"),
        ("negative prompt with a term that negates the positive", _pct(s["negative_contradicting"], n), "0"),
        ("negative terms left out, by reason", _counts(s["negative_removed"]), ""),
        ("ending in a stock phrase", _pct(s["ends_in_stock"], n), "<= 10%"),
        ("with any stock phrase added (SDXL quality tags aside)", _pct(s["with_added_stock"], n), ""),
        ("units of the model's answer dropped, by reason", _counts(s["dropped"]), ""),
        ("defects (chatter, invented person, repetition, language)", _counts(s["defects"]), "none"),
        ("mean quality_score: final / raw", f"{s['mean_score']:.3f} / {s['mean_raw_score']:.3f}", ""),
    ]
    lines = [f"### {job_type}", "| check | result | goal |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_DROP_CHARS else text[: _SHOWN_DROP_CHARS - 1] + "\u2026"


def _problems(r: ReplayRow) -> list[str]:
    return [name for name, bad in (
        ("over budget", not r.within_budget), (f"kept terms lost {r.kept_lost}", r.kept_lost),
        ("subject lost", not (r.subject_kept or r.cross_language)),
        (f"lost by the worker {r.lost_by_worker}", r.lost_by_worker),
        ("rules", r.enhancement_source == "emergency_fallback"),
        ("credited to the model without its text",
         r.enhancement_source != "emergency_fallback" and not r.model_text_kept),
        (f"fragments {r.fragments}", r.fragments), (f"dangling pieces {r.dangling_pieces}", r.dangling_pieces),
        ("restated", r.restated), ("stray script", r.stray_script), ("mixed", r.mixed_language),
        (f"contradicting {r.contradicting_stock}", r.contradicting_stock),
        ("not kept whole", r.kept_whole is False), ("ends in stock", r.ends_in_stock),
        (f"defects {r.defects}", r.defects)) if bad]


def failures(rows: list[ReplayRow]) -> list[str]:
    """Each row that failed a check: its problems and answer, the prompt words it misses and
    what was dropped from the model's answer (the drops explain most misses)."""
    out = []
    for r in rows:
        problems = _problems(r)
        if not problems:
            continue
        lines = [f"- [{r.job_type}] {r.prompt!r}: {'; '.join(problems)}", f"    {r.answer!r}"]
        if r.missing_words:
            lines.append(f"    missing: {', '.join(r.missing_words)}")
        lines += [f"    dropped {d['reason']}: {_shorten(d['text'])!r}" for d in r.dropped]
        out.append("\n".join(lines))
    return out


def run(path: Path, counters: dict[str, TokenCounter], both_tiers: bool, json_out: Path | None, show: bool,
        job_types: list[str] | None = None, inject: bool = False) -> int:
    lines = load_answers(path)
    rows = replay([inject_kept(line) for line in lines] if inject else lines, counters, both_tiers, job_types)
    by_type: dict[str, list[ReplayRow]] = {}
    for row in rows:
        by_type.setdefault(row.job_type, []).append(row)
    print(f"## Replay: {len(rows)} answers from {path.name} through the post-generation path\n")
    for job_type, group in by_type.items():
        print(render(job_type, summarize(group)) + "\n")
        if show:
            print("\n".join(failures(group)) + "\n")
    if json_out:
        payload = {"file": str(path), "summaries": {k: summarize(v) for k, v in by_type.items()},
                   "rows": [dataclasses.asdict(r) for r in rows]}
        json_out.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0
