"""The hooks of ServiceNow CMDB: what core and the script runner call, and nothing else.

Core imports this module at discovery: it imports only ``pcm_ops`` and the standard library
at the top. The script runner's hooks are marked ``optionalhook=True``, so that the plugin
loads and works (connections, change browser, CMDB lookups) without the script runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcm_ops import hookimpl
from pcm_ops.plugin import (
    JobDefinitions,
    MigrationTree,
    NavEntry,
    Permission,
    PluginMetadata,
    QueueDefinition,
    WebPages,
)
from pcm_servicenow_cmdb.ids import (
    MANAGE,
    PLUGIN_ID,
    READ,
    TABLE_PREFIX,
    TARGET_SOURCE,
    WORK_NOTES_QUEUE,
)

PACKAGE = Path(__file__).parent

metadata = PluginMetadata(
    id=PLUGIN_ID,
    display_name="ServiceNow CMDB",
    provider="servicenow",
    tool="cmdb",
    description="Change tickets and CMDB lookups; a change's servers as script-runner "
    "targets, and change-gated execution.",
    plugin_api=">=1.0,<2",
    table_prefix=TABLE_PREFIX,
)


@hookimpl
def pcm_ops_settings_model() -> Any:
    from pcm_servicenow_cmdb.config import ServiceNowSettings

    return ServiceNowSettings


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [
        Permission(
            READ, "Browse ServiceNow changes and CMDB items", ("admin", "operator", "viewer")
        ),
        Permission(MANAGE, "Add, change, test and remove ServiceNow connections", ("admin",)),
    ]


@hookimpl
def pcm_ops_models() -> list[Any]:
    from pcm_servicenow_cmdb.models import SnowConnection

    return [SnowConnection]


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(directory=PACKAGE / "migrations" / "versions")


@hookimpl
def pcm_ops_api_routers() -> list[Any]:
    from pcm_servicenow_cmdb.api import routers

    return routers()


@hookimpl
def pcm_ops_web_pages() -> WebPages:
    from pcm_servicenow_cmdb.web import connections, pages

    return WebPages(
        routers=[pages.router, connections.router],
        templates=PACKAGE / "templates",
        nav=[
            NavEntry("Changes", "", order=10, permission=READ),
            NavEntry("CMDB lookup", "cis", order=20, permission=READ),
            NavEntry("Connections", "connections", order=30, permission=READ),
        ],
    )


@hookimpl
async def pcm_ops_startup(app: Any, settings: Any) -> None:
    from pcm_servicenow_cmdb.services.pool import ClientPool

    app.state.servicenow_clients = ClientPool()
    if settings.demo:
        from pcm_servicenow_cmdb import demo

        await demo.start(app, app.state.registry.get(PLUGIN_ID))


@hookimpl
async def pcm_ops_shutdown(app: Any) -> None:
    pool = getattr(app.state, "servicenow_clients", None)
    if pool is not None:
        await pool.aclose()
    from pcm_servicenow_cmdb import demo

    await demo.stop(app)


@hookimpl
def pcm_ops_jobs() -> JobDefinitions:
    # A few notes at a time: they are small, and ServiceNow rate-limits integration users.
    return JobDefinitions(
        modules=["pcm_servicenow_cmdb.jobs"],
        queues=[QueueDefinition(WORK_NOTES_QUEUE, concurrency=4)],
    )


@hookimpl
def pcm_ops_cli_commands() -> list[Any]:
    from pcm_servicenow_cmdb.cli import servicenow

    return [servicenow]


# -- the AWS Script Runner's hooks (optional: the plugin loads without it) --------------------


@hookimpl(optionalhook=True)
def aws_sr_target_sources() -> Any:
    from pcm_aws_script_runner.hooktypes import TargetSource
    from pcm_servicenow_cmdb.services.gating import resolve_change

    return [
        TargetSource(
            TARGET_SOURCE,
            "ServiceNow change",
            resolve_change,
            "A change number (CHG0030001): the EC2 instances among its affected CIs.",
        )
    ]


@hookimpl(optionalhook=True)
async def aws_sr_pre_execution_checks(execution_request: Any, context: Any) -> Any:
    from pcm_servicenow_cmdb.services.gating import check_run

    return await check_run(execution_request, context)


@hookimpl(optionalhook=True)
async def aws_sr_execution_events(event: Any, context: Any) -> None:
    from pcm_servicenow_cmdb.services.worknotes import on_execution_event

    await on_execution_event(event, context)
