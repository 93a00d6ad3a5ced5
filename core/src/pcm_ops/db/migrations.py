"""Schema migrations: one Alembic environment over core's tree and every loaded plugin's.

Each *tree* is a version directory with its own branch label: core's
(``pcm_ops/db/alembic/versions``, label ``core``) and the directory each loaded plugin
returns from ``pcm_ops_migrations`` (label: the plugin id unless it says otherwise). A
plugin's first revision has ``down_revision = None`` and may ``depends_on`` a core
revision. ``alembic_version`` holds a row for the current revision of each tree (see
:meth:`_Environment.record_every_tip`).

Everything here is synchronous and runs on :func:`pcm_ops.db.engine.create_sync_engine`
(pysqlite or psycopg). The functions other code calls are :func:`branch_status`,
:func:`upgrade`, :func:`downgrade`, :func:`check`, :func:`revision` and
:func:`migrate_on_start`; each raises :class:`~pcm_ops.errors.DatabaseError` with a
one-line message for anything the user has to fix.

Revisions of plugins that are not loaded (disabled, uninstalled) stay in
``alembic_version`` and their tables stay in the database, as Django does for an app that is
removed from ``INSTALLED_APPS``: migrating the other trees leaves them alone, and enabling
the plugin again picks up where it was. Removing a plugin's tables is an explicit
``pcm-ops db downgrade <plugin>@base``, run while the plugin is still enabled.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pcm_ops.errors import DatabaseError
from pcm_ops.plugin import MigrationTree
from pcm_ops.registry import PluginRecord, PluginRegistry
from pcm_ops.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Connection, Engine, MetaData
    from sqlalchemy.exc import DBAPIError

logger = logging.getLogger("pcm_ops.db")

#: The owner and branch label of core's own tree.
CORE = "core"
#: Core's Alembic environment (``env.py``, ``script.py.mako``).
ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
#: Core's version directory.
CORE_VERSIONS_DIR = ALEMBIC_DIR / "versions"
#: The table in which Alembic records the current revision of each branch.
VERSION_TABLE = "alembic_version"

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


@dataclass
class BranchStatus:
    """Where one tree (core's or a plugin's) stands in the database.

    Attributes:
        owner: ``"core"`` or the plugin id.
        branch_label: the tree's Alembic branch label (``<owner>@head`` works as a target).
        head: the newest revision of the tree (several, comma-separated, if the tree has
            unmerged heads); ``None`` for a tree with no revisions yet.
        current: the tree's revision in the database; ``None`` when none of it is applied.
        pending: the revisions not applied yet, oldest first.
    """

    owner: str
    branch_label: str
    head: str | None
    current: str | None
    pending: list[str] = field(default_factory=list)

    @property
    def at_head(self) -> bool:
        """True when every revision of the tree is applied."""
        return not self.pending


# -------------------------------------------------------------------------------------------
# Public API
# -------------------------------------------------------------------------------------------


def branch_status(settings: Settings, registry: PluginRegistry) -> list[BranchStatus]:
    """Current, head and pending revisions of core's tree, then each plugin's (by id).

    :raises DatabaseError: the database cannot be reached, or a tree cannot be read.
    """
    environment = _Environment.build(settings, registry)
    engine = _migration_engine(settings)
    try:
        with _connect(engine, settings) as connection:
            current = _current_revisions(connection)
        return environment.status(current)
    finally:
        engine.dispose()


def upgrade(settings: Settings, registry: PluginRegistry, target: str = "heads") -> None:
    """Apply migrations up to ``target``.

    :param target: ``"heads"`` (every loaded tree to its newest revision), ``"<owner>@head"``,
        ``"<owner>@<revision>"`` (``owner`` is ``core`` or a plugin id), or a revision id.
    :raises DatabaseError: unknown plugin or revision, unreachable database, or a failing
        migration (nothing of that run is kept: PostgreSQL and SQLite both roll back DDL).
    """
    from alembic import command

    environment = _Environment.build(settings, registry)
    resolved = environment.resolve_target(target)
    environment.run(
        lambda config: command.upgrade(config, resolved), action=f"upgrade to {target!r}"
    )


def downgrade(settings: Settings, registry: PluginRegistry, target: str) -> None:
    """Revert migrations down to ``target``.

    ``"<plugin>@base"`` removes that plugin's tables and nothing else (and those of any tree
    that depends on it); ``"core@base"`` empties the database of every loaded tree.

    :param target: ``"<owner>@base"``, ``"<owner>@<revision>"``, ``"<owner>@-1"``, a
        revision id, or ``"base"``.
    :raises DatabaseError: as :func:`upgrade`.
    """
    from alembic import command

    environment = _Environment.build(settings, registry)
    resolved = environment.resolve_target(target)
    environment.run(
        lambda config: command.downgrade(config, resolved), action=f"downgrade to {target!r}"
    )


def check(settings: Settings, registry: PluginRegistry) -> list[str]:
    """Compare the models with the schema the migrations built; return the differences.

    The database must be at the head of every loaded tree (as for ``alembic check``). Tables
    of plugins that are not loaded, and ``alembic_version``, are ignored.

    :return: one line per difference; empty when models and migrations agree.
    :raises DatabaseError: the database is unreachable or not up to date.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    environment = _Environment.build(settings, registry)
    engine = _migration_engine(settings)
    try:
        with _connect(engine, settings) as connection:
            behind = [
                row for row in environment.status(_current_revisions(connection)) if not row.at_head
            ]
            if behind:
                raise DatabaseError(
                    f"the database is not up to date ({_describe_pending(behind)}); run "
                    "`pcm-ops db upgrade` first, then check again"
                )
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": environment.include_object(),
                    "target_metadata": environment.metadata,
                },
            )
            differences = compare_metadata(context, environment.metadata)
    finally:
        engine.dispose()
    return [_describe_difference(difference) for difference in differences]


