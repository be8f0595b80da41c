"""Build-time model download: puts MODEL_NAME (at MODEL_REVISION) into the Hugging Face cache.

The Dockerfile runs this with HF_HOME pointing inside the image, so at run time the worker finds
the model in the local cache (enhancer/model.py, step 2 of the resolution order) and never
reaches the hub. Only what transformers needs is fetched: config, tokenizer, safetensors weights,
generation config; no *.bin / *.pth duplicates, no GGUF, no `original/` checkpoints.

A gated model needs a token: HF_TOKEN in the environment, or the BuildKit secret `hf_token`
(mounted at /run/secrets/hf_token), so the token never ends up in an image layer.

With HF_HUB_OFFLINE=1 nothing is downloaded: the model must already be in the cache, and the
script just checks it and prints the snapshot path (useful for a cache on a network volume).

    python builder/download_model.py [--model ORG/NAME] [--revision REV] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_MODEL_NAME = "Qwen/Qwen2.5-7B-Instruct"
SECRET_FILE = Path("/run/secrets/hf_token")

ALLOW_PATTERNS = [
    "config.json",
    "generation_config.json",
    "tokenizer*",
    "*.safetensors",
    "*.json",  # safetensors index, special tokens, chat template
    "*.txt",  # merges.txt
    "*.model",  # sentencepiece tokenizers
    "*.tiktoken",
    "*.jinja",
]
IGNORE_PATTERNS = ["*.bin", "*.bin.index.json", "*.pth", "*.pt", "*.gguf", "*.onnx", "*.h5", "*.msgpack",
                   "original/*", "onnx/*"]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def read_token(secret_file: Path = SECRET_FILE) -> str | None:
    """HF_TOKEN from the environment, else the BuildKit secret file, else none (public models)."""
    token = _optional(os.environ.get("HF_TOKEN"))
    if token:
        return token
    try:
        return _optional(secret_file.read_text())
    except OSError:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python builder/download_model.py",
        description="Download the worker's model into the Hugging Face cache (or check it is there).",
    )
    parser.add_argument(
        "--model",
        default=_optional(os.environ.get("MODEL_NAME")) or DEFAULT_MODEL_NAME,
        help="hub repository id (default: MODEL_NAME, else %(default)s)",
    )
    parser.add_argument(
        "--revision",
        default=_optional(os.environ.get("MODEL_REVISION")),
        help="branch, tag or commit (default: MODEL_REVISION, else the repository's main)",
    )
    parser.add_argument(
        "--cache-dir",
        default=_optional(os.environ.get("HF_HUB_CACHE")),
        help="hub cache directory (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)",
    )
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"download_model: error: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    offline = _flag(os.environ.get("HF_HUB_OFFLINE"))
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return fail("huggingface_hub is not installed (pip install -r builder/requirements.txt)")

    what = args.model + (f" at revision {args.revision}" if args.revision else "")
    print(f"download_model: {'checking the local cache for' if offline else 'fetching'} {what}", file=sys.stderr)
    try:
        path = snapshot_download(
            repo_id=args.model,
            revision=args.revision,
            cache_dir=args.cache_dir,
            token=None if offline else read_token(),
            local_files_only=offline,
            allow_patterns=ALLOW_PATTERNS,
            ignore_patterns=IGNORE_PATTERNS,
        )
    except Exception as exc:  # hub errors, missing cache entries, network and disk failures
        hint = (
            "HF_HUB_OFFLINE=1 is set, so it must already be in the local cache"
            if offline
            else "check the name and revision; a gated model needs HF_TOKEN or the hf_token build secret"
        )
        return fail(f"could not get model {what}: {type(exc).__name__}: {exc} ({hint})")

    snapshot = Path(path)
    if not (snapshot / "config.json").is_file():
        return fail(f"model {what}: snapshot {snapshot} has no config.json; transformers cannot load it")
    if not any(snapshot.glob("*.safetensors")):
        return fail(
            f"model {what}: snapshot {snapshot} has no *.safetensors weights "
            "(models published only as *.bin or *.gguf are not supported by this download)"
        )
    print(snapshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
