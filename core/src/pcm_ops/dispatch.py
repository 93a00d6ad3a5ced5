"""Routing by plugin prefix: a request is matched against its plugin's routes only.

Starlette matches a request against every route of the application in turn, so the cost of
a request grew with the number of plugins installed (and a 404 scanned the whole table
more than once). Every plugin route lies under the plugin's prefix
(``/api/tools/<provider>/<tool>`` or ``/tools/<provider>/<tool>``; :mod:`pcm_ops.mounting`
enforces it), so :class:`PrefixDispatch` splits the application's routes into one
*branch* per prefix and one for everything else, and sends a request to the branch its
path names. A branch keeps the application's own route order, and also holds every route
outside the plugins whose path could match under that prefix (a core route with a path
parameter near the start, say), so the route chosen, and the 404, 405 and trailing-slash
redirect answers, are the same as a scan of the whole table would give.

A branch is the application's router with a subset of its routes (a shallow copy), so
FastAPI's own matching, redirects, fallbacks and ``scope["router"]`` (the application's,
for ``url_for``) are unchanged. The branches are rebuilt when routes are added to the
application.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount
from starlette.types import Receive, Scope, Send

from pcm_ops.routes import effective_routes

#: The owner of a route that may match under several prefixes: it goes into every branch.
_EVERYWHERE = "*"


def _head(path: str, mount: bool) -> str:
    """The literal start of a route's path template, before its first parameter."""
    head = path.split("{", 1)[0]
    if mount and "{" not in path:
        head = path.rstrip("/") + "/"
    return head


def _may_match_under(head: str, prefix: str) -> bool:
    """Whether a template starting with the literal ``head`` can match a path under
    ``prefix`` (conservative: a false yes costs time, never a wrong answer)."""
    return head.startswith(prefix) or (prefix + "/").startswith(head)


class PrefixDispatch:
    """The application router's entry point, dispatching on the plugin prefix of the path.

    Install it with :func:`install_prefix_dispatch`; ``prefixes`` are the plugins' API and
    page prefixes, without a trailing slash.
    """

    def __init__(self, router: Any, prefixes: Iterable[str]) -> None:
        self.router = router
        self.prefixes = frozenset(prefixes)
        depths = sorted({prefix.count("/") + 1 for prefix in self.prefixes})
        self._depths = tuple(depths)
        self._signature: tuple[int, int] | None = None
        self._branches: dict[str, Any] = {}
        self._core: Any = router

    # --- building -------------------------------------------------------------------

    def _owner(self, route: BaseRoute) -> tuple[str | None, list[str]]:
        """Which prefix ``route`` lies under (``None``: none, ``*``: several or unknown),
        and the heads of its path templates."""
        heads: list[str] = []
        owners: set[str | None] = set()
        try:
            served = list(effective_routes([route]))
        except Exception:  # an exotic route we cannot read: let every branch try it
            return _EVERYWHERE, heads
        if not served:
            return _EVERYWHERE, heads
        for item in served:
            original = getattr(item.route, "original_route", item.route)
            head = _head(item.path, isinstance(original, Mount))
            heads.append(head)
            owners.add(
                next(
                    (p for p in self.prefixes if item.path == p or head.startswith(p + "/")),
                    None,
                )
            )
        if len(owners) == 1:
            return owners.pop(), heads
        return _EVERYWHERE, heads

    def _rebuild(self, routes: Sequence[BaseRoute]) -> None:
        owned = [(route, *self._owner(route)) for route in routes]
        branches: dict[str, Any] = {}
        for prefix in {owner for _, owner, _ in owned if owner not in (None, _EVERYWHERE)}:
            assert prefix is not None
            selected = [
                route
                for route, owner, heads in owned
                if owner in (prefix, _EVERYWHERE)
                or (owner is None and any(_may_match_under(h, prefix) for h in heads))
            ]
            branches[prefix] = self._branch(selected)
        core = [route for route, owner, _ in owned if owner in (None, _EVERYWHERE)]
        self._core = self._branch(core)
        self._branches = branches
        self._signature = (id(self.router.routes), len(self.router.routes))

    def _branch(self, routes: list[BaseRoute]) -> Any:
        branch = copy.copy(self.router)
        branch.routes = routes
        return branch

    # --- serving --------------------------------------------------------------------

    def branch_for(self, path: str) -> Any:
        """The router that serves ``path`` (the application's route path, without its
        ``root_path``)."""
        routes = self.router.routes
        if self._signature != (id(routes), len(routes)):
            self._rebuild(routes)
        if self._branches:
            for depth in self._depths:
                branch = self._branches.get("/".join(path.split("/", depth)[:depth]))
                if branch is not None:
                    return branch
        return self._core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.router.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        if "router" not in scope:
            scope["router"] = self.router  # url_for looks routes up in the whole app
        await self.branch_for(path).app(scope, receive, send)


def install_prefix_dispatch(app: Any, prefixes: Iterable[str]) -> PrefixDispatch | None:
    """Make ``app``'s router dispatch on ``prefixes``; ``None`` (and nothing changed) when
    the router has middleware of its own, which the dispatch would bypass."""
    router = app.router
    if router.middleware_stack != router.app:
        return None
    dispatch = PrefixDispatch(router, prefixes)
    router.middleware_stack = dispatch
    return dispatch
