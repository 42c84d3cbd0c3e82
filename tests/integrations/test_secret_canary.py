"""The canary: a unique secret value planted through every way a secret enters the hub must
show up in no API response, no log line and no database column (nor in Redis)."""
from __future__ import annotations

import io
import logging
import os
import uuid

import pytest
from django.db import connection

from config.logging import JsonFormatter, RedactSecretsFilter
from integrations.secrets.fields import SecretRefField
from integrations.secrets.keyvault import keyvault_configure, keyvault_reset
from integrations.secrets.services import secret_cache_clear, secret_resolve, secret_store
from tests.sandboxes.keyvault import KeyVaultSandbox

logger = logging.getLogger("integrations.provider_call")


def _canary(path: str) -> str:
    return f"canary-{path}-{uuid.uuid4().hex}"


def _as_text(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _dump_database() -> dict[str, str]:
    """Every table of the test database as text: `{table: every value of every row}`."""
    dump = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump[table] = "\n".join(_as_text(value) for row in cursor.fetchall() for value in row)
    return dump


def _dump_redis() -> str:
    """Every key and value in the Redis database the cache uses, when there is one."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return ""
    import redis

    client = redis.Redis.from_url(url)
    readers = {b"string": client.get, b"hash": client.hgetall, b"list": lambda k: client.lrange(k, 0, -1),
               b"set": client.smembers, b"zset": lambda k: client.zrange(k, 0, -1)}
    chunks = []
    for key in client.scan_iter(count=500):
        reader = readers.get(client.type(key))
        chunks.append(_as_text(key) + "=" + (_as_text(reader(key)) if reader else ""))
    return "\n".join(chunks)


@pytest.fixture
def vault(settings):
    secret_cache_clear()
    with KeyVaultSandbox() as sandbox:
        settings.AZURE_KEYVAULT_URL_TEMPLATE = sandbox.url
        # verify_challenge_resource=False: see tests/integrations/test_secrets_keyvault.py.
        keyvault_configure(credential=sandbox.credential, connection_verify=sandbox.ca_file,
                           verify_challenge_resource=False)
        yield sandbox
    keyvault_reset()
    secret_cache_clear()


@pytest.fixture
def console_log():
    """What the `console` handler of settings.LOGGING writes, caught in a buffer."""
    console = next((h for h in logging.getLogger().handlers if h.get_name() == "console"), None)
    assert console is not None, "settings.LOGGING no longer installs the console handler"
    buffer = io.StringIO()
    original = console.setStream(buffer)
    yield buffer
    console.setStream(original)


@pytest.fixture
def json_log():
    """A handler built the way settings.LOGGING builds the console one."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


@pytest.mark.postgres
@pytest.mark.django_db
def test_canary_never_leaves_the_secret_store(tenant, api, vault, monkeypatch, caplog, console_log, json_log):
    caplog.set_level(logging.INFO)
    canaries = {path: _canary(path) for path in ("api", "service", "env", "kv", "rejected", "inline")}
    responses = []

    # given: the canary planted through every way a secret comes in
    responses.append(api.post("/api/v1/secrets/", {"name": "canary-api", "value": canaries["api"]}, format="json"))
    service_ref = secret_store(tenant=tenant, name="canary-service", value=canaries["service"])
    monkeypatch.setenv("HUB_SECRET_CANARY", canaries["env"])
    kv_version = vault.set_secret("canary-kv", canaries["kv"])
    # ... and through the ways it is turned away
    responses.append(api.post("/api/v1/secrets/", {"name": "bad name", "value": canaries["rejected"]},
                              format="json"))
    inline = SecretRefField()
    with pytest.raises(Exception) as refused:
        inline.run_validation(canaries["inline"])

    # when: each is resolved and used the way a provider call would, logging as it goes
    refs = {"api": "local://canary-api", "service": service_ref, "env": "env://HUB_SECRET_CANARY",
            "kv": f"kv://hub-vault/canary-kv/{kv_version}"}
    for path, ref in refs.items():
        value = secret_resolve(tenant=tenant, ref=ref)
        assert value == canaries[path]
        logger.info("calling provider with credential %s from %s", value, ref)
        logger.info("credential attached", extra={"credential": value})
        try:
            raise RuntimeError(f"provider rejected {value}")
        except RuntimeError:
            logger.exception("provider call failed")
    responses.append(api.get("/api/v1/secrets/"))
    for handler in logging.getLogger().handlers:
        handler.flush()

    # then: the canary is nowhere
    database = _dump_database()
    outputs = {
        "api responses": "\n".join(r.content.decode() for r in responses),
        "refused field error": str(refused.value),
        "caplog text": caplog.text,
        "caplog messages": "\n".join(record.getMessage() for record in caplog.records),
        "json log": json_log.getvalue(),
        "console log": console_log.getvalue(),
        "redis": _dump_redis(),
        **{f"table {table}": text for table, text in database.items()},
    }
    for canary in canaries.values():
        leaks = [where for where, text in outputs.items() if canary in text]
        assert leaks == [], f"a canary leaked into {leaks}"
    # and the checks looked where the canary would have been
    assert [r.status_code for r in responses] == [201, 400, 200]
    assert "canary-api" in database["integrations_localsecret"]
    for log in (json_log.getvalue(), console_log.getvalue()):
        assert log.count("[REDACTED]") >= 3 * len(refs)
        assert "calling provider with credential [REDACTED] from local://canary-api" in log
