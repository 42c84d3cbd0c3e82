"""A small in-process TTL cache for resolved secret values.

Plaintext stays in this process's memory only: never in Django's shared cache or Redis,
where every other process (and anyone with access to Redis) could read it.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

_MAX_ENTRIES = 2048  # bounds memory if refs are many; the oldest entries go first


class SecretCache:
    def __init__(self, *, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if expires_at <= time.monotonic():
                del self._entries[key]
                return None
            return value

    def put(self, key: tuple[str, str], value: str, *, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl_seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
