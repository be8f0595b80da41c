"""Replay real model answers through the worker's post-generation path, without a model:
`python -m enhancer.eval --replay ANSWERS.jsonl [--both-tiers] [--json OUT] [--show]`.

Each line is `{"prompt", "raw", "job_type", "system_prompt"?}` (other fields are kept as they
are). The raw answer goes through `answer.finish` and `quality.assess`, the very code a live job
runs after generation, and each result is checked for what turns a good answer into a worse one:
a model sentence cut into pieces, the prompt put in front of text that already says it, a word
in another script, a mix of languages, a stock phrase that contradicts the prompt or the answer,
the model's text replaced by the rules, a clean answer not kept whole, a stock ending.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from .answer import finish
from .detect import defects, invents_person, is_non_english, non_latin_runs
from .postprocess import clean
from .postprocess.checks import unseen
from .postprocess.stock import is_drawn, is_still
from .postprocess.text import sentences, units_of
from .profiles import (
    CAMERA,
    JOB_TYPES,
    MOTION,
    QUALITY_TAGS,
    STOCK_PHRASES,
    VIDEO_QUALITY,
    resolve_profile,
)
from .quality import assess
from .subject import carries_subject
from .tokens import TokenCounter

_TIERS = {"sdxl": ("sdxl_image_fast", "sdxl_image_high"), "wan": ("video_fast", "video_high")}
_WORDS = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# A piece shorter than this may be said twice by chance; a longer one is a cut-off piece.
_MIN_FRAGMENT_WORDS = 4
_PIECE_BREAK = re.compile(r"[,;:\u2013\u2014]|\s-\s")
_QUALITY_TAG_WORDS = frozenset(t.strip().lower() for t in QUALITY_TAGS.default.split(","))


def load_answers(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [json.loads(line) for line in lines]
    for number, row in enumerate(rows, 1):
        missing = [k for k in ("prompt", "raw", "job_type") if not isinstance(row.get(k), str)]
        if missing or row["job_type"] not in JOB_TYPES:
            raise ValueError(f"{path}:{number}: needs string fields prompt, raw and a known job_type")
    return rows


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _without_quality_tags(answer: str) -> str:
    tags = [t.strip() for t in answer.split(",")]
    while tags and tags[0].lower() in _QUALITY_TAG_WORDS:
        tags.pop(0)
    return ", ".join(tags)


def model_units(text: str) -> list[str]:
    """The model's units: the tags of a tag answer, else its sentences."""
    out: list[str] = []
    for sentence in sentences(text):
        out.extend(units_of(sentence))
    return out


def fragments(cleaned: str, answer: str, prompt: str) -> list[str]:
    """Model units cut into pieces: the answer holds a run of a unit's comma-separated pieces
    (four words or more, not the whole unit) outside the units it keeps whole, and the run is
    not just the user's own words."""
    units = model_units(cleaned)
    said = _words(answer)
    whole = set()
    for unit in units:
        words = _words(unit)
        for i in range(len(said) - len(words) + 1):
            if words and said[i:i + len(words)] == words:
                whole.add(unit)
                said[i:i + len(words)] = ["|"] * len(words)  # kept whole: not a source of pieces
                break
    users = _words(prompt)
    found = []
    for unit in units:
        if unit in whole:
            continue
        parts = [_words(p) for p in _PIECE_BREAK.split(unit)]
        runs = (sum(parts[i:j], []) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)
                if (i, j) != (0, len(parts)))
        if any(len(run) >= _MIN_FRAGMENT_WORDS and _contains(said, run) and not _contains(users, run)
               for run in runs):
            found.append(unit)
    return found


def restated(cleaned: str, answer: str, prompt: str) -> bool:
    """The worker put the user's words in front (right after SDXL's quality tags) of an answer
    whose own text already carries the subject."""
    head = _words(prompt)
    rest = _words(_without_quality_tags(answer))
    if not head or rest[: len(head)] != head or _words(cleaned)[: len(head)] == head:
        return False
    remainder = " ".join(rest[len(head):])
    return bool(remainder) and carries_subject(remainder, prompt)


def added_stock(raw: str, answer: str) -> list[str]:
    """Stock phrases the worker added, SDXL's quality tags aside (every SDXL answer gets them)."""
    return [p for p in STOCK_PHRASES if p in answer and p not in raw and p != QUALITY_TAGS.default]


