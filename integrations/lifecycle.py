"""The one lifecycle every integration and communication config follows.

draft -> active -> paused -> error -> decommissioned. Pure: no Django, no I/O. Status
changes happen only through `integrations.services.lifecycle.integration_transition`.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"
    DECOMMISSIONED = "decommissioned"


class Action(StrEnum):
    ACTIVATE = "activate"
    PAUSE = "pause"
    RESUME = "resume"
    DECOMMISSION = "decommission"
    FAIL = "fail"  # taken by the system on repeated credential failures, never offered to users


# action -> {from status: to status}
TRANSITIONS: dict[Action, dict[Status, Status]] = {
    Action.ACTIVATE: {Status.DRAFT: Status.ACTIVE},
    Action.PAUSE: {Status.ACTIVE: Status.PAUSED, Status.ERROR: Status.PAUSED},
    Action.RESUME: {Status.PAUSED: Status.ACTIVE, Status.ERROR: Status.ACTIVE},
    Action.DECOMMISSION: {s: Status.DECOMMISSIONED for s in (Status.DRAFT, Status.ACTIVE, Status.PAUSED, Status.ERROR)},
    Action.FAIL: {Status.ACTIVE: Status.ERROR},
}

USER_ACTIONS = (Action.ACTIVATE, Action.PAUSE, Action.RESUME, Action.DECOMMISSION)

# Moving into `active` from these states needs a passed validation newer than the last
# change to the config: leaving draft, and recovering from an error.
NEEDS_FRESH_VALIDATION = {(Status.DRAFT, Status.ACTIVE), (Status.ERROR, Status.ACTIVE)}


class TransitionNotAllowed(Exception):
    def __init__(self, action: Action, current: Status) -> None:
        self.action, self.current = action, current
        self.allowed = allowed_actions(current)
        allowed = ", ".join(self.allowed) or "none (terminal state)"
        super().__init__(f"cannot {action} an integration that is {current}; allowed: {allowed}")


def allowed_actions(current: Status) -> list[str]:
    return [a.value for a in USER_ACTIONS if current in TRANSITIONS[a]]


def target_status(action: Action, current: Status) -> Status:
    try:
        return TRANSITIONS[action][current]
    except KeyError:
        raise TransitionNotAllowed(action, current) from None


def needs_fresh_validation(current: Status, target: Status) -> bool:
    return (current, target) in NEEDS_FRESH_VALIDATION