def revision(
    settings: Settings,
    registry: PluginRegistry,
    owner: str,
    message: str,
    autogenerate: bool = True,
) -> Path:
    """Write a new revision into ``owner``'s version directory and return its path.

    The revision follows the tree's head; a tree's first revision starts a branch labelled
    with the tree's label and depends on core's head. Its id is readable:
    ``<prefix><number>`` (``core_0002``, ``aws_sr_0003``), the prefix being the plugin's
    table prefix (or its id with underscores).

    :param owner: ``"core"`` or a loaded plugin's id.
    :param autogenerate: fill the revision with the operations that bring the database (which
        must be up to date) to ``owner``'s models; otherwise write an empty revision.
    :raises DatabaseError: unknown owner, database not up to date or unreachable.
    """
    from alembic import command

    environment = _Environment.build(settings, registry)
    tree = environment.tree(owner)
    scripts = environment.scripts()
    own = environment.revisions_of(tree, scripts)
    options: dict[str, Any] = {
        "message": message,
        "autogenerate": autogenerate,
        "rev_id": _next_revision_id(tree, own, scripts),
        "version_path": str(tree.directory),
    }
    if own:
        options["head"] = f"{tree.label}@head"
    else:
        core_heads = environment.status(set())[0].head
        options["head"] = "base"
        options["branch_label"] = tree.label
        if tree.owner != CORE and core_heads:
            options["depends_on"] = core_heads.split(", ")
    outcome: list[Any] = []

    def write(config: Config) -> None:
        outcome.append(command.revision(config, **options))

    if autogenerate:
        environment.run(
            write,
            action=f"revision for {owner!r}",
            include_object=environment.include_object(owners={tree.owner}),
            commit=False,
        )
    else:
        write(environment.config())
    written = outcome[0][0] if isinstance(outcome[0], list) else outcome[0]
    if written is None:
        raise DatabaseError(f"Alembic wrote no revision for {owner!r}")
    path = Path(written.path)
    _format_revision(path)
    logger.info("wrote %s", path)
    return path


