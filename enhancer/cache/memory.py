"""Last resort when no directory is writable: bounded, per-process, gone on restart."""

from __future__ import annotations

from collections import OrderedDict


class MemoryShard:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: str, default=None):
        return self._entries.get(key, default)

    def set(self, key: str, value: str, expire: float | None = None) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count

    def volume(self) -> int:
        return sum(len(k) + len(v) for k, v in self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        pass
