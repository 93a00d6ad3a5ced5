"""The states of the fleet inventory: instances, their SSM agent, and each sync."""

from __future__ import annotations

from enum import StrEnum


class InstanceState(StrEnum):
    """EC2 instance states a filter may name (a sync leaves terminated instances out)."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting-down"


class Platform(StrEnum):
    """SSM's platform type, else what EC2 says."""

    LINUX = "Linux"
    WINDOWS = "Windows"
    MACOS = "MacOS"


class PingStatus(StrEnum):
    """SSM's ping status, and ``NotManaged`` for instances SSM does not know."""

    ONLINE = "Online"
    CONNECTION_LOST = "ConnectionLost"
    INACTIVE = "Inactive"
    NOT_MANAGED = "NotManaged"


class SyncStatus(StrEnum):
    """The state of one account-region's inventory sync."""

    RUNNING = "running"
    OK = "ok"
    ERROR = "error"