def migrate_on_start(settings: Settings, registry: PluginRegistry) -> None:
    """Apply every pending migration and seed, holding the migration lock.

    Processes that start together wait for each other; the second finds nothing left to
    do. Failing seeds are logged (naming plugin and seed) and do not stop start-up.

    :raises DatabaseError: as :func:`upgrade`, or the lock stayed taken too long.
    """
    from pcm_ops.db.lock import migration_lock
    from pcm_ops.db.seeds import SeedStatus, run_seeds_sync

    with migration_lock(settings):
        upgrade(settings, registry, "heads")
        outcomes = run_seeds_sync(settings, registry, demo=settings.demo, lock=False)
    for outcome in outcomes:
        if outcome.status is SeedStatus.FAILED:
            logger.error("%s", outcome.describe())
        elif outcome.status is SeedStatus.APPLIED:
            logger.info("%s", outcome.describe())


def database_unreachable(settings: Settings, exc: DBAPIError) -> DatabaseError:
    """The error to raise when connecting to the configured database failed."""
    from sqlalchemy.engine import make_url

    where = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return DatabaseError(
        f"cannot connect to the database {where}: {_first_line(exc.orig or exc)}; check "
        "PCM_DATABASE_URL (or database_url in the config file) and that the server is running"
    )


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render custom column types in generated revisions as the SQLAlchemy type they store.

    SQLModel's ``AutoString`` and core's ``UTCDateTime`` become ``sa.String(...)`` and
    ``sa.DateTime()``, so that revisions import nothing but SQLAlchemy and Alembic and keep
    working when a Python type moves. Used by ``env.py``.
    """
    from sqlalchemy.types import TypeDecorator

    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        module = type(impl).__module__
        if module.startswith("sqlalchemy.") and not module.startswith("sqlalchemy.dialects."):
            return f"sa.{impl!r}"
    return False


# -------------------------------------------------------------------------------------------
# The environment: trees, models, Alembic configuration
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tree:
    owner: str
    label: str
    directory: Path
    #: The prefix of the revision ids :func:`revision` generates (``core_``, ``aws_sr_``).
    revision_prefix: str


@dataclass
class _Environment:
    settings: Settings
    registry: PluginRegistry
    #: Table name → owner, for core and every loaded plugin.
    tables: dict[str, str]
    trees: list[_Tree]
    #: Table prefixes of core and of every loaded plugin.
    prefixes: dict[str, str]
    _scripts: ScriptDirectory | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, registry: PluginRegistry) -> _Environment:
        """Collect models and trees of core and the loaded plugins, failing bad plugins."""
        tables = _collect_tables(registry)
        trees = _collect_trees(registry)
        prefixes = {CORE: _core_table_prefix()}
        for record in registry.loaded():
            if record.metadata is not None and record.metadata.table_prefix:
                prefixes[record.id] = record.metadata.table_prefix
        environment = cls(settings, registry, tables, trees, prefixes)
        environment._drop_malformed_trees()
        return environment

    @property
    def metadata(self) -> MetaData:
        from sqlmodel import SQLModel

        return SQLModel.metadata

    # -- trees and targets ------------------------------------------------------------------

    def tree(self, owner: str) -> _Tree:
        """The tree of ``owner`` (``core`` or a plugin id, or a branch label)."""
        for tree in self.trees:
            if owner in (tree.owner, tree.label):
                return tree
        record = self.registry.get(owner)
        known = ", ".join(tree.owner for tree in self.trees)
        if record is None:
            reason = "no plugin has this id"
        elif not record.loaded:
            reason = f"the plugin is {record.state.value}" + (
                f" ({record.error})" if record.error else ""
            )
        else:
            reason = "the plugin has no migrations"
        raise DatabaseError(f"unknown migration tree {owner!r}: {reason}; known: {known}")

    def resolve_target(self, target: str) -> str:
        """Turn ``<owner>@<rest>`` into ``<branch label>@<rest>``; check the owner exists."""
        target = target.strip()
        if not target:
            raise DatabaseError("empty migration target; use e.g. 'heads' or 'core@head'")
        owner, at, rest = target.partition("@")
        if not at:
            return target
        if not owner or not rest:
            raise DatabaseError(
                f"migration target {target!r} is incomplete; write <plugin>@head, "
                "<plugin>@base or <plugin>@<revision>"
            )
        return f"{self.tree(owner).label}@{rest}"

    def config(
        self,
        connection: Connection | None = None,
        trees: list[_Tree] | None = None,
        **attributes: Any,
    ) -> Config:
        """An Alembic ``Config`` built in code (no ``alembic.ini``) over ``trees`` (default:
        all), with ``attributes`` for ``env.py``."""
        from argparse import Namespace

        from alembic.config import Config

        # quiet: Alembic would print "Generating ..." itself; callers report what happened.
        config = Config(cmd_opts=Namespace(quiet=True))
        config.set_main_option("script_location", _ini_escape(str(ALEMBIC_DIR)))
        config.set_main_option("path_separator", "os")
        directories = [str(tree.directory) for tree in (self.trees if trees is None else trees)]
        config.set_main_option("version_locations", _ini_escape(os.pathsep.join(directories)))
        config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
        config.attributes.update(
            connection=connection,
            target_metadata=self.metadata,
            include_object=self.include_object(),
        )
        config.attributes.update(attributes)
        return config

    def scripts(self) -> ScriptDirectory:
        """Every revision of every tree, or :class:`DatabaseError` naming the problem."""
        if self._scripts is None:
            self._scripts = self._load(self.trees)
        return self._scripts

    def _load(self, trees: list[_Tree]) -> ScriptDirectory:
        from alembic.script import ScriptDirectory
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        try:
            scripts = ScriptDirectory.from_config(self.config(trees=trees))
            scripts.revision_map.heads  # noqa: B018 - loads and checks every revision file
        except (CommandError, RevisionError) as exc:
            raise DatabaseError(f"cannot read the migration trees: {exc}") from None
        except Exception as exc:  # a revision file that does not even import
            logger.debug("cannot read the migration trees", exc_info=True)
            raise DatabaseError(
                f"cannot read the migration trees{self._where(exc)}: {type(exc).__name__}: "
                f"{_first_line(exc)}"
            ) from None
        return scripts

    def owner_of(self, script: Script) -> _Tree | None:
        directory = Path(script.path).resolve().parent
        return next((tree for tree in self.trees if tree.directory == directory), None)

    def revisions_of(self, tree: _Tree, scripts: ScriptDirectory) -> dict[str, Script]:
        """The revisions whose files are in ``tree``'s directory, by id."""
        return {
            script.revision: script
            for script in scripts.walk_revisions()
            if self.owner_of(script) == tree
        }

    def _drop_malformed_trees(self) -> None:
        """Fail plugins whose trees cannot be read or break the one-branch-per-tree rule."""
        while True:
            try:
                scripts = self.scripts()
            except DatabaseError:
                self._drop_unreadable_trees()
                scripts = self.scripts()
            problems = list(self._tree_problems(scripts))
            if not problems:
                return
            for tree, problem in problems:
                if tree.owner == CORE:
                    raise DatabaseError(f"core's migration tree is broken: {problem}")
                self._drop(tree, problem)

    def _drop_unreadable_trees(self) -> None:
        """Find the plugin trees that cannot be read with core's alone, and fail them."""
        core = self.trees[0]
        self._load([core])  # core's own tree must always read: let its error out
        culprits = []
        for tree in self.trees[1:]:
            try:
                self._load([core, tree])
            except DatabaseError as exc:
                culprits.append((tree, str(exc)))
        if not culprits:  # only a combination fails (e.g. the same revision id twice)
            self._load(self.trees)
        for tree, problem in culprits:
            self._drop(tree, problem)

    def _drop(self, tree: _Tree, problem: str) -> None:
        record = self.registry.get(tree.owner)
        assert record is not None
        self.registry.fail(record, problem)
        self.trees = [other for other in self.trees if other.owner != tree.owner]
        self.tables = {name: owner for name, owner in self.tables.items() if owner != tree.owner}
        self.prefixes.pop(tree.owner, None)
        self._scripts = None

    def _tree_problems(self, scripts: ScriptDirectory) -> Iterator[tuple[_Tree, str]]:
        from alembic.util import to_tuple

        for tree in self.trees:
            own = self.revisions_of(tree, scripts)
            for script in own.values():
                downs = to_tuple(script.down_revision, default=())
                foreign = [down for down in downs if down not in own]
                if foreign:
                    yield (
                        tree,
                        (
                            f"migration {script.revision} revises {', '.join(foreign)} of another "
                            "tree; a tree's first revision has down_revision = None and uses "
                            "depends_on to require revisions of other trees"
                        ),
                    )
                    break
                if not downs and tree.label not in script.branch_labels:
                    yield (
                        tree,
                        (
                            f"migration {script.revision}, the first of its tree, needs "
                            f"branch_labels = ({tree.label!r},)"
                        ),
                    )
                    break

    # -- status -----------------------------------------------------------------------------

    def status(self, current: set[str]) -> list[BranchStatus]:
        """Each tree's status, given the revisions recorded in ``alembic_version``."""
        return [
            BranchStatus(
                owner=tree.owner,
                branch_label=tree.label,
                head=", ".join(heads) or None,
                current=", ".join(here) or None,
                pending=pending,
            )
            for tree, heads, here, pending in self._positions(current)
        ]

    def _positions(
        self, current: set[str]
    ) -> Iterator[tuple[_Tree, list[str], list[str], list[str]]]:
        """Per tree: its heads, its applied tips and its pending revisions (oldest first)."""
        from alembic.util import to_tuple

        scripts = self.scripts()
        # A row stands for its revision and everything below it, dependencies included:
        # Alembic replaces core_0001's row by dbw_0001's when dbw_0001 depends on it.
        known = current & {script.revision for script in scripts.walk_revisions()}
        applied = {
            script.revision for row in known for script in scripts.iterate_revisions(row, "base")
        }
        for tree in self.trees:
            own = self.revisions_of(tree, scripts)
            downs = {rev: to_tuple(script.down_revision, default=()) for rev, script in own.items()}
            heads = _tips(own, downs)
            here = _tips([rev for rev in own if rev in applied], downs)
            pending = [rev for rev in _ancestry(heads, downs) if rev not in applied]
            yield tree, heads, here, pending

    def record_every_tip(self, connection: Connection) -> None:
        """Give every loaded tree's current revision a row of its own in ``alembic_version``.

        Alembic drops the row of a revision that another tree's revision depends on
        (``core_0001``'s when ``dbw_0001``, which depends on it, is applied): the latter
        implies it. Were that plugin disabled later, its row would be set aside and core
        would look unmigrated. An explicit row per tree keeps each tree's position readable
        without the others; :meth:`run` removes the implied rows again before it hands the
        table to Alembic, which refuses them.
        """
        current = _current_revisions(connection)
        tips = {tip for _, _, here, _ in self._positions(current) for tip in here}
        _set_version_rows(connection, sorted(tips - current), present=True)

    # -- what autogenerate compares ---------------------------------------------------------

    def include_object(self, owners: set[str] | None = None) -> IncludeObject:
        """Filter for autogenerate: the tables of ``owners`` (default: core and loaded plugins).

        A table only in the models counts when one of those owners declared it; a table only
        in the database counts when its name has one of those owners' prefixes (the tables
        of plugins that are not loaded, and ``alembic_version``, are left out).
        """
        tables = {name for name, owner in self.tables.items() if owners is None or owner in owners}
        prefixes = tuple(
            prefix for owner, prefix in self.prefixes.items() if owners is None or owner in owners
        )

        def include(
            obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
        ) -> bool:
            if type_ != "table":
                return True  # columns, indexes, constraints of tables included below
            if name == VERSION_TABLE or name is None:
                return False
            if name in tables:
                return True
            return reflected and compare_to is None and name.startswith(prefixes)

        return include

    # -- running Alembic commands -----------------------------------------------------------

    def run(
        self,
        command: Callable[[Config], Any],
        *,
        action: str,
        commit: bool = True,
        **attributes: Any,
    ) -> None:
        """Run an Alembic command in one transaction on a fresh connection.

        ``alembic_version`` is kept with one row per tree (see :meth:`record_every_tip`);
        for the command it is reduced to the rows Alembic expects, and rows of plugins that
        are not loaded (disabled or uninstalled), which Alembic could not resolve, are set
        aside. Both are put back in the same transaction. ``commit=False`` rolls everything
        back (autogenerate).
        """
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError
        from sqlalchemy.exc import DBAPIError

        scripts = self.scripts()
        known = {script.revision for script in scripts.walk_revisions()}
        engine = _migration_engine(self.settings)
        hidden: list[str] = []
        try:
            with _connect(engine, self.settings) as connection:
                transaction = connection.begin()
                try:
                    rows = _current_revisions(connection)
                    hidden = sorted(rows - known)
                    alembic_rows = _without_implied(scripts, rows & known)
                    _set_version_rows(connection, sorted(rows - alembic_rows), present=False)
                    command(self.config(connection, **attributes))
                    if commit:
                        self.record_every_tip(connection)
                    _set_version_rows(connection, hidden, present=True)
                    _check_foreign_keys(connection)
                except BaseException:
                    transaction.rollback()
                    raise
                if commit:
                    transaction.commit()
                else:
                    transaction.rollback()
        except DatabaseError:
            raise
        except (CommandError, RevisionError) as exc:
            raise DatabaseError(f"{action} failed: {_explain(exc, hidden)}") from None
        except DBAPIError as exc:
            logger.debug("%s failed", action, exc_info=True)
            raise DatabaseError(
                f"{action} failed{self._where(exc)}: {_first_line(exc.orig or exc)}"
                f"{_hidden_note(hidden)}"
            ) from None
        except Exception as exc:  # a bug in a revision: name it, keep the traceback for -vv
            logger.debug("%s failed", action, exc_info=True)
            raise DatabaseError(
                f"{action} failed{self._where(exc)}: {type(exc).__name__}: {_first_line(exc)}"
            ) from None
        finally:
            engine.dispose()

    def _where(self, exc: BaseException) -> str:
        """`` in <revision file>`` when the error was raised inside one of the trees' files."""
        directories = {tree.directory for tree in self.trees}
        filenames = [exc.filename] if isinstance(exc, SyntaxError) and exc.filename else []
        traceback = exc.__traceback__
        while traceback is not None:
            filenames.append(traceback.tb_frame.f_code.co_filename)
            traceback = traceback.tb_next
        inside = [Path(name) for name in filenames if Path(name).resolve().parent in directories]
        return f" in {inside[-1]}" if inside else ""


