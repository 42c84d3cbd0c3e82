from .inbound import InboundEvent, WebhookSource
from .outbound import DeliveryAttempt, SigningScheme, WebhookDelivery, WebhookEndpoint

__all__ = ["DeliveryAttempt", "InboundEvent", "SigningScheme", "WebhookDelivery", "WebhookEndpoint",
           "WebhookSource"]