def contradicting_stock(raw: str, answer: str, prompt: str) -> list[str]:
    """Stock phrases the worker added that contradict the prompt or the model's answer: motion
    for a still picture, a lens or "realistic footage" for a drawn, painted, animated or CG look."""
    context = f"{prompt}\n{raw}"
    bad = []
    for phrase in added_stock(raw, answer):
        if phrase == MOTION.default and is_still(context):
            bad.append(phrase)
        if phrase in (VIDEO_QUALITY.default, CAMERA.default) and is_drawn(context):
            bad.append(phrase)
    return bad


def ends_in_stock(answer: str) -> bool:
    tail = answer.rstrip()
    return any(tail.endswith(p) or tail.endswith(p.rstrip(".")) for p in STOCK_PHRASES)


def stray_script(answer: str, prompt: str) -> bool:
    """A word in another script in the answer to an English prompt (not the user's own)."""
    if is_non_english(prompt):
        return False
    own = " ".join(non_latin_runs(prompt))
    return any(run not in own for run in non_latin_runs(answer))


def mixed_language(answer: str, prompt: str) -> bool:
    """An answer to a prompt in another script that holds a sentence of English too."""
    if not is_non_english(prompt):
        return False
    units = sentences(answer)
    native = any(non_latin_runs(u) for u in units)
    latin = any(not non_latin_runs(u) and len(_words(u)) >= 2 for u in units)
    return native and latin


def kept_whole_eligible(cleaned: str, raw: str, prompt: str, counter: TokenCounter, budget: int) -> bool:
    """A clean video answer within budget, without a person the prompt lacks or a sound: the
    worker has nothing to repair in it."""
    return (" ".join(cleaned.split()) == " ".join(raw.split())
            and counter.count(cleaned) <= budget
            and not invents_person(cleaned, prompt)
            and not any(unseen(s, prompt) for s in sentences(cleaned))
            and not stray_script(cleaned, prompt))


@dataclasses.dataclass
class ReplayRow:
    prompt: str
    raw: str
    job_type: str
    answer: str
    enhancement_source: str
    quality_score: float
    raw_score: float
    tokens: int
    budget: int
    within_budget: bool
    subject_kept: bool
    defects: list[str]
    fragments: list[str]
    restated: bool
    stray_script: bool
    mixed_language: bool
    contradicting_stock: list[str]
    added_stock: list[str]
    ends_in_stock: bool
    kept_whole: bool | None  # None: not a clean in-budget video answer
    extra: dict[str, Any]


def replay_one(line: dict[str, Any], job_type: str, counters: dict[str, TokenCounter]) -> ReplayRow:
    profile = resolve_profile(job_type)
    counter = counters[profile.family]
    prompt, raw = line["prompt"], line["raw"]
    answer = finish(raw, prompt, profile, counter)
    source = ("edge_function" if line.get("system_prompt") else "worker_fallback") if answer.from_model \
        else "emergency_fallback"
    cleaned = clean(raw, prompt)
    tokens = counter.count(answer.text)
    kept_whole = None
    if profile.family == "wan" and kept_whole_eligible(cleaned, raw, prompt, counter, profile.budget):
        kept_whole = all(s in answer.text for s in sentences(cleaned))
    return ReplayRow(
        prompt=prompt, raw=raw, job_type=job_type, answer=answer.text, enhancement_source=source,
        quality_score=assess(answer.text, prompt, profile, counter).score,
        raw_score=assess(raw, prompt, profile, counter).score,
        tokens=tokens, budget=profile.budget, within_budget=0 < tokens <= profile.budget,
        subject_kept=carries_subject(answer.text, prompt),
        defects=list(defects(answer.text, prompt, profile.family)),
        fragments=fragments(cleaned, answer.text, prompt),
        restated=restated(cleaned, answer.text, prompt),
        stray_script=stray_script(answer.text, prompt),
        mixed_language=mixed_language(answer.text, prompt),
        contradicting_stock=contradicting_stock(raw, answer.text, prompt),
        added_stock=added_stock(raw, answer.text),
        ends_in_stock=ends_in_stock(answer.text),
        kept_whole=kept_whole,
        extra={k: v for k, v in line.items() if k not in ("prompt", "raw", "job_type")},
    )


