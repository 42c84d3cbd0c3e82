"""Push notifications through FCM: written queued, delivered by a task, every try recorded.

A push goes to one device (registration token + platform), to a player, or to a topic.
FCM has no per-person address, so a player is the topic `player-<player id>`: the app
subscribes a signed-in player's devices to it (and unsubscribes them on sign-out). Topic
subscriptions are made by the app itself, so keep personal content out of player pushes.

Delivery follows communication.services.attempts; the stale-claim sweep is the in-flight one
(communication.services.inflight), because FCM takes no idempotency key.
"""
from __future__ import annotations

import json

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from adapters.providers import fcm as fcm_adapter
from communication.models import DeliveryAttempt, FcmConfig, PushNotification
from communication.selectors import message_filters_apply
from communication.services import attempts, inflight
from communication.services.routing import provider_config
from integrations.errors import ApplicationError, NotFound
from integrations.families.registry import family_spec

PUSH_SEND = "push.send"
PLAYER_TOPIC_PREFIX = "player-"
MAX_DATA_BYTES = 4096
# FCM refuses these data keys (https://firebase.google.com/docs/cloud-messaging/concept-options#data_messages);
# `hub_message_id` is the hub's own.
RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type", fcm_adapter.REFERENCE_DATA_KEY})
RESERVED_DATA_PREFIXES = ("google", "gcm")


def outbound_push(message: PushNotification) -> fcm_adapter.OutboundPush:
    topic = message.topic or (f"{PLAYER_TOPIC_PREFIX}{message.player_id}" if message.player_id else "")
    return fcm_adapter.OutboundPush(
        reference=str(message.pk), token=message.target_token, platform=message.target_platform, topic=topic,
        title=message.title, body=message.body, image_url=message.image_url, data=message.data,
        priority=message.priority, ttl_seconds=message.ttl_seconds, collapse_key=message.collapse_key,
        badge_count=message.badge_count, sound=message.sound, click_action=message.click_action)


def _prepare(config, message: PushNotification, resolve):
    adapter_config = family_spec(config.family).binding(config.provider).build_config(config, resolve)
    push = outbound_push(message)

    def request():
        inflight.dispatch_mark(channel=PUSH_CHANNEL, message=message, config=config)
        return fcm_adapter.send_push(adapter_config, push)

    return request


def _enqueue(message_id: str) -> None:
    from communication.tasks import push_deliver as push_deliver_task

    push_deliver_task.delay(message_id)


PUSH_CHANNEL = attempts.Channel(kind=DeliveryAttempt.Kind.PUSH, model=PushNotification, operation=PUSH_SEND,
                                prepare=_prepare, enqueue=_enqueue)
attempts.register_channel_replay(PUSH_CHANNEL)


def _invalid(field: str, rule: str) -> ApplicationError:
    return ApplicationError(f"'{field}' {rule}", extra={"errors": {field: [rule]}})


def push_data_check(data: dict) -> dict:
    """A flat object of strings, at most MAX_DATA_BYTES as JSON, without FCM's reserved keys."""
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise _invalid("data", "must be a flat object of string values")
    reserved = sorted(k for k in data if k in RESERVED_DATA_KEYS or k.lower().startswith(RESERVED_DATA_PREFIXES))
    if reserved:
        raise _invalid("data", f"uses reserved keys: {', '.join(reserved)}")
    if len(json.dumps(data, separators=(",", ":")).encode()) > MAX_DATA_BYTES:
        raise _invalid("data", f"must be at most {MAX_DATA_BYTES} bytes as JSON")
    return data


def push_send(*, tenant, title: str = "", body: str = "", target_token: str = "", target_platform: str = "",
              player_id: str = "", topic: str = "", image_url: str = "", data: dict | None = None,
              priority: str = "", ttl_seconds: int | None = None, collapse_key: str = "",
              badge_count: int | None = None, sound: str = "", click_action: str = "", config_id=None,
              idempotency_key: str | None = None, notification=None) -> PushNotification:
    """Write the push queued and enqueue its delivery on commit. The same idempotency key
    returns the push it first created."""
    targets = [name for name, value in (("target_token", target_token), ("player_id", player_id),
                                        ("topic", topic)) if value]
    if len(targets) != 1:
        raise _invalid("target_token", "give exactly one target: target_token (with target_platform), "
                                       "player_id or topic")
    if target_token and not target_platform:
        raise _invalid("target_platform", "is required with target_token")
    if not (title or body or data):
        raise _invalid("body", "a push needs a title, a body or data")
    data = push_data_check(data or {})
    if idempotency_key and (existing := _existing(tenant, idempotency_key)) is not None:
        return existing
    config = provider_config(tenant=tenant, model=FcmConfig, label=fcm_adapter.display_name, config_id=config_id)
    fields = dict(target_token=target_token, target_platform=target_platform, player_id=player_id, topic=topic,
                  title=title, body=body, image_url=image_url, data=data,
                  priority=priority or config.default_priority,
                  ttl_seconds=config.default_ttl_seconds if ttl_seconds is None else ttl_seconds,
                  collapse_key=collapse_key, badge_count=badge_count, sound=sound, click_action=click_action)
    size = fcm_adapter.message_size(outbound_push(PushNotification(**fields)))
    if size > fcm_adapter.MAX_MESSAGE_BYTES:
        raise _invalid("body", f"the push is {size} bytes as FCM would receive it; FCM takes at most "
                               f"{fcm_adapter.MAX_MESSAGE_BYTES}")
    try:
        with transaction.atomic():
            message = PushNotification.objects.create(
                tenant=tenant, config=config, provider=config.provider, idempotency_key=idempotency_key,
                notification=notification, metadata={attempts.ROUTE: [str(config.pk)]}, **fields)
            transaction.on_commit(lambda: _enqueue(str(message.pk)))
    except IntegrityError:
        existing = _existing(tenant, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return message


def _existing(tenant, idempotency_key: str) -> PushNotification | None:
    return PushNotification.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def push_deliver(*, message_id, final_attempt: bool) -> PushNotification | None:
    return attempts.message_deliver(channel=PUSH_CHANNEL, message_id=message_id, final_attempt=final_attempt)


def push_requeue_stale() -> dict[str, int]:
    return inflight.messages_requeue_stale(channel=PUSH_CHANNEL)


# --- reads -----------------------------------------------------------------------------------

def push_list(*, tenant, filters: dict | None = None) -> QuerySet:
    return message_filters_apply(PushNotification.objects.filter(tenant=tenant), filters or {},
                                 exact=("topic", "player_id", "target_token"))


def push_get(*, tenant, message_id) -> PushNotification:
    message = PushNotification.objects.filter(tenant=tenant, pk=message_id).first()
    if message is None:
        raise NotFound("push notification not found")
    return message
