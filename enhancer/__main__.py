"""Command line: `python -m enhancer "a cat" --job-type video_high`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from .config import Settings
from .profiles import DEFAULT_JOB_TYPE, JOB_TYPES, QUALITIES, STRENGTHS
from .schemas import InvalidInput, parse_job_input
from .service import EnhancementService


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m enhancer", description="Enhance a short prompt.")
    parser.add_argument("prompt")
    parser.add_argument("--job-type", default=DEFAULT_JOB_TYPE, choices=list(JOB_TYPES))
    parser.add_argument("--quality", choices=list(QUALITIES))
    parser.add_argument("--system-prompt")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--negative-prompt", nargs="?", const=True, metavar="TERMS",
                        help="also print a negative prompt for the target; TERMS: your own, merged with it")
    parser.add_argument("--variants", type=int, help="this many takes, one per line")
    parser.add_argument("--strength", choices=list(STRENGTHS),
                        help="light: keep your wording, add what is missing; rich: a full rewrite")
    parser.add_argument("--keep", action="append", dest="keep_terms", metavar="TERM",
                        help="a term the prompt must hold verbatim (a LoRA trigger, a name); repeatable")
    parser.add_argument("--report", action="store_true", help="also print what the worker changed, as JSON")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--legacy", action="store_true", help="the older enhance_prompt() path")
    parser.add_argument("--json", action="store_true", help="print the whole response")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    job = {
        "action": "legacy" if args.legacy else "enhance",
        "prompt": args.prompt,
        "job_type": args.job_type,
        "use_cache": not args.no_cache,
    }
    for name in ("quality", "system_prompt", "seed", "negative_prompt", "variants", "strength", "keep_terms"):
        if getattr(args, name) is not None:
            job[name] = getattr(args, name)
    if args.report:
        job["report"] = True
    # Bad input fails in milliseconds, before the model is loaded.
    try:
        parse_job_input(job, Settings.from_env())
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1
    service = EnhancementService.build()
    try:
        result = asyncio.run(service.handle(job))
    finally:
        service.close()
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    elif result.get("success") is False:
        print(result["error"], file=sys.stderr)
    else:
        for take in result.get("variants") or [result]:
            print(take["enhanced_prompt"])
        if result.get("negative_prompt"):
            print(f"negative: {result['negative_prompt']}")
        if result.get("changes"):
            print(json.dumps(result["changes"], indent=2, ensure_ascii=False))
    return 1 if result.get("success") is False else 0


if __name__ == "__main__":
    sys.exit(main())
