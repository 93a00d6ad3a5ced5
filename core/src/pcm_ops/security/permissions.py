"""Roles, permissions and which role holds which permission.

Core defines the ``core:*`` permissions below; plugins add theirs through the
``pcm_ops_permissions`` hook. A role holds the permissions whose ``default_roles`` name it;
``admin`` holds every permission.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pcm_ops.plugin import Permission
from pcm_ops.registry import PluginRegistry

ROLES = ("admin", "operator", "viewer")

#: Routes that anyone who is logged in may use (their own session, profile and logout).
AUTHENTICATED = "core:authenticated"

CORE_PERMISSIONS = (
    Permission(AUTHENTICATED, "Use one's own session and profile", ("admin", "operator", "viewer")),
    Permission("core:plugins.read", "See installed plugins", ("admin", "operator", "viewer")),
    Permission(
        "core:tokens.manage", "Create and revoke one's own API tokens", ("admin", "operator")
    ),
    Permission("core:users.manage", "Create users, change roles, disable users", ("admin",)),
    Permission("core:audit.read", "Read the audit log", ("admin",)),
    Permission("core:metrics.read", "Read /metrics when it is not public", ("admin",)),
    Permission("core:jobs.read", "See background jobs", ("admin", "operator", "viewer")),
    Permission("core:jobs.cancel", "Cancel background jobs", ("admin", "operator")),
)

_NAME = re.compile(r"^[a-z][a-z0-9-]*:[a-z][a-z0-9_.-]*$")


@dataclass
class PermissionSet:
    """Every known permission and the roles that hold it."""

    permissions: dict[str, Permission] = field(default_factory=dict)

    def add(self, permission: Permission, owner: str) -> str | None:
        """Add a permission; return why it was refused, or ``None``."""
        if not _NAME.match(permission.name):
            return f"permission {permission.name!r} must look like '<plugin-id>:<action>'"
        if not permission.name.startswith(f"{owner}:"):
            return f"permission {permission.name!r} must start with '{owner}:'"
        if permission.name in self.permissions:
            return f"permission {permission.name!r} is defined twice"
        unknown = [role for role in permission.default_roles if role not in ROLES]
        if unknown:
            return f"permission {permission.name!r} names unknown roles {unknown}"
        self.permissions[permission.name] = permission
        return None

    def for_role(self, role: str) -> frozenset[str]:
        if role == "admin":
            return frozenset(self.permissions)
        return frozenset(
            name
            for name, permission in self.permissions.items()
            if role in permission.default_roles
        )

    def names(self) -> list[str]:
        return sorted(self.permissions)


def collect_permissions(registry: PluginRegistry) -> PermissionSet:
    """Core's permissions plus each loaded plugin's; a plugin with a bad one is failed."""
    permissions = PermissionSet()
    for permission in CORE_PERMISSIONS:
        permissions.add(permission, "core")
    for record, returned in registry.call_each("pcm_ops_permissions"):
        problems = [
            problem
            for problem in (permissions.add(p, record.id) for p in _as_list(returned))
            if problem
        ]
        if problems:
            registry.fail(record, "; ".join(problems))
    return permissions


def _as_list(value: Iterable[Permission] | Permission) -> list[Permission]:
    return [value] if isinstance(value, Permission) else list(value)
