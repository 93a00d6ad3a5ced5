"""The PCM-Ops plugin contract: every hook core calls, and what each must return.

A plugin is a module (or object) named by an entry point in the ``pcm_ops.plugins`` group.
It carries a ``metadata`` attribute (:class:`pcm_ops.plugin.PluginMetadata`) and functions
marked with :data:`pcm_ops.hookimpl` whose names are the hook names below. A plugin
implements only the hooks it needs, and an implementation may accept any subset of the
arguments a spec lists, in any order: pluggy passes them by name.

How core calls hooks
    Core calls each plugin's implementation of a hook one plugin at a time: those marked
    ``@hookimpl(tryfirst=True)`` first, then the unmarked ones, then ``trylast=True``, by
    plugin id within each (``wrapper``/``hookwrapper`` are refused at discovery: there is
    no single call for them to wrap). It remembers which plugin returned what: routes are
    mounted under that plugin's prefix, its settings section is validated by its model,
    and an exception names that plugin and hook. During start-up an exception makes that
    plugin *failed* (it is unloaded, reported by ``pcm-ops plugins list``, ``/api/plugins``
    and ``/readyz``) and the other plugins keep working; in strict mode it stops start-up.
    ``pcm-ops plugins list --json`` shows the order in which every hook is called.

Arguments that several hooks share
    ``settings``: core's :class:`pcm_ops.settings.Settings` (data directory, database URL,
    demo mode, ...). ``config``: *this* plugin's own settings, an instance of the model it
    returned from :func:`pcm_ops_settings_model`, validated from the ``[<plugin-id>]``
    table of the config file and ``PCM_<PLUGIN_ID>__<FIELD>`` environment variables; ``None``
    when the plugin has no settings model.

Keep the plugin module cheap to import: import FastAPI routers, SQLModel models, AWS SDKs
and the like inside the hook functions, not at the top of the module. A disabled plugin is
never imported at all.

Hooks are grouped by the phase in which core calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pcm_ops import hookspec

if TYPE_CHECKING:
    import click
    import pluggy
    from fastapi import APIRouter, FastAPI
    from pydantic import BaseModel
    from sqlmodel import SQLModel

    from pcm_ops.plugin import (
        HealthCheck,
        JobDefinitions,
        MigrationTree,
        Permission,
        Seed,
        WebPages,
    )
    from pcm_ops.settings import Settings


# -------------------------------------------------------------------------------------------
# Registration: called once per plugin, right after core has read and checked its metadata.
# -------------------------------------------------------------------------------------------


@hookspec
def pcm_ops_add_hookspecs(plugin_manager: pluggy.PluginManager) -> None:
    """Add hook specifications of this plugin's own, for other plugins to implement.

    Called once for every plugin that implements it, after every enabled plugin has been
    registered and before any other hook is called. Call
    ``plugin_manager.add_hookspecs(module)`` with a module of functions marked with
    :data:`pcm_ops.hookspec`; other plugins then implement them with
    :data:`pcm_ops.hookimpl` and ``optionalhook=True`` (so that they still load when your
    plugin is not installed), and you call them with ``plugin_manager.hook.<name>(...)``.
    Prefix the hook names with your plugin's name (``aws_sr_pre_execution_checks``).

    :param plugin_manager: the ``pluggy.PluginManager`` that holds every loaded plugin.
    :return: nothing.

    Example::

        @hookimpl
        def pcm_ops_add_hookspecs(plugin_manager):
            from pcm_aws_script_runner import hookspecs
            plugin_manager.add_hookspecs(hookspecs)
    """


@hookspec
def pcm_ops_settings_model() -> type[BaseModel] | None:
    """Return the pydantic model that validates this plugin's settings.

    Called once at start-up, before any hook that receives ``config``. Core validates the
    ``[<plugin-id>]`` table of the config file, overlaid with environment variables named
    ``PCM_<PLUGIN_ID>__<FIELD>`` (the id upper-cased, dashes as underscores, two underscores
    before the field: ``PCM_AWS_COMMON__ENDPOINT_URL``), against it. Every error, in core's
    settings and in every plugin's, is reported together, each naming its key
    (``aws-common.endpoint_url``).

    :return: a subclass of ``pydantic.BaseModel`` whose fields all have defaults (so that
        the plugin works without configuration), or ``None``.

    Example::

        @hookimpl
        def pcm_ops_settings_model():
            from pydantic import BaseModel
            class Config(BaseModel):
                endpoint_url: str | None = None
            return Config
    """


@hookspec
def pcm_ops_permissions() -> list[Permission]:
    """Return the permissions this plugin defines.

    Called at start-up. Each name must be ``<plugin-id>:<action>`` and unique. Routes
    declare the permission they need; a user's role (or an API token's scopes) must hold it.

    :return: a list of :class:`pcm_ops.plugin.Permission`.

    Example::

        @hookimpl
        def pcm_ops_permissions():
            return [Permission("aws-script-runner:execute", "Run scripts",
                               default_roles=("admin", "operator"))]
    """


# -------------------------------------------------------------------------------------------
# Data: models, migrations and seeds. Called by the application and by ``pcm-ops db``.
# -------------------------------------------------------------------------------------------


@hookspec
def pcm_ops_models() -> list[type[SQLModel]]:
    """Return this plugin's SQLModel table classes.

    Called at start-up and by ``pcm-ops db check``. Importing the classes registers their
    tables in ``SQLModel.metadata``; core uses that to check that models and migrations
    agree. Every table name must start with the plugin's ``table_prefix``. Core never calls
    ``create_all`` outside tests: tables come from migrations.

    :return: a list of ``SQLModel`` subclasses declared with ``table=True``.

    Example::

        # models.py
        class ExampleNote(SQLModel, table=True):
            __tablename__ = "example_note"  # starts with the plugin's table_prefix
            id: int | None = Field(default=None, primary_key=True)
            title: str = Field(max_length=200)

        # plugin.py
        @hookimpl
        def pcm_ops_models():
            from pcm_example.models import ExampleNote
            return [ExampleNote]
    """


@hookspec
def pcm_ops_migrations() -> MigrationTree | None:
    """Return this plugin's Alembic version directory.

    Called by ``pcm-ops db ...``, by ``/readyz`` and ``/api/plugins`` (which compare the
    database's revision with the head). Core runs one Alembic environment over core's
    directory and the directories of the enabled plugins. The plugin's first revision
    carries ``branch_labels = ("<plugin-id>",)`` and ``down_revision = None``; if its tables
    refer to core's, it also sets ``depends_on`` to a core revision id. Generate revisions
    with ``pcm-ops db revision <plugin-id> -m "..."``.

    :return: a :class:`pcm_ops.plugin.MigrationTree`, or ``None``.

    Example::

        @hookimpl
        def pcm_ops_migrations():
            return MigrationTree(directory=Path(__file__).parent / "migrations" / "versions")
    """


@hookspec
def pcm_ops_seeds(settings: Settings, config: Any) -> list[Seed]:
    """Return this plugin's data seeds.

    Called by ``pcm-ops db seed`` and, when the server is started with ``--migrate`` or in
    demo mode, at start-up after migrations. Core runs each seed whose ``(name, version)``
    has not run yet, in the order returned, in a transaction of its own, and records it.

    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: a list of :class:`pcm_ops.plugin.Seed`.

    Example::

        async def add_welcome_note(context: SeedContext) -> None:
            context.session.add(ExampleNote(title="Welcome", body=context.config.greeting))

        @hookimpl
        def pcm_ops_seeds():
            return [Seed("welcome-note", 1, add_welcome_note, "A first note that says hello."),
                    Seed("demo-notes", 1, add_demo_notes, demo_only=True)]
    """


# -------------------------------------------------------------------------------------------
# Application: called by ``create_app`` while it builds the FastAPI application.
# -------------------------------------------------------------------------------------------


@hookspec
def pcm_ops_api_routers(settings: Settings, config: Any) -> list[APIRouter]:
    """Return the FastAPI routers of this plugin's JSON API.

    Called once by ``create_app``. Core mounts every router under
    ``/api/tools/<provider>/<tool>``: declare paths relative to it (``@router.get("/scripts")``
    becomes ``/api/tools/aws/script-runner/scripts``). A router whose own ``prefix`` is
    already absolute (starts with ``/api/``) is mounted as it is, and must lie under the
    plugin's prefix. Core refuses a route outside the prefix and any method and path that
    another plugin already serves, naming both plugins; in either case the plugin is marked
    failed. The routes appear in the OpenAPI document under a tag named after the plugin.

    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: a list of ``fastapi.APIRouter``.

    Example::

        # api.py
        from pcm_ops.api.deps import DbSession
        from pcm_ops.security import require

        router = APIRouter()

        @router.get("/notes", response_model=list[NoteOut],
                    dependencies=[require("example:notes.read")])
        async def list_notes(session: DbSession) -> Any:  # GET /api/tools/example/notes/notes
            return await services.list_notes(session)

        # plugin.py
        @hookimpl
        def pcm_ops_api_routers():
            from pcm_example.api import router
            return [router]
    """


@hookspec
def pcm_ops_web_pages(settings: Settings, config: Any) -> WebPages | None:
    """Return this plugin's web pages, templates, static files and navigation entries.

    Called once by ``create_app``. Page routers are mounted under
    ``/tools/<provider>/<tool>``; static files are served from
    ``/tools/<provider>/<tool>/static/``; templates are found under ``"<plugin-id>/..."`` and
    may extend core's ``"base.html"``. Render them with
    ``pcm_ops.web.render(request, "<plugin-id>/page.html", {...})``. Navigation entries
    appear under the plugin's provider on every page.

    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: a :class:`pcm_ops.plugin.WebPages`, or ``None``.

    Example::

        @hookimpl
        def pcm_ops_web_pages():
            from pcm_example.pages import router  # renders "example/index.html"
            package = Path(__file__).parent
            return WebPages(
                routers=[router],
                templates=package / "templates",
                static=package / "static",
                nav=[NavEntry("Notes", "", order=10, permission="example:notes.read")],
            )
    """


@hookspec
def pcm_ops_health_checks(settings: Settings, config: Any) -> list[HealthCheck]:
    """Return readiness checks for ``/readyz``.

    Called once by ``create_app``; the returned checks run on every ``/readyz`` request,
    concurrently, each under its own timeout. A failing check makes ``/readyz`` answer 503
    with the check's name and detail.

    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: a list of :class:`pcm_ops.plugin.HealthCheck`.

    Example::

        @hookimpl
        def pcm_ops_health_checks(config):
            async def greeting_is_set():
                if not config.greeting.strip():
                    return HealthResult(False, "set [example] greeting in the config file")
                return HealthResult(True)

            return [HealthCheck("greeting", greeting_is_set, timeout=1.0)]
    """


@hookspec
def pcm_ops_jobs(settings: Settings, config: Any) -> JobDefinitions | None:
    """Return this plugin's durable job definitions: workflow modules, queues and schedules.

    Called once when core starts the job engine: in the server's lifespan (before any
    ``pcm_ops_startup`` hook) and in ``pcm-ops worker``. Core imports the listed modules,
    whose ``@DBOS.workflow(name=...)`` and ``@DBOS.step()`` functions are the plugin's jobs
    and their steps, before DBOS launches, so that jobs interrupted by a crash resume; then
    it declares the queues and the schedules (:class:`pcm_ops.plugin.ScheduleDefinition`:
    a workflow, by name or function, a cron expression and a queue), and removes the
    plugin's schedules it no longer returns, so that returning a schedule only when a
    setting asks for it turns it on and off. Every process of a deployment must load the
    same plugins. A queue is named ``<plugin-id>.<name>``; a hook that raises, returns
    something else than ``JobDefinitions``, declares a bad queue or schedule (a bad cron
    expression, a queue not its own, a workflow none of its modules declares) or names a
    module that fails to import marks the plugin failed.

    Enqueue with :func:`pcm_ops.jobs.enqueue_async` (or ``enqueue``); publish live events
    with :func:`pcm_ops.jobs.publish` and serve them with
    :func:`pcm_ops.jobs.event_stream_response`. See ``docs/jobs.md``.

    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: a :class:`pcm_ops.plugin.JobDefinitions`, or ``None``.

    Example::

        @hookimpl
        def pcm_ops_jobs(config):
            return JobDefinitions(
                modules=["pcm_aws_script_runner.jobs"],
                queues=[QueueDefinition("aws-script-runner.commands", concurrency=2,
                                        partitioned=True),  # 2 per account:region
                        QueueDefinition("aws-script-runner.inventory", concurrency=1)],
                schedules=[ScheduleDefinition("inventory-sync",
                                              "aws-script-runner.inventory_sync_scheduled",
                                              cron=config.inventory_sync_schedule,
                                              queue="aws-script-runner.inventory")]
                if config.inventory_sync_schedule else [],
            )
    """


@hookspec
def pcm_ops_startup(app: FastAPI, settings: Settings, config: Any) -> Any:
    """Start what the plugin needs while the application runs (clients, caches, tasks).

    An ``async def`` implementation; core awaits it in the application's lifespan, plugin by
    plugin in order, after migrations (when asked) and before the first request. If it
    raises, the plugin is marked failed, its routes answer 503, and the others keep working
    (strict mode: the server does not start). Store state on ``app.state``.

    :param app: the FastAPI application.
    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: an awaitable; its result is ignored.

    Example::

        @hookimpl
        async def pcm_ops_startup(app, config):
            import httpx
            app.state.servicenow = httpx.AsyncClient(base_url=config.instance_url, timeout=10)
    """


@hookspec
def pcm_ops_shutdown(app: FastAPI, settings: Settings, config: Any) -> Any:
    """Release what :func:`pcm_ops_startup` acquired.

    An ``async def`` implementation; awaited when the server stops, in the reverse of the
    start-up order, for every plugin whose start-up succeeded, after core has stopped the
    job engine (no job of this process still runs, and none can be enqueued from here). An
    exception is logged and does not stop the other plugins' shutdown.

    :param app: the FastAPI application.
    :param settings: core's settings.
    :param config: this plugin's settings, or ``None``.
    :return: an awaitable; its result is ignored.

    Example::

        @hookimpl
        async def pcm_ops_shutdown(app):
            await app.state.servicenow.aclose()  # opened by pcm_ops_startup
    """


# -------------------------------------------------------------------------------------------
# Command line
# -------------------------------------------------------------------------------------------


@hookspec
def pcm_ops_cli_commands() -> list[click.Command]:
    """Return ``click`` commands (usually one group) to add to ``pcm-ops``.

    Called when one of the plugins' commands is run, and on ``pcm-ops --help`` when an
    enabled plugin does not declare its commands in the ``pcm_ops.cli`` entry-point group.
    A command named like a core command or another plugin's is refused with both plugins
    named. Name your group after your tool (``pcm-ops script-runner ...``). Import heavy
    modules inside the command functions, so that ``--help`` stays fast.

    Declare the returned object in the ``pcm_ops.cli`` entry-point group as well, under the
    plugin id (``example = "pcm_example.cli:example"``): ``pcm-ops --help`` and
    ``pcm-ops <group> --help`` then import only that module, not the plugins, so it must
    import nothing but click and ``pcm_ops.cli``. Without the declaration, ``--help``
    discovers every plugin (settings, pluggy, each ``plugin.py``) to list the commands.

    :return: a list of ``click.Command`` (``click.Group`` is one).

    Example::

        # cli.py
        @click.group(help="Commands of the example plugin.")
        def example():
            pass

        @example.command()
        @click.option("--name", default="operator")
        def hello(name):  # pcm-ops example hello --name Ada
            click.echo(f"Hello, {name}!")

        # plugin.py
        @hookimpl
        def pcm_ops_cli_commands():
            from pcm_example.cli import example
            return [example]
    """
