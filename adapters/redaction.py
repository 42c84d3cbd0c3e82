"""Process-wide redaction of secret values from anything that is logged or rendered.

Every resolved secret is registered here; log records and error texts pass through
`redact()` before they leave the process.
"""
from __future__ import annotations

import re
import threading

_MIN_SECRET_LENGTH = 6  # shorter values would redact ordinary words
_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None

# Credentials that may show up without ever passing through the secret store.
_STRUCTURAL = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(bearer|basic|api-key|token)?\s*[^\s\"',}]+"
    r"|((?:api[_-]?key|password|secret|token|client_secret|refresh_token|access_token)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
)


def register_secret(value: str | None) -> None:
    global _pattern
    if not value or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        ordered = sorted(_values, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub("[REDACTED]", text)
    return _STRUCTURAL.sub(lambda m: (m.group(1) or m.group(3) or "") + "[REDACTED]", text)
