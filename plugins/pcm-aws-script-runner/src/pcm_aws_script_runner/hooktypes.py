"""The values that cross the script runner's own hooks (see :mod:`pcm_aws_script_runner.hookspecs`).

Other plugins import these to implement ``aws_sr_target_sources`` and
``aws_sr_pre_execution_checks``. Everything here is a frozen dataclass from the standard
library, so importing this module from another plugin's entry-point module costs nothing.

Fields may be added to these classes in later versions (always with defaults); none is
removed or renamed within a major version of this plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_ops.context import PluginContext
    from pcm_ops.security.principal import Principal

__all__ = [
    "CheckResult",
    "ExecutionEvent",
    "ExecutionRequest",
    "ResolvedTarget",
    "TargetResolver",
    "TargetSource",
    "UnresolvedTarget",
]


@dataclass(frozen=True)
class ResolvedTarget:
    """One managed instance a script may run on.

    Attributes:
        instance_id: the SSM managed-node id: an EC2 instance (``i-0123456789abcdef0``) or a
            hybrid managed instance (``mi-0123456789abcdef0``).
        account_id: the 12-digit AWS account the instance lives in.
        region: its region (``eu-west-1``, ``us-gov-west-1``).
        label: an optional display name (the instance's ``Name`` tag, a CI name).
    """

    instance_id: str
    account_id: str
    region: str
    label: str = ""


@dataclass(frozen=True)
class UnresolvedTarget:
    """Something a reference names that is not an instance the script can run on.

    A resolver may return these beside its :class:`ResolvedTarget` objects (a change's
    configuration item that maps to no EC2 instance, say): they are not targets, but the
    preview (page and ``POST /executions/preview``'s ``unresolved``) lists each with its
    reason, and a started execution keeps them in its target specification, so an operator
    sees what a run leaves out and why.

    Attributes:
        label: what the operator knows it by (a CI name, a host name).
        reason: why it is not a target, as a sentence for the operator (``"no instance in
            the inventory has IP address 10.0.9.9"``).
    """

    label: str
    reason: str


#: ``async def resolve(reference: str, principal: Principal | None) -> Sequence[ResolvedTarget]``;
#: ``principal`` is who asks, or ``None`` outside a request (the CLI). A resolver that also
#: takes a third argument named ``context`` gets the supplying plugin's
#: :class:`~pcm_ops.context.PluginContext` (its config, settings, a database session).
#: Beside the targets it may return :class:`UnresolvedTarget` items.
ResolverResult = Sequence[ResolvedTarget] | Sequence[ResolvedTarget | UnresolvedTarget]
TargetResolver = (
    Callable[[str, "Principal | None"], Awaitable[ResolverResult]]
    | Callable[[str, "Principal | None", "PluginContext"], Awaitable[ResolverResult]]
)


@dataclass(frozen=True)
class TargetSource:
    """A way to choose execution targets that another plugin supplies.

    Attributes:
        name: unique among all target sources; lowercase letters, digits and dashes,
            starting with a letter, at most 64 characters. Prefix it with your plugin's
            subject (``servicenow-change``).
        display_name: what the UI shows (``ServiceNow change``).
        resolve: an ``async`` function ``(reference, principal) -> Sequence[ResolvedTarget]``
            (``principal``: the :class:`~pcm_ops.security.Principal` who asks, ``None`` on
            the CLI) that turns a reference the operator types (a change number, a CI group, a tag
            expression) into instances. When the reference is wrong it raises
            ``LookupError`` (or a subclass) with a message for the operator
            (``LookupError("no change CHG0012345")``): the API answers 422 naming the
            ``reference`` field. Any other exception means the source itself failed (its
            system is down): 502. Either message is shown, prefixed with the source and
            plugin.
        description: one sentence on what a reference is (``"A change number, e.g.
            CHG0012345: its configuration items become the targets."``).
    """

    name: str
    display_name: str
    resolve: TargetResolver
    description: str = ""


@dataclass(frozen=True)
class ExecutionRequest:
    """A run the operator asked for, as pre-execution checks see it, before anything is sent.

    Attributes:
        script_id: the script's id.
        script_name: its name.
        script_version: the version number that would run.
        script_sha256: that version's content hash.
        language: ``shell`` or ``powershell``.
        parameters: the parameter values after validation and defaults, with the values of
            parameters declared ``secret`` replaced by ``"********"``: checks never see
            secrets.
        targets: the instances the run would reach.
        requested_by: how the audit log names who asked (a username, ``cli:<user>``).
        target_source: the target source the targets came from, if any.
        target_reference: the reference given to that source (a change number), if any.
        change_reference: the change ticket the operator named for this run, if any.
        comment: the operator's reason for the run.
    """

    script_id: int
    script_name: str
    script_version: int
    script_sha256: str
    language: str
    parameters: Mapping[str, Any]
    targets: tuple[ResolvedTarget, ...]
    requested_by: str
    target_source: str | None = None
    target_reference: str | None = None
    change_reference: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one pre-execution check.

    Attributes:
        ok: ``True`` lets the run go ahead as far as this check is concerned; ``False``
            blocks it.
        reason: why, in a sentence the operator can act on (``"change CHG0012345 is not in
            its implementation window (starts 2025-03-01 22:00 UTC)"``); required when
            ``ok`` is ``False``.
        plugin: the id of the plugin whose check this is. The check runner fills it in
            from the plugin that returned the result, whatever the plugin put here.
    """

    ok: bool
    reason: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class ExecutionEvent:
    """An execution started or finished, as ``aws_sr_execution_events`` announces it.

    Attributes:
        kind: ``"started"`` (the first batch is about to be sent) or ``"finished"`` (the
            final status is recorded).
        key: the same for every delivery of this event (``"execution-42-started"``): a
            plugin that does durable work for an event keys it by this (a job key, a
            unique column), since an event may be announced more than once (at least once).
        execution_id: the execution's id.
        script_id: the script's id.
        script_name: its name.
        script_version: the version that runs.
        script_sha256: that version's content hash.
        language: ``shell`` or ``powershell``.
        requested_by: how the audit log names who asked (a username, ``cli:<user>``).
        status: the execution's status when the event was announced (``running``;
            ``succeeded``, ``failed`` or ``cancelled`` when it finished).
        status_reason: why it ended so (empty when it succeeded or only started).
        target_count: the instances the run was asked to reach.
        counts: instances by status (``{"Success": 40, "Failed": 2}``).
        failed_instances: the ids of instances that ended in an error status (at most 100,
            in instance-id order); ``failed_total`` says how many there are in all.
        failed_total: how many instances ended in an error status.
        change_reference: the change ticket the operator named for the run, if any.
        target_source: the target source the targets came from, if any.
        target_reference: the reference given to that source, if any.
        comment: the operator's reason for the run.
        path: the execution's page in this installation (``/tools/aws/script-runner/
            executions/42``).
        url: that page's absolute address (core's ``public_url`` setting, else the
            server's host and port).
        started_at: when it started (ISO 8601, UTC), if it has.
        finished_at: when it finished (ISO 8601, UTC), if it has.
    """

    kind: str
    key: str
    execution_id: int
    script_id: int
    script_name: str
    script_version: int
    script_sha256: str
    language: str
    requested_by: str
    status: str
    status_reason: str = ""
    target_count: int = 0
    counts: Mapping[str, int] = field(default_factory=dict, hash=False, compare=False)
    failed_instances: tuple[str, ...] = ()
    failed_total: int = 0
    change_reference: str | None = None
    target_source: str | None = None
    target_reference: str | None = None
    comment: str = ""
    path: str = ""
    url: str = ""
    started_at: str | None = None
    finished_at: str | None = None
