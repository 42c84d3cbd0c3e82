"""API scopes: `<area>:<read|write>`, granted as patterns (`*`, `*:read`, `integrations:*`)."""
from __future__ import annotations

import re
from fnmatch import fnmatchcase

AREAS = ("integrations", "secrets", "communication", "webhooks", "iot", "sync", "keys")
ACCESS = ("read", "write")
ALL_SCOPES = tuple(f"{area}:{access}" for area in AREAS for access in ACCESS)
_GRANT = re.compile(r"^(\*|(\*|[a-z]+):(\*|read|write))$")


def is_valid_grant(pattern: str) -> bool:
    if not _GRANT.match(pattern):
        return False
    area = pattern.split(":", 1)[0]
    return area == "*" or area in AREAS


def grants(granted: list[str] | tuple[str, ...], required: str) -> bool:
    """True when any granted pattern covers the required scope; `write` implies `read`."""
    area, access = required.split(":", 1)
    wanted = [required] + ([f"{area}:write"] if access == "read" else [])
    return any(fnmatchcase(w, g) for g in granted for w in wanted)
