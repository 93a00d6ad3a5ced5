"""Who is making a request, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    """An authenticated user, through a browser session or an API token.

    ``permissions`` are the effective ones: the role's, narrowed to the token's scopes when
    the request came with a token.
    """

    user_id: int
    username: str
    role: str
    permissions: frozenset[str]
    via: Literal["session", "token"]
    token_id: int | None = None
    token_name: str | None = None
    csrf_token: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        if self.token_name is not None:
            return f"{self.username} (token {self.token_name!r})"
        return self.username

    def can(self, permission: str) -> bool:
        return permission in self.permissions
