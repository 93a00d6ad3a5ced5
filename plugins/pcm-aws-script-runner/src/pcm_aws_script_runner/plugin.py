"""The hooks of the AWS Script Runner: what core reads and calls, and nothing else.

Core imports this module at discovery (for every ``pcm-ops`` command), so only ``pcm_ops``,
the standard library and :mod:`pcm_aws_script_runner.ids` are imported at the top; FastAPI,
SQLModel and the plugin's other modules are imported inside the hooks that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcm_aws_script_runner.ids import (
    EXECUTE,
    EXECUTIONS_QUEUE,
    INVENTORY_QUEUE,
    INVENTORY_SCHEDULE,
    INVENTORY_SCHEDULED_WORKFLOW,
    MANAGE_SCRIPTS,
    PLUGIN_ID,
    PROVIDER,
    READ,
    TOOL,
)
from pcm_ops import hookimpl
from pcm_ops.plugin import (
    JobDefinitions,
    MigrationTree,
    NavEntry,
    Permission,
    PluginMetadata,
    QueueDefinition,
    Seed,
    WebPages,
)

PACKAGE = Path(__file__).parent

metadata = PluginMetadata(
    id=PLUGIN_ID,
    display_name="AWS Script Runner",
    provider=PROVIDER,
    tool=TOOL,
    description="A versioned library of shell and PowerShell scripts, run on EC2 fleets "
    "through SSM Run Command.",
    plugin_api=">=1.0,<2",
    table_prefix="aws_sr_",
)


@hookimpl
def pcm_ops_add_hookspecs(plugin_manager: Any) -> None:
    from pcm_aws_script_runner import hookspecs

    plugin_manager.add_hookspecs(hookspecs)


@hookimpl
def pcm_ops_settings_model() -> Any:
    from pcm_aws_script_runner.config import ScriptRunnerSettings

    return ScriptRunnerSettings


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [
        Permission(READ, "See scripts, their versions and diffs", ("admin", "operator", "viewer")),
        Permission(EXECUTE, "Run scripts and cancel runs", ("admin", "operator")),
        Permission(MANAGE_SCRIPTS, "Create, edit, archive and unarchive scripts", ("admin",)),
    ]


@hookimpl
def pcm_ops_models() -> list[Any]:
    from pcm_aws_script_runner.models import MODELS

    return list(MODELS)


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(directory=PACKAGE / "migrations" / "versions")


@hookimpl
def pcm_ops_seeds() -> list[Seed]:
    from pcm_aws_script_runner.demo import seed_demo_scripts

    return [
        Seed(
            "demo-scripts",
            1,
            seed_demo_scripts,
            "Scripts to try in demo mode (disk usage, a service restart, patch checks, ...).",
            demo_only=True,
        )
    ]


@hookimpl
async def pcm_ops_startup(app: Any, settings: Any) -> None:
    from pcm_aws_script_runner.observability import count_active
    from pcm_ops import metrics

    metrics.on_scrape(app, count_active)
    if settings.demo:
        # After aws-common's start-up (plugins start in id order) has registered the demo
        # accounts, and after the job engine (core starts it before the plugins).
        from pcm_aws_script_runner.demo import sync_inventory

        await sync_inventory()


@hookimpl
def pcm_ops_api_routers() -> list[Any]:
    from pcm_aws_script_runner.api import executions, inventory, scripts, targets

    return [scripts.router, targets.router, inventory.router, executions.router]


@hookimpl
def pcm_ops_web_pages() -> WebPages:
    from pcm_aws_script_runner.web import executions, inventory, run_form, scripts

    return WebPages(
        # The run form's /executions/new before /executions/{id}, which would match it.
        routers=[scripts.router, inventory.router, run_form.router, executions.router],
        templates=PACKAGE / "templates",
        static=PACKAGE / "static",
        nav=[
            NavEntry("Scripts", "scripts", order=10, permission=READ),
            NavEntry("Fleet", "inventory", order=20, permission=READ),
            NavEntry("Executions", "executions", order=30, permission=READ),
        ],
    )


@hookimpl
def pcm_ops_jobs(config: Any) -> JobDefinitions:
    from pcm_ops.plugin import ScheduleDefinition

    cron = getattr(config, "inventory_sync_schedule", "*/30 * * * *")
    return JobDefinitions(
        modules=[
            "pcm_aws_script_runner.jobs.inventory",
            "pcm_aws_script_runner.jobs.executions.workflow",
        ],
        queues=[
            QueueDefinition(EXECUTIONS_QUEUE, worker_concurrency=20),
            # One sync at a time: two syncs of one account-region would race on its rows.
            QueueDefinition(INVENTORY_QUEUE, concurrency=1),
        ],
        # Every account and region of the registry; an empty setting turns it off.
        schedules=[
            ScheduleDefinition(
                INVENTORY_SCHEDULE, INVENTORY_SCHEDULED_WORKFLOW, cron, queue=INVENTORY_QUEUE
            )
        ]
        if cron
        else [],
    )


@hookimpl
def pcm_ops_cli_commands() -> list[Any]:
    from pcm_aws_script_runner.cli.main import script_runner

    return [script_runner]