def replay(lines: list[dict[str, Any]], counters: dict[str, TokenCounter], both_tiers: bool) -> list[ReplayRow]:
    rows = []
    for line in lines:
        family = JOB_TYPES[line["job_type"]][0]
        for job_type in (_TIERS[family] if both_tiers else (line["job_type"],)):
            rows.append(replay_one(line, job_type, counters))
    return rows


def summarize(rows: list[ReplayRow]) -> dict[str, Any]:
    n = len(rows)
    eligible = [r for r in rows if r.kept_whole is not None]
    return {
        "answers": n,
        "within_budget": sum(r.within_budget for r in rows),
        "subject_kept": sum(r.subject_kept for r in rows),
        "model_text_used": sum(r.enhancement_source != "emergency_fallback" for r in rows),
        "fragments": sum(bool(r.fragments) for r in rows),
        "restated": sum(r.restated for r in rows),
        "stray_script": sum(r.stray_script for r in rows),
        "mixed_language": sum(r.mixed_language for r in rows),
        "contradicting_stock": sum(bool(r.contradicting_stock) for r in rows),
        "ends_in_stock": sum(r.ends_in_stock for r in rows),
        "with_added_stock": sum(bool(r.added_stock) for r in rows),
        "clean_in_budget": len(eligible),
        "kept_whole": sum(bool(r.kept_whole) for r in eligible),
        "defects": dict(Counter(d for r in rows for d in r.defects)),
        "mean_score": round(statistics.fmean(r.quality_score for r in rows), 3) if rows else None,
        "mean_raw_score": round(statistics.fmean(r.raw_score for r in rows), 3) if rows else None,
    }


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "n/a"


def render(job_type: str, s: dict[str, Any]) -> str:
    n = s["answers"]
    rows = [
        ("answers", str(n), ""),
        ("within budget", _pct(s["within_budget"], n), "100%"),
        ("subject kept", _pct(s["subject_kept"], n), "100%"),
        ("model text used (not replaced by the rules)", _pct(s["model_text_used"], n), ">= 95%"),
        ("a model sentence cut into fragments", _pct(s["fragments"], n), "0"),
        ("prompt put in front of text that already says it", _pct(s["restated"], n), "0"),
        ("script leak into an English answer", _pct(s["stray_script"], n), "0"),
        ("mixed-language answer", _pct(s["mixed_language"], n), "0"),
        ("stock phrase contradicting prompt or answer", _pct(s["contradicting_stock"], n), "0"),
        ("clean in-budget video answers kept whole", _pct(s["kept_whole"], s["clean_in_budget"]), ">= 95%"),
        ("ending in a stock phrase", _pct(s["ends_in_stock"], n), "<= 10%"),
        ("with any stock phrase added (SDXL quality tags aside)", _pct(s["with_added_stock"], n), ""),
        ("defects (chatter, invented person, repetition, language)",
         ", ".join(f"{k}: {v}" for k, v in sorted(s["defects"].items())) or "none", "none"),
        ("mean quality_score: final / raw", f"{s['mean_score']:.3f} / {s['mean_raw_score']:.3f}", ""),
    ]
    lines = [f"### {job_type}", "| check | result | goal |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def failures(rows: list[ReplayRow]) -> list[str]:
    out = []
    for r in rows:
        problems = [name for name, bad in (
            ("over budget", not r.within_budget), ("subject lost", not r.subject_kept),
            ("rules", r.enhancement_source == "emergency_fallback"), (f"fragments {r.fragments}", r.fragments),
            ("restated", r.restated), ("stray script", r.stray_script), ("mixed", r.mixed_language),
            (f"contradicting {r.contradicting_stock}", r.contradicting_stock),
            ("not kept whole", r.kept_whole is False), ("ends in stock", r.ends_in_stock),
            (f"defects {r.defects}", r.defects)) if bad]
        if problems:
            out.append(f"- [{r.job_type}] {r.prompt!r}: {'; '.join(problems)}\n    {r.answer!r}")
    return out


def run(path: Path, counters: dict[str, TokenCounter], both_tiers: bool, json_out: Path | None, show: bool) -> int:
    rows = replay(load_answers(path), counters, both_tiers)
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
