"""Long-lived provider clients for bulk work (sync runs): one pooled ProviderHttpClient per
provider, base URL and headers, reused across calls instead of built per request.

Building an httpx client loads the system's CA bundle into a new SSL context: tens of
milliseconds, far more than a request to a nearby provider. A run pushing thousands of records
through one config reuses one client and its keep-alive connections. Clients are kept in a small
LRU; one that falls out is closed. A client is shared by threads (httpx clients are thread-safe);
callers get it lent: `with pooled_client(...) as client:` reads like a private client, but
leaving the block leaves the connections open for the next call.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from adapters.http import ErrorClassifier, ProviderHttpClient

MAX_CLIENTS = 64
_clients: OrderedDict[tuple, ProviderHttpClient] = OrderedDict()
_lock = threading.Lock()


class LentClient:
    """A pooled client on loan: requests go through; closing is the pool's business."""

    def __init__(self, client: ProviderHttpClient) -> None:
        self._client = client

    def request(self, *args, **kwargs):
        return self._client.request(*args, **kwargs)

    def __enter__(self) -> LentClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def pooled_client(provider: str, base_url: str, *, timeout: float, headers: dict | None = None,
                  classify_error: ErrorClassifier | None = None) -> LentClient:
    """The shared client for these settings; headers carrying credentials are part of the key,
    so a rotated token gets a client of its own and the old one ages out."""
    key = (provider, base_url, timeout, tuple(sorted((headers or {}).items())), classify_error)
    with _lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return LentClient(client)
    created = ProviderHttpClient(provider, base_url, timeout=timeout, default_headers=headers,
                                 classify_error=classify_error)
    with _lock:
        existing = _clients.get(key)
        if existing is not None:
            evicted = [created]
            client = existing
        else:
            _clients[key] = client = created
            evicted = [_clients.popitem(last=False)[1] for _ in range(max(0, len(_clients) - MAX_CLIENTS))]
    for old in evicted:
        old.close()
    return LentClient(client)


def close_all() -> None:
    """Close every pooled client (tests, process shutdown)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
