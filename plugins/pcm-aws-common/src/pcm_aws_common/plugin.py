"""The hooks of the aws-common plugin: what core reads and calls, and nothing else.

Core imports this module at discovery (for every ``pcm-ops`` command), so only ``pcm_ops``,
the standard library and :mod:`pcm_aws_common.ids` are imported at the top; aiobotocore,
FastAPI, SQLModel and the plugin's other modules are imported inside the hooks that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcm_aws_common.ids import (
    MANAGE_ACCOUNTS,
    MANAGE_CREDENTIALS,
    PLUGIN_ID,
    READ,
    SHARE_CREDENTIALS,
)
from pcm_ops import hookimpl
from pcm_ops.plugin import (
    HealthCheck,
    MigrationTree,
    NavEntry,
    Permission,
    PluginMetadata,
    Seed,
    WebPages,
)

PACKAGE = Path(__file__).parent

metadata = PluginMetadata(
    id=PLUGIN_ID,
    display_name="AWS Common",
    provider="aws",
    tool="common",
    description="AWS partitions and regions, credential sources, the accounts registry, "
    "cross-account AssumeRole and the shared AWS client factory.",
    plugin_api=">=1.0,<2",
    table_prefix="aws_common_",
)


@hookimpl
def pcm_ops_settings_model() -> Any:
    from pcm_aws_common.config import AwsCommonSettings

    return AwsCommonSettings


@hookimpl
def pcm_ops_permissions() -> list[Permission]:
    return [
        Permission(
            READ,
            "See partitions, accounts and credential sources (never secrets)",
            ("admin", "operator", "viewer"),
        ),
        Permission(
            MANAGE_CREDENTIALS,
            "Enter, refresh and remove one's own AWS credentials",
            ("admin", "operator"),
        ),
        Permission(
            SHARE_CREDENTIALS,
            "Manage shared AWS credentials and the host's default chain and profiles",
            ("admin",),
        ),
        Permission(MANAGE_ACCOUNTS, "Add, change, import and remove registry accounts", ("admin",)),
    ]


@hookimpl
def pcm_ops_models() -> list[Any]:
    from pcm_aws_common.models import MODELS

    return list(MODELS)


@hookimpl
def pcm_ops_migrations() -> MigrationTree:
    return MigrationTree(directory=PACKAGE / "migrations" / "versions")


@hookimpl
def pcm_ops_seeds() -> list[Seed]:
    from pcm_aws_common.seeds import seed_partitions

    return [
        Seed(
            "partitions-and-regions",
            1,
            seed_partitions,
            "The Commercial and GovCloud partitions and their regions, from botocore.",
        )
    ]


@hookimpl
def pcm_ops_api_routers(settings: Any) -> list[Any]:
    from pcm_aws_common.api import routers

    if settings.demo:
        # The first hook with the settings while the application is built: stop now when
        # moto is missing, and point the process's AWS clients at the fake AWS before any
        # of them exists (pcm_aws_common.demo).
        from pcm_aws_common import demo

        demo.prepare(settings)
    return routers()


@hookimpl
def pcm_ops_web_pages() -> WebPages:
    from pcm_aws_common.pages import router

    return WebPages(
        routers=[router],
        templates=PACKAGE / "templates",
        static=PACKAGE / "static",
        nav=[
            NavEntry("Accounts", "accounts", order=10, permission=READ),
            NavEntry("Credentials", "credentials", order=20, permission=READ),
        ],
    )


@hookimpl
def pcm_ops_health_checks(settings: Any) -> list[HealthCheck]:
    from pcm_aws_common.services.health import credential_sources_check

    return [HealthCheck("credential-sources", credential_sources_check(settings), timeout=10.0)]


@hookimpl
async def pcm_ops_startup(app: Any, settings: Any, config: Any) -> None:
    from pcm_aws_common import runtime
    from pcm_aws_common.services.clients import AwsClients
    from pcm_aws_common.services.health import SourceHealth

    if settings.demo:
        from pcm_aws_common import demo

        config = await demo.start(app, settings, config)  # moto and its fleet; config at it
    clients = AwsClients(app.state.database, config)
    if settings.demo:
        try:
            await demo.register(app, clients)  # credential sources and accounts, once
        except BaseException:
            await clients.aclose()
            await demo.stop(app)
            raise
        demo.announce(app)
    app.state.aws_clients = clients
    runtime.start(
        settings,
        runtime.AwsCommonRuntime(clients, SourceHealth(clients, config.health_cache_seconds)),
    )


@hookimpl
async def pcm_ops_shutdown(app: Any, settings: Any) -> None:
    from pcm_aws_common import runtime

    state = runtime.stop(settings)
    if state is not None:
        await state.health.aclose()
        await state.clients.aclose()
    app.state.aws_clients = None
    if getattr(app.state, "aws_demo", None) is not None:
        from pcm_aws_common import demo

        await demo.stop(app)


@hookimpl
def pcm_ops_cli_commands() -> list[Any]:
    from pcm_aws_common.cli import aws

    return [aws]
