"""What a cache entry is filed under: the same for every store."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SCHEMA_VERSION = 1


def cache_key(material: dict[str, Any], generation: int) -> str:
    """Hash of everything that changes an answer, plus the schema version and clear generation."""
    payload = json.dumps(
        {"schema": SCHEMA_VERSION, "generation": generation, **material},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def normalize_prompt(prompt: str) -> str:
    return re.sub(r"\s+", " ", prompt).strip().lower()