def load_metadata(registry: PluginRegistry) -> MetaData:
    """Import core's and every loaded plugin's models; return a metadata holding their
    tables only (not those of models imported earlier by a plugin that is not loaded)."""
    from sqlalchemy import MetaData
    from sqlmodel import SQLModel

    names = _collect_tables(registry)
    metadata = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        if table.name in names:
            table.to_metadata(metadata)
    return metadata


def _collect_tables(registry: PluginRegistry) -> dict[str, str]:
    """Import core's models and call ``pcm_ops_models``; fail plugins with misnamed tables."""
    from pcm_ops.db.models import import_core_models

    owners = {model.__table__.name: CORE for model in import_core_models()}  # type: ignore[attr-defined]
    for record, models in registry.call_each("pcm_ops_models"):
        names, problem = _plugin_tables(record, models, owners)
        if problem is not None:
            registry.fail(record, problem)
            continue
        owners.update(dict.fromkeys(names, record.id))
    return owners


def _plugin_tables(
    record: PluginRecord, models: Any, owners: dict[str, str]
) -> tuple[list[str], str | None]:
    from sqlmodel import SQLModel

    prefix = record.metadata.table_prefix if record.metadata else None
    names: list[str] = []
    for model in models if isinstance(models, list | tuple) else [models]:
        table = getattr(model, "__table__", None)
        if not (isinstance(model, type) and issubclass(model, SQLModel)) or table is None:
            return [], (
                f"hook pcm_ops_models returned {model!r}, which is not an SQLModel class "
                "declared with table=True"
            )
        name = table.name
        if prefix is None:
            return [], (
                f"it declares table {name!r} but its metadata has no table_prefix; set "
                "table_prefix (e.g. 'myplugin_') and name every table with it"
            )
        if not name.startswith(prefix):
            return [], (
                f"table {name!r} does not start with the plugin's table_prefix {prefix!r}; "
                f"rename it (e.g. {prefix + name!r})"
            )
        if name in owners:
            other = owners[name]
            owner = "core" if other == CORE else f"plugin {other!r}"
            return [], f"table {name!r} is already declared by {owner}"
        names.append(name)
    return names, None


