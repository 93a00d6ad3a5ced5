"""The job engine of one process: DBOS set up from PCM-Ops's settings and plugins.

``pcm-ops serve`` starts it in the application's lifespan and ``pcm-ops worker`` in its
main function; nothing imports DBOS before that, so ``pcm-ops --help`` and plugin
discovery stay fast.

Starting it:

1. asks every loaded plugin's ``pcm_ops_jobs`` hook for its :class:`JobDefinitions`,
   checks the queues (named ``<plugin-id>.<name>``, limits that make sense) and imports the
   modules that declare its workflows; a plugin whose hook or modules fail is marked failed
   (strict mode: start-up fails) and the others keep working;
2. when the process executes jobs: records its heartbeat under its executor id (refusing an
   id that a live process uses), launches DBOS, which resumes the unfinished jobs this
   executor id left behind, declares the queues, core's retention schedule and the
   plugins' schedules (removing those a plugin no longer declares), and starts the
   dispatcher that starts a job enqueued here, or rung for by another process, at once
   (:mod:`pcm_ops.jobs.dispatcher`);
3. makes :func:`pcm_ops.jobs.publish` work in this process.

Where DBOS keeps its state: on SQLite, in ``pcm-ops-dbos.sqlite`` beside the application's
``pcm-ops.db``. A separate file keeps DBOS's frequent writes (a checkpoint per step, queue
polling) from contending with the application for SQLite's single write lock, and keeps
DBOS's self-managed tables out of the application's Alembic-managed schema; nothing needs
both in one transaction. On PostgreSQL, in the application's own database, in DBOS's
``dbos`` schema: one database to provision, back up and point ``PCM_DATABASE_URL`` at.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pcm_ops.jobs.errors import JobsError
from pcm_ops.jobs.executors import ExecutorKind, Heartbeat, default_executor_id
from pcm_ops.jobs.names import APP_NAME, CORE_DEFAULT_QUEUE, CORE_OWNER
from pcm_ops.jobs.queues import (
    OwnedQueue,
    check_queue,
    core_queues,
    register_queues,
    starts_on_enqueue,
)
from pcm_ops.plugin import JobDefinitions, ScheduleDefinition

if TYPE_CHECKING:
    from pcm_ops.jobs.dispatcher import Dispatcher
    from pcm_ops.jobs.service import JobStore
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_ops.jobs")

#: Core's own job modules (retention).
CORE_JOB_MODULES = ("pcm_ops.jobs.retention",)

_SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

_engine: JobEngine | None = None
_engine_lock = threading.Lock()


def running_engine() -> JobEngine | None:
    """The engine running in this process, or ``None`` (a CLI command, a script)."""
    return _engine


def current_engine() -> JobEngine:
    """The engine running in this process.

    :raises JobsError: none runs (outside ``pcm-ops serve`` or ``pcm-ops worker``).
    """
    engine = _engine
    if engine is None:
        raise JobsError(
            "the job engine is not running in this process; jobs can be enqueued from a "
            "running server (`pcm-ops serve`), a worker, or a job"
        )
    return engine


@dataclass(frozen=True)
class OwnedSchedule:
    """A plugin's schedule, its workflow function found in the plugin's job modules."""

    owner: str
    definition: ScheduleDefinition
    workflow: Callable[..., Any]

    @property
    def name(self) -> str:
        """The name DBOS knows it by: ``<plugin-id>:<name>``."""
        return f"{self.owner}:{self.definition.name}"


@dataclass
class Definitions:
    """Every queue, job module and schedule of core and the loaded plugins, and who owns
    what. ``schedules`` has an entry (maybe empty) for every plugin whose definitions
    loaded, so that schedules it no longer declares can be removed."""

    queues: dict[str, OwnedQueue] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    workflow_owners: dict[str, str] = field(default_factory=dict)
    schedules: dict[str, list[OwnedSchedule]] = field(default_factory=dict)


def load_definitions(settings: Settings, registry: PluginRegistry) -> Definitions:
    """Call ``pcm_ops_jobs``, check what the plugins return and import their job modules."""
    definitions = Definitions()
    owned: list[tuple[str, Sequence[str], list[OwnedQueue]]] = [
        (CORE_OWNER, CORE_JOB_MODULES, core_queues())
    ]
    taken = {queue.name: CORE_OWNER for queue in owned[0][2]}
    for record, returned in registry.call_each("pcm_ops_jobs", settings=settings):
        problem, queues = _check_definitions(record.id, returned, taken)
        if problem is not None:
            registry.fail(record, f"hook pcm_ops_jobs: {problem}")
            continue
        failed = False
        for module_name in returned.modules:
            try:
                importlib.import_module(module_name)
            except Exception as exc:
                registry.fail(
                    record,
                    f"its job module {module_name} failed to import: {type(exc).__name__}: {exc}",
                )
                failed = True
                break
        if failed:
            continue
        problem, schedules = _resolve_schedules(record.id, returned)
        if problem is not None:
            registry.fail(record, f"hook pcm_ops_jobs: {problem}")
            continue
        taken.update({queue.name: record.id for queue in queues})
        owned.append((record.id, list(returned.modules), queues))
        definitions.schedules[record.id] = schedules
    for owner, modules, queues in owned:
        for module_name in modules:
            importlib.import_module(module_name)  # core's, or already imported above
            definitions.modules[module_name] = owner
            for name in _workflow_names(module_name):
                definitions.workflow_owners.setdefault(name, owner)
        definitions.queues.update({queue.name: queue for queue in queues})
    return definitions


def _check_definitions(
    owner: str, returned: Any, taken: dict[str, str]
) -> tuple[str | None, list[OwnedQueue]]:
    if not isinstance(returned, JobDefinitions):
        return f"returned {returned!r}; return a pcm_ops.plugin.JobDefinitions or None", []
    queues: list[OwnedQueue] = []
    seen = dict(taken)
    for definition in returned.queues:
        problem = check_queue(owner, definition, seen)
        if problem is not None:
            return problem, []
        seen[definition.name] = owner
        queues.append(OwnedQueue(owner, definition))
    for module_name in returned.modules:
        if not isinstance(module_name, str) or not module_name:
            return f"modules must be dotted module names, not {module_name!r}", []
    problem = _check_schedules(owner, returned, {queue.name for queue in queues})
    return problem, queues if problem is None else []


def _check_schedules(owner: str, returned: JobDefinitions, own_queues: set[str]) -> str | None:
    """Why the schedules of ``returned`` cannot be declared, or ``None`` (before the job
    modules are imported: the workflows are checked by :func:`_resolve_schedules`)."""
    from croniter import croniter  # DBOS's own cron parser: what it accepts, DBOS runs

    seen: set[str] = set()
    for definition in returned.schedules:
        if not isinstance(definition, ScheduleDefinition):
            return (
                f"schedules must be pcm_ops.plugin.ScheduleDefinition objects, not {definition!r}"
            )
        name = definition.name
        if not isinstance(name, str) or not _SCHEDULE_NAME.match(name):
            return (
                f"schedule name {name!r} must be 1-100 lowercase letters, digits, '-' and '_' "
                "(it becomes '<plugin-id>:<name>')"
            )
        if name in seen:
            return f"schedule {name!r} is declared twice"
        seen.add(name)
        cron = definition.cron
        if not isinstance(cron, str) or not croniter.is_valid(cron, second_at_beginning=True):
            return (
                f"schedule {name!r}: {cron!r} is not a cron expression; use five fields "
                "('*/30 * * * *': minute, hour, day of month, month, day of week) or six "
                "with seconds first"
            )
        if definition.queue is not None and definition.queue not in own_queues:
            declared = ", ".join(sorted(own_queues)) or "none"
            return (
                f"schedule {name!r}: queue {definition.queue!r} is not one of the plugin's "
                f"queues ({declared}); declare it in JobDefinitions.queues"
            )
        workflow = definition.workflow
        if isinstance(workflow, str):
            if not workflow:
                return f"schedule {name!r}: workflow must name a workflow"
        elif not isinstance(getattr(workflow, "dbos_function_name", None), str):
            return (
                f"schedule {name!r}: workflow {workflow!r} is not a workflow: give its name or "
                "a function decorated with @DBOS.workflow(name=...)"
            )
    return None


def _resolve_schedules(
    owner: str, returned: JobDefinitions
) -> tuple[str | None, list[OwnedSchedule]]:
    """The plugin's schedules with their workflow functions, found in its (imported) job
    modules; or why one cannot be found."""
    workflows: dict[str, Callable[..., Any]] = {}
    for module_name in returned.modules:
        workflows.update(_workflows(module_name))
    schedules = []
    for definition in returned.schedules:
        workflow = definition.workflow
        # _check_schedules made sure a function has its DBOS name.
        name = (
            workflow if isinstance(workflow, str) else getattr(workflow, "dbos_function_name", "")
        )
        function = workflows.get(name)
        if function is None:
            return (
                f"schedule {definition.name!r} names the workflow {name!r}, which none of its "
                f"job modules ({', '.join(returned.modules) or 'none'}) declares"
            ), []
        schedules.append(OwnedSchedule(owner, definition, function))
    return None, schedules


def _workflows(module_name: str) -> dict[str, Callable[..., Any]]:
    """The functions a module declares with DBOS (``@DBOS.workflow(name=...)``,
    ``@DBOS.step(...)``), by their DBOS name."""
    import sys

    module = sys.modules[module_name]
    found: dict[str, Callable[..., Any]] = {}
    for value in vars(module).values():
        name = getattr(value, "dbos_function_name", None)
        if isinstance(name, str) and getattr(value, "__module__", None) == module_name:
            found.setdefault(name, value)
    return found


def _workflow_names(module_name: str) -> list[str]:
    """The DBOS names of the functions a module declares (``@DBOS.workflow(name=...)``)."""
    return list(_workflows(module_name))


class JobEngine:
    """DBOS in this process, configured for PCM-Ops. One per process.

    :param kind: ``"server"`` or ``"worker"``.
    :param executor_id: the stable id of this process; default ``settings.executor_id``,
        else ``<kind>@<host name>``.
    :param queues: the queues this process takes jobs from; ``None``: all of them.
    :param executes: whether this process runs jobs at all. A server with
        ``jobs_execute_in_server`` off only enqueues (through the system database) and
        serves; DBOS is not launched there.
    """

    def __init__(
        self,
        settings: Settings,
        registry: PluginRegistry,
        *,
        kind: ExecutorKind,
        executor_id: str | None = None,
        queues: Sequence[str] | None = None,
        executes: bool = True,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.kind = kind
        self.executor_id = executor_id or settings.executor_id or default_executor_id(kind)
        self.listen_queues = list(queues) if queues is not None else None
        self.executes = executes
        self.definitions = Definitions()
        self.launched = False
        self.app_version: str | None = None
        self._heartbeat: Heartbeat | None = None
        self._store: JobStore | None = None
        self._dispatcher: Dispatcher | None = None

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the definitions, launch DBOS (when executing) and start the heartbeat.

        Blocking (DBOS migrates its system database): from async code run it in a thread.

        :raises JobsError: another engine runs in this process, the executor id is in use
            by a live process, unknown queues were asked for, or DBOS cannot start.
        """
        global _engine
        with _engine_lock:
            if _engine is not None:
                raise JobsError(
                    "the job engine already runs in this process (DBOS allows one per "
                    "process); stop it first"
                )
            _engine = self
        started = time.perf_counter()
        try:
            self.definitions = load_definitions(self.settings, self.registry)
            self._check_listen_queues()
            from pcm_ops.jobs import events

            # Before the launch: DBOS resumes interrupted jobs as soon as it starts.
            events.configure(self.settings)
            if self.executes:
                self._launch()
            else:
                self._prepare_system_database()
        except BaseException:
            self._stop_parts()
            with _engine_lock:
                _engine = None
            raise
        logger.info(
            "job engine started in %.2f s: executor %s, %s, %d queue(s)%s",
            time.perf_counter() - started,
            self.executor_id,
            "executing jobs" if self.executes else "enqueueing only",
            len(self.definitions.queues),
            f" (listening to {', '.join(self.listen_queues)})" if self.listen_queues else "",
        )

    def _check_listen_queues(self) -> None:
        if self.listen_queues is None:
            return
        unknown = [name for name in self.listen_queues if name not in self.definitions.queues]
        if unknown:
            known = ", ".join(sorted(self.definitions.queues))
            raise JobsError(
                f"unknown queue(s) {', '.join(unknown)}; the loaded plugins declare: {known}"
            )

    def _launch(self) -> None:
        import dbos._dbos as dbos_internals
        from dbos import DBOS

        from pcm_ops.jobs.retention import apply_retention_schedule
        from pcm_ops.jobs.service import system_database_url

        if dbos_internals._dbos_global_instance is not None:
            raise JobsError(
                "DBOS was already set up in this process by something else than PCM-Ops's "
                "job engine; plugins must not create DBOS() themselves"
            )
        # Claim the executor id before DBOS resumes the jobs recorded under it.
        self._heartbeat = Heartbeat(
            self.settings,
            self.executor_id,
            self.kind,
            executes=True,
            queues=self.listen_queues,
            app_version=None,
        )
        self._heartbeat.claim(required=self.kind == "worker")
        url = system_database_url(self.settings)
        if self.settings.is_sqlite:
            _use_write_ahead_log(self.settings)
        DBOS(config=self._dbos_config(url))
        if self.listen_queues is not None:
            DBOS.listen_queues(self.listen_queues)
        try:
            DBOS.launch()
        except Exception as exc:
            DBOS.destroy()
            raise JobsError(f"the job engine could not start: {type(exc).__name__}: {exc}") from exc
        self.launched = True
        self.app_version = DBOS.application_version
        registered = register_queues(
            list(self.definitions.queues.values()), self.settings.jobs_queue_poll_seconds
        )
        if self.settings.jobs_start_on_enqueue:
            from pcm_ops.jobs.dispatcher import Dispatcher

            executed = set(self.listen_queues) if self.listen_queues is not None else None
            self._dispatcher = Dispatcher(
                {
                    name: queue
                    for name, queue in registered.items()
                    if (executed is None or name in executed)
                    and starts_on_enqueue(self.definitions.queues[name].definition)
                }
            )
            self._dispatcher.listen(self.settings)
        apply_retention_schedule()
        self._apply_schedules()
        self._heartbeat.app_version = self.app_version
        if self._heartbeat.registered:
            self._heartbeat.beat()
        self._heartbeat.start()

    def _apply_schedules(self) -> None:
        """Declare (or update) each plugin's schedules and remove the ones it no longer
        declares (a schedule turned off in its settings). A plugin whose schedules DBOS
        refuses is marked failed; the others keep theirs."""
        from dbos import DBOS

        for owner, schedules in self.definitions.schedules.items():
            entries: list[Any] = [
                {
                    "schedule_name": schedule.name,
                    "workflow_fn": schedule.workflow,
                    "schedule": schedule.definition.cron,
                    "queue_name": schedule.definition.queue or CORE_DEFAULT_QUEUE,
                }
                for schedule in schedules
            ]
            try:
                if entries:
                    DBOS.apply_schedules(entries)
                declared = {entry["schedule_name"] for entry in entries}
                for existing in DBOS.list_schedules(schedule_name_prefix=f"{owner}:"):
                    if existing["schedule_name"] not in declared:
                        DBOS.delete_schedule(existing["schedule_name"])
                        logger.info(
                            "schedule %s removed: no longer declared", existing["schedule_name"]
                        )
            except Exception as exc:
                record = self.registry.get(owner)
                if record is not None:
                    self.registry.fail(
                        record,
                        f"hook pcm_ops_jobs: its schedules could not be declared: "
                        f"{type(exc).__name__}: {exc}",
                    )

    def _prepare_system_database(self) -> None:
        """Create or migrate DBOS's tables without launching DBOS, so that this process
        can enqueue before any worker has started."""
        from dbos import DBOS

        from pcm_ops.jobs.service import system_database_url

        if self.settings.is_sqlite:
            _use_write_ahead_log(self.settings)
        try:
            DBOS.migrate(system_database_url(self.settings))
        except Exception as exc:
            raise JobsError(
                f"the jobs database could not be prepared: {type(exc).__name__}: {exc}"
            ) from exc

    def _dbos_config(self, url: str) -> Any:
        from dbos import DBOSConfig

        debug = self.settings.log_level == "debug"
        config: DBOSConfig = {
            "name": APP_NAME,
            "system_database_url": url,
            "executor_id": self.executor_id,
            # DBOS's INFO lines include an invitation to a hosted console: keep to warnings
            # unless debugging.
            "log_level": "DEBUG" if debug else "WARNING",
            "notification_listener_polling_interval_sec": 0.25,
        }
        return config

    def stop(self, drain_seconds: int = 0) -> None:
        """Stop the heartbeat and DBOS. Jobs still running stay started under this executor
        id: a process with the same id resumes them, or ``pcm-ops jobs recover`` does.

        :param drain_seconds: wait up to this long for running jobs to finish first.
        """
        global _engine
        try:
            self._stop_parts(drain_seconds)
        finally:
            with _engine_lock:
                if _engine is self:
                    _engine = None
        logger.info("job engine stopped: executor %s", self.executor_id)

    def _stop_parts(self, drain_seconds: int = 0) -> None:
        from pcm_ops.jobs import events

        events.unconfigure()
        if self._dispatcher is not None:
            # Before DBOS stops: no look may hand DBOS a job while it shuts down.
            self._dispatcher.stop()
            self._dispatcher = None
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self.launched:
            from dbos import DBOS

            DBOS.destroy(workflow_completion_timeout_sec=drain_seconds)
            self.launched = False
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- what others ask ------------------------------------------------------------------

    def store(self) -> JobStore:
        """A :class:`~pcm_ops.jobs.service.JobStore` on this engine's system database."""
        from pcm_ops.jobs.service import JobStore

        if self._store is None:
            self._store = JobStore(self.settings)
        return self._store

    def queue(self, name: str) -> OwnedQueue:
        """A declared queue. :raises JobsError: no loaded plugin declares it."""
        queue = self.definitions.queues.get(name)
        if queue is None:
            known = ", ".join(sorted(self.definitions.queues))
            raise JobsError(f"unknown queue {name!r}; the loaded plugins declare: {known}")
        return queue

    def owner_of_workflow(self, workflow_name: str) -> str | None:
        return self.definitions.workflow_owners.get(workflow_name)

    def start_soon(self, queue_name: str) -> bool:
        """Look at ``queue_name`` for jobs to start now rather than at its next poll (see
        :mod:`pcm_ops.jobs.dispatcher`); called after a job was enqueued on it. ``False``
        when its jobs wait for the poll: this process does not execute that queue, the
        queue has a deployment-wide ``concurrency`` or is partitioned, or
        ``jobs_start_on_enqueue`` is off."""
        dispatcher = self._dispatcher
        return dispatcher is not None and dispatcher.request(queue_name)

    def wake_others(self, queue_name: str) -> bool:
        """Whether a job enqueued here on ``queue_name`` and not started by
        :meth:`start_soon` should ring the other processes' executors: only for queues they
        would look at (:func:`~pcm_ops.jobs.queues.starts_on_enqueue`)."""
        owned = self.definitions.queues.get(queue_name)
        return owned is None or starts_on_enqueue(owned.definition)


def _use_write_ahead_log(settings: Settings) -> None:
    """Put DBOS's SQLite file in WAL mode (persistent), so that servers read job states
    while workers write them."""
    import sqlite3

    from pcm_ops.jobs.service import SQLITE_SYSTEM_DATABASE

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(settings.data_dir / SQLITE_SYSTEM_DATABASE, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


__all__ = [
    "CORE_JOB_MODULES",
    "Definitions",
    "JobEngine",
    "OwnedSchedule",
    "current_engine",
    "load_definitions",
]
