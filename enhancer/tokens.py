"""Token counters for the target encoders: exact CLIP BPE for SDXL, an HF tokenizer for WAN."""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Protocol

log = logging.getLogger(__name__)


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class ClipTokenCounter:
    """SDXL's text encoders share CLIP's BPE; instant-clip-tokenizer ships that vocabulary."""

    name = "clip-bpe"

    def __init__(self) -> None:
        from instant_clip_tokenizer import Tokenizer

        self._tokenizer = Tokenizer()

    def count(self, text: str) -> int:
        # Without the start and end tokens: the 75 of "77 with start/end".
        return len(self._tokenizer.encode(text))


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer (the video encoder's, else the LLM's)."""

    def __init__(self, tokenizer, name: str) -> None:
        self._tokenizer = tokenizer
        self.name = name

    def count(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])


class EstimateTokenCounter:
    """Used only when no tokenizer is loaded (the emergency path without a model)."""

    name = "estimate"

    def count(self, text: str) -> int:
        # Subword tokenizers give about 1.3 tokens per English word; punctuation counts alone.
        words = text.split()
        punctuation = sum(text.count(p) for p in ",.;:!?")
        return math.ceil(len(words) * 1.3) + punctuation


@lru_cache(maxsize=1)
def clip_counter() -> ClipTokenCounter:
    return ClipTokenCounter()


def video_counter(video_tokenizer_path: str | None, llm_tokenizer) -> TokenCounter:
    if video_tokenizer_path:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(video_tokenizer_path, local_files_only=True)
            return HFTokenCounter(tokenizer, f"video-encoder:{video_tokenizer_path}")
        except Exception as exc:  # a bad path must not stop the worker: count with the LLM's
            log.warning("VIDEO_TOKENIZER_PATH %s unusable (%s); counting with the LLM's tokenizer",
                        video_tokenizer_path, exc)
    if llm_tokenizer is not None:
        return HFTokenCounter(llm_tokenizer, "llm-tokenizer")
    return EstimateTokenCounter()