def _collect_trees(registry: PluginRegistry) -> list[_Tree]:
    """Core's tree, then each loaded plugin's, in id order; fail plugins with bad trees."""
    trees = [_Tree(CORE, CORE, CORE_VERSIONS_DIR, "core_")]
    for record, tree in registry.call_each("pcm_ops_migrations"):
        if not isinstance(tree, MigrationTree):
            registry.fail(
                record,
                f"hook pcm_ops_migrations returned {tree!r}; return a "
                "pcm_ops.plugin.MigrationTree or None",
            )
            continue
        directory = Path(tree.directory).resolve()
        label = tree.branch_label or record.id
        taken = next((other for other in trees if other.label == label), None)
        if not directory.is_dir():
            registry.fail(
                record,
                f"hook pcm_ops_migrations returned {directory}, which is not a directory",
            )
        elif taken is not None:
            registry.fail(
                record,
                f"its migration branch label {label!r} is already used by {taken.owner!r}",
            )
        elif any(other.directory == directory for other in trees):
            registry.fail(record, f"its migration directory {directory} is another tree's")
        else:
            prefix = record.metadata.table_prefix if record.metadata else None
            revision_prefix = prefix or record.id.replace("-", "_") + "_"
            trees.append(_Tree(record.id, label, directory, revision_prefix))
    return trees


