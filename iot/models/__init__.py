from .access import AccessSession, ConsumptionRecord, Member, SessionStatus
from .devices import Court, Device, DeviceKind, DeviceStatus, ProcessedMqttMessage
from .video import ClipStatus, HighlightClip, LiveStream, LiveStreamStatus
from .ziggy import ZiggyIntegration

__all__ = [
    "AccessSession", "ClipStatus", "ConsumptionRecord", "Court", "Device", "DeviceKind", "DeviceStatus",
    "HighlightClip", "LiveStream", "LiveStreamStatus", "Member", "ProcessedMqttMessage", "SessionStatus",
    "ZiggyIntegration",
]
