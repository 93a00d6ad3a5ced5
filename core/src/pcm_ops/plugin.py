"""What a plugin author writes: metadata and the small value types that hooks return.

Everything here is a plain frozen dataclass from the standard library, so that importing it
from a plugin's entry-point module costs nothing. Core validates these values in one place
(``pcm_ops.discovery.check_metadata``) and reports every problem with the plugin's id.

A minimal plugin module::

    from pcm_ops import hookimpl
    from pcm_ops.plugin import PluginMetadata

    metadata = PluginMetadata(
        id="aws-script-runner",
        display_name="AWS Script Runner",
        provider="aws",
        tool="script-runner",
        description="Run scripts on EC2 fleets through SSM.",
        plugin_api=">=1.0,<2",
        table_prefix="aws_sr_",
    )

    @hookimpl
    def pcm_ops_api_routers():
        from pcm_aws_script_runner.api import router  # heavy imports happen here, not above
        return [router]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "HealthCheck",
    "HealthResult",
    "JobDefinitions",
    "MigrationTree",
    "NavEntry",
    "Permission",
    "PluginMetadata",
    "QueueDefinition",
    "ScheduleDefinition",
    "Seed",
    "SeedContext",
    "WebPages",
]


@dataclass(frozen=True)
class PluginMetadata:
    """Declares who a plugin is. Read, and checked, before any of the plugin's hooks is used.

    The entry-point object (usually the plugin's ``plugin`` module) must have an attribute
    named ``metadata`` holding one of these.

    Attributes:
        id: the plugin's id; must equal the entry-point name (``aws-script-runner``).
            Lowercase letters, digits and dashes.
        display_name: the name people read (``AWS Script Runner``).
        provider: the cloud or system the tool is for (``aws``, ``servicenow``); the first
            part of the plugin's URL prefixes.
        tool: the tool's slug under its provider (``script-runner``); the second part of the
            URL prefixes: ``/api/tools/<provider>/<tool>/`` and ``/tools/<provider>/<tool>/``.
        description: one or two sentences for the plugins page.
        plugin_api: the range of core plugin-API versions the plugin supports, as a PEP 440
            specifier (``">=1.0,<2"``); compared with :data:`pcm_ops.PLUGIN_API_VERSION`.
        table_prefix: the prefix every table of the plugin starts with (``aws_sr_``); needed
            only by plugins that have models.
    """

    id: str
    display_name: str
    provider: str
    tool: str
    description: str = ""
    plugin_api: str = ">=1.0,<2"
    table_prefix: str | None = None

    @property
    def api_prefix(self) -> str:
        """Where the plugin's JSON API is mounted, without a trailing slash."""
        return f"/api/tools/{self.provider}/{self.tool}"

    @property
    def page_prefix(self) -> str:
        """Where the plugin's web pages are mounted, without a trailing slash."""
        return f"/tools/{self.provider}/{self.tool}"


@dataclass(frozen=True)
class NavEntry:
    """One link in the navigation bar, under the plugin's provider.

    Attributes:
        label: the link text.
        path: the page path *relative to the plugin's page prefix* (``""`` for its index,
            ``"executions"`` for ``/tools/<provider>/<tool>/executions``).
        order: entries are sorted by ``(order, label)`` within a provider.
        permission: the permission a user needs to see the entry (``None``: everyone who
            is logged in).
    """

    label: str
    path: str = ""
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class WebPages:
    """A plugin's web pages: returned by :func:`~pcm_ops.hookspecs.pcm_ops_web_pages`.

    Attributes:
        routers: FastAPI ``APIRouter`` objects whose routes return HTML; mounted under
            ``/tools/<provider>/<tool>/`` (declare paths relative to it, e.g. ``"/"``).
        templates: a folder of Jinja2 templates. They are loaded under the plugin's id, so
            ``templates/index.html`` is ``"<plugin-id>/index.html"``; they may extend core's
            ``"base.html"``.
        static: a folder served at ``/tools/<provider>/<tool>/static/``.
        nav: navigation entries.
    """

    routers: Sequence[Any] = ()
    templates: Path | None = None
    static: Path | None = None
    nav: Sequence[NavEntry] = ()


@dataclass(frozen=True)
class MigrationTree:
    """A plugin's Alembic version directory.

    The first revision in ``directory`` must carry ``branch_labels = ("<plugin-id>",)`` and,
    when the plugin's tables refer to core's, ``depends_on`` one of core's revisions. The
    branch label defaults to the plugin id, which is what ``pcm-ops db downgrade
    <plugin>@base`` uses.
    """

    directory: Path
    branch_label: str | None = None


@dataclass(frozen=True)
class SeedContext:
    """What a seed's ``run`` function receives.

    Attributes:
        session: an open ``AsyncSession``; core commits it when ``run`` returns and rolls it
            back (recording nothing) when ``run`` raises.
        settings: core's settings.
        config: the plugin's own validated settings, or ``None``.
        demo: true when the platform was started in demo mode.
    """

    session: AsyncSession
    settings: Any
    config: Any
    demo: bool = False


@dataclass(frozen=True)
class Seed:
    """A named, versioned, idempotent data seed.

    Core records ``(plugin, name, version)`` when ``run`` succeeds and does not run it
    again unless ``version`` grows. ``demo_only`` seeds run only in demo mode.
    """

    name: str
    version: int
    run: Callable[[SeedContext], Awaitable[None]]
    description: str = ""
    demo_only: bool = False


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one health check. ``ok=False`` makes ``/readyz`` answer 503."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class HealthCheck:
    """A readiness check, run by ``/readyz``.

    ``check`` is an async function with no arguments. It must be quick (core gives it
    ``timeout`` seconds) and should cache anything expensive itself. An exception counts as
    a failure whose detail is the exception's message.
    """

    name: str
    check: Callable[[], Awaitable[HealthResult]]
    timeout: float = 5.0


@dataclass(frozen=True)
class Permission:
    """A permission a plugin defines, named ``<plugin-id>:<action>``.

    ``default_roles`` lists the built-in roles (``admin``, ``operator``, ``viewer``) that hold
    it unless an administrator changes that; ``admin`` always holds every permission.
    """

    name: str
    description: str
    default_roles: tuple[str, ...] = ("admin",)


@dataclass(frozen=True)
class QueueDefinition:
    """A durable work queue.

    Attributes:
        name: unique across plugins; prefix it with the plugin id.
        concurrency: how many of its jobs run at once across all processes (``None``: no
            limit).
        worker_concurrency: how many run at once in one process.
        partitioned: whether jobs carry a partition key (for example ``account:region``)
            that gets its own concurrency limit.
    """

    name: str
    concurrency: int | None = None
    worker_concurrency: int | None = None
    partitioned: bool = False


@dataclass(frozen=True)
class ScheduleDefinition:
    """A workflow that runs on a schedule (a cron expression), enqueued on a queue.

    Attributes:
        name: the schedule's name within its plugin: lowercase letters, digits, ``-`` and
            ``_`` (``inventory-sync``). Its jobs are named
            ``sched-<plugin-id>:<name>-<time>``.
        workflow: the workflow to run: its DBOS name (``"aws-script-runner.inventory_sync"``,
            which keeps ``plugin.py`` free of heavy imports) or the function itself. It is
            called with two arguments, the time it was scheduled for (a ``datetime``) and
            ``None``; it must be declared in one of the plugin's job modules.
        cron: when: five fields (minute, hour, day of month, month, day of week:
            ``"*/30 * * * *"``) or six with seconds first (``"0 */30 * * * *"``), in UTC.
        queue: the queue its jobs go on, one of the plugin's; ``None``: ``core.default``.
    """

    name: str
    workflow: str | Callable[..., Any]
    cron: str
    queue: str | None = None


@dataclass(frozen=True)
class JobDefinitions:
    """A plugin's durable work: returned by :func:`~pcm_ops.hookspecs.pcm_ops_jobs`.

    Attributes:
        modules: dotted names of modules that define the plugin's workflows and steps. Core
            imports them only when it starts the job engine (in the server or in ``pcm-ops
            worker``), never at discovery, so that the engine stays out of ``--help``.
        queues: the queues those workflows are enqueued on.
        schedules: workflows that run on a schedule. Every executor declares them when it
            starts, and each scheduled run happens once, whichever executor takes it; a
            schedule the plugin no longer returns is removed.
    """

    modules: Sequence[str] = ()
    queues: Sequence[QueueDefinition] = field(default_factory=tuple)
    schedules: Sequence[ScheduleDefinition] = field(default_factory=tuple)