def _core_table_prefix() -> str:
    from pcm_ops.db.models import CORE_TABLE_PREFIX

    return CORE_TABLE_PREFIX


def _without_implied(scripts: ScriptDirectory, revisions: set[str]) -> set[str]:
    """``revisions`` less those below another of them (through down_revision or depends_on)."""
    implied = {
        script.revision
        for revision in revisions
        for script in scripts.iterate_revisions(revision, "base")
        if script.revision != revision
    }
    return revisions - implied


def _tips(revisions: Iterable[str], downs: dict[str, tuple[str, ...]]) -> list[str]:
    """The revisions of ``revisions`` that no other of them revises, sorted."""
    chosen = set(revisions)
    revised = {down for rev in chosen for down in downs.get(rev, ())}
    return sorted(chosen - revised)


def _ancestry(revisions: Iterable[str], downs: dict[str, tuple[str, ...]]) -> list[str]:
    """``revisions`` and their ancestors in the same tree, oldest first."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(revision: str) -> None:
        if revision in seen or revision not in downs:
            return
        seen.add(revision)
        for down in downs[revision]:
            visit(down)
        ordered.append(revision)

    for revision in revisions:
        visit(revision)
    return ordered


def _format_revision(path: Path) -> None:
    """Format a generated revision with ruff, when it is installed (it is for developers).

    Alembic's rendering is not what ``ruff format --check`` expects; formatting it here
    saves every plugin author the same manual step.
    """
    import shutil
    import subprocess
    import sys

    beside_python = Path(sys.executable).with_name("ruff")
    ruff = shutil.which("ruff") or (str(beside_python) if beside_python.exists() else None)
    if ruff is None:
        return
    try:
        subprocess.run(
            [ruff, "format", "--quiet", str(path)], check=True, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("could not format %s with ruff: %s", path, exc)


def _next_revision_id(tree: _Tree, own: dict[str, Script], scripts: ScriptDirectory) -> str:
    pattern = re.compile(rf"^{re.escape(tree.revision_prefix)}(\d+)$")
    numbers = [int(match.group(1)) for rev in own if (match := pattern.match(rev))]
    number = max(numbers, default=len(own)) + 1
    taken = {script.revision for script in scripts.walk_revisions()}
    while f"{tree.revision_prefix}{number:04d}" in taken:
        number += 1
    return f"{tree.revision_prefix}{number:04d}"


# -------------------------------------------------------------------------------------------
# Connections
# -------------------------------------------------------------------------------------------


def _migration_engine(settings: Settings) -> Engine:
    """The synchronous engine, with real transactions for DDL on SQLite.

    pysqlite issues no BEGIN before DDL, so a failing migration would leave half its tables
    behind; the recipe from SQLAlchemy's SQLite documentation makes ``BEGIN`` explicit.
    Foreign keys are off while migrating (batch operations copy and drop tables, which
    would cascade) and checked before commit, as Django does.
    """
    from sqlalchemy import event

    from pcm_ops.db.engine import create_sync_engine

    engine = create_sync_engine(settings)
    if settings.is_sqlite:

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

        def on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", on_begin)
    return engine


@contextmanager
def _connect(engine: Engine, settings: Settings) -> Iterator[Connection]:
    from sqlalchemy.exc import DBAPIError

    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise database_unreachable(settings, exc) from None
    with connection:
        yield connection


def _current_revisions(connection: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    return set(heads)


def _set_version_rows(connection: Connection, revisions: list[str], present: bool) -> None:
    from sqlalchemy import column, table

    if not revisions:
        return
    version = table(VERSION_TABLE, column("version_num"))
    if present:
        connection.execute(version.insert(), [{"version_num": rev} for rev in revisions])
    else:
        connection.execute(version.delete().where(version.c.version_num.in_(revisions)))


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise DatabaseError(
            f"the migration left rows that violate foreign keys in {', '.join(tables)}; "
            "nothing was changed"
        )


# -------------------------------------------------------------------------------------------
# Messages
# -------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _hidden_note(hidden: list[str]) -> str:
    if not hidden:
        return ""
    return (
        f" (the database also holds revision(s) {', '.join(hidden)} of no loaded plugin: "
        "a plugin that is disabled, uninstalled, or older than the one that migrated)"
    )


def _explain(exc: Exception, hidden: list[str]) -> str:
    message = _first_line(exc)
    if message == "Target database is not up to date.":
        return "the database is not up to date; run `pcm-ops db upgrade` first"
    return message + _hidden_note(hidden)


def _describe_pending(rows: list[BranchStatus]) -> str:
    return "; ".join(f"{row.owner}: {', '.join(row.pending)} pending" for row in rows)


def _ini_escape(value: str) -> str:
    # Config.set_main_option goes through ConfigParser interpolation.
    return value.replace("%", "%%")


def _show(value: Any) -> str:
    from sqlalchemy.types import TypeEngine

    if isinstance(value, TypeEngine):
        try:
            return str(value)
        except Exception:  # a dialect-only type has no generic rendering
            return repr(value)
    return repr(value)


def _describe_difference(difference: Any) -> str:
    """One line saying what differs, from the models' point of view."""
    if isinstance(difference, list):
        return "; ".join(_describe_difference(item) for item in difference)
    kind = difference[0]
    added = kind.startswith("add_")
    where = (
        "in the models but not in the migrations"
        if added
        else "in the migrations but not in the models"
    )
    if kind in ("add_table", "remove_table"):
        return f"table {difference[1].name}: {where}"
    if kind in ("add_column", "remove_column"):
        _, _schema, table_name, column = difference
        return f"column {table_name}.{column.name}: {where}"
    if kind in (
        "add_index",
        "remove_index",
        "add_constraint",
        "remove_constraint",
        "add_fk",
        "remove_fk",
    ):
        item = difference[1]
        what = "index" if "index" in kind else "constraint"
        return f"{what} {item.name or '(unnamed)'} on {item.table.name}: {where}"
    if kind.startswith("modify_"):
        _, _schema, table_name, column_name, _existing, in_database, in_models = difference
        attribute = kind.removeprefix("modify_")
        return (
            f"column {table_name}.{column_name}: {attribute} is {_show(in_database)} in the "
            f"migrations but {_show(in_models)} in the models"
        )
    return repr(difference)


__all__ = [
    "ALEMBIC_DIR",
    "CORE",
    "CORE_VERSIONS_DIR",
    "BranchStatus",
    "branch_status",
    "check",
    "database_unreachable",
    "downgrade",
    "migrate_on_start",
    "revision",
    "upgrade",
]
