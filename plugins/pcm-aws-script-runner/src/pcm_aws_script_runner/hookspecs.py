"""Hooks that the AWS Script Runner offers to other plugins.

The script runner adds these specs through ``pcm_ops_add_hookspecs``. Another plugin
implements one by naming a function after it, marked
``@hookimpl(optionalhook=True)`` (from :mod:`pcm_ops`) so that it still loads when the
script runner is not installed or not enabled. An implementation may accept any subset of
the arguments a spec lists, in any order. The values these hooks take and return are in
:mod:`pcm_aws_script_runner.hooktypes`, which imports nothing but the standard library.

How the script runner calls them
    Unlike core's hooks, these are called on every request that needs them, not at
    start-up, and never through ``plugin_manager.hook.<name>(...)`` directly: the script
    runner calls each implementation itself, in plugin-id order, so that one plugin's
    exception or slow answer is reported against that plugin and cannot hide the others'
    results. An exception never marks the implementing plugin *failed*; what it means is
    said for each hook below.

Each hook may be a plain function or ``async def``; use ``async def`` for anything that
does I/O (an HTTP call to ServiceNow, a database query).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from pcm_ops import hookspec

if TYPE_CHECKING:
    from pcm_aws_script_runner.hooktypes import (
        CheckResult,
        ExecutionEvent,
        ExecutionRequest,
        TargetSource,
    )
    from pcm_ops.context import PluginContext
    from pcm_ops.security.principal import Principal


# -------------------------------------------------------------------------------------------
# Choosing targets
# -------------------------------------------------------------------------------------------


@hookspec
def aws_sr_target_sources() -> Sequence[TargetSource] | Awaitable[Sequence[TargetSource]] | None:
    """Return the target sources this plugin supplies: ways to turn a reference into instances.

    Called whenever the script runner needs the list of sources: ``GET
    /api/tools/aws/script-runner/target-sources``, each time a reference is resolved
    (``POST /api/tools/aws/script-runner/target-sources/<name>/resolve``, and runs once
    executions exist), and for the run form. Keep it cheap (return constant objects): the
    work belongs in each source's ``resolve`` function, which is awaited only when an
    operator resolves a reference with that source.

    Source names are unique across plugins. When two plugins return the same name, the one
    whose plugin id sorts first keeps it; the other source is left out and logged, naming
    both plugins. An implementation that raises, or returns something other than
    :class:`~pcm_aws_script_runner.hooktypes.TargetSource` objects, contributes no sources
    and is logged; the other plugins' sources stay available.

    When a source's ``resolve`` raises, or returns something other than a sequence of
    :class:`~pcm_aws_script_runner.hooktypes.ResolvedTarget`, resolution fails with a
    message naming the source and the plugin (and the exception's message); when it takes
    longer than the ``target_resolution_timeout_seconds`` setting, it fails the same way.
    Instances it returns twice are kept once. Beside its targets, ``resolve`` may return
    :class:`~pcm_aws_script_runner.hooktypes.UnresolvedTarget` items (``label``,
    ``reason``): what the reference names that is not an instance the run can use (a CI
    with no EC2 instance behind it). They are not targets; the preview lists each with its
    reason (``unresolved`` in ``POST /executions/preview``, and the run form), so the
    operator sees what a run leaves out and why.

    :return: a sequence of :class:`~pcm_aws_script_runner.hooktypes.TargetSource`
        (possibly empty), an awaitable of one, or ``None`` (no sources).

    Example::

        from pcm_aws_script_runner.hooktypes import (
            ResolvedTarget, TargetSource, UnresolvedTarget)

        async def resolve_change(reference, principal, context):
            # context (optional): the plugin's PluginContext: config, settings, session()
            cis = await servicenow.configuration_items_of(context.config, reference)
            return [ResolvedTarget(ci.instance_id, ci.account_id, ci.region, ci.name)
                    if ci.instance_id else UnresolvedTarget(ci.name, "it names no instance")
                    for ci in cis]

        @hookimpl(optionalhook=True)
        def aws_sr_target_sources():
            return [TargetSource("servicenow-change", "ServiceNow change", resolve_change,
                                 "A change number: its configuration items are the targets.")]
    """


# -------------------------------------------------------------------------------------------
# Before a run starts
# -------------------------------------------------------------------------------------------


@hookspec
def aws_sr_pre_execution_checks(
    execution_request: ExecutionRequest, principal: Principal | None, context: PluginContext
) -> CheckResult | Awaitable[CheckResult | None] | None:
    """Decide whether a requested run may start.

    Called once per run request, after the script version, parameters and targets are
    validated and before anything is sent to AWS (through
    ``pcm_aws_script_runner.services.executions.checks.run_pre_execution_checks``, which
    executions call). Every implementation is called (all of
    them, even after one has failed, so that the operator sees every reason at once); the
    ``async`` ones run concurrently. The run starts only when every implementation returned
    ``ok=True`` or ``None``. Otherwise it is refused, and the reasons of the failed checks
    are shown to the operator and written to the audit log, each naming its plugin.

    An implementation that raises, returns something other than a
    :class:`~pcm_aws_script_runner.hooktypes.CheckResult` or ``None``, or takes longer than
    the ``pre_execution_check_timeout_seconds`` setting counts as a **failed** check whose
    reason names the plugin and the error: a check that cannot decide blocks the run.

    :param execution_request: what would run, where, and for whom
        (:class:`~pcm_aws_script_runner.hooktypes.ExecutionRequest`); secret parameter
        values are masked.
    :param principal: the :class:`~pcm_ops.security.Principal` who asked, or ``None`` when
        the run was asked for outside a request (the CLI; ``execution_request.requested_by``
        then says who).
    :param context: the implementing plugin's :class:`~pcm_ops.context.PluginContext`: its
        ``config``, core's ``settings``, the ``registry`` and ``session()`` for a database
        session of its own, the same in the server and the CLI.
    :return: a :class:`~pcm_aws_script_runner.hooktypes.CheckResult` (its ``plugin`` is
        filled in by the script runner), ``None`` when the check does not apply to this
        run, or an awaitable of either.

    Example::

        from pcm_aws_script_runner.hooktypes import CheckResult

        @hookimpl(optionalhook=True)
        async def aws_sr_pre_execution_checks(execution_request, context):
            if not context.config.gate_runs:  # the plugin's own settings
                return None
            ticket = execution_request.change_reference
            if ticket is None:
                return CheckResult(False, "name an approved change ticket for this run")
            change = await servicenow.change(ticket)
            if change.state != "implement":
                return CheckResult(False, f"change {ticket} is {change.state}, not implement")
            return CheckResult(True)
    """


# -------------------------------------------------------------------------------------------
# While a run goes on
# -------------------------------------------------------------------------------------------


@hookspec
def aws_sr_execution_events(
    event: ExecutionEvent, context: PluginContext
) -> Awaitable[None] | None:
    """Hear that an execution started or finished (to write a ticket's work notes, post to chat).

    Called by the execution's durable job, outside any transaction of the run: once when
    the run starts (``event.kind == "started"``, after the pre-execution checks passed
    again and before the first batch is sent) and once when its final status is recorded
    (``"finished"``). Every implementation is called, concurrently when ``async``, each for
    at most the ``event_hook_timeout_seconds`` setting. An exception, a timeout or a
    return value is logged against the implementing plugin and never affects the run or
    the other implementations.

    Delivery is **at least once**: when the process running the job dies while the
    implementations are called, they are called again when the job resumes. An
    implementation that does something which must happen once keys it by ``event.key``;
    the usual way is to enqueue a durable job of the plugin's own with ``key=event.key``
    (:func:`pcm_ops.jobs.enqueue_async`: the same key enqueues nothing new), which then
    does the slow or failure-prone part with its own retries. Do not make remote calls in
    the implementation itself: the run waits for it.

    :param event: the execution and its outcome so far
        (:class:`~pcm_aws_script_runner.hooktypes.ExecutionEvent`); secret parameter values
        are never part of it.
    :param context: the implementing plugin's :class:`~pcm_ops.context.PluginContext`.
    :return: ``None`` (or an awaitable of it).

    Example::

        from pcm_ops.jobs import enqueue_async

        @hookimpl(optionalhook=True)
        async def aws_sr_execution_events(event, context):
            if event.change_reference:
                await enqueue_async("my-plugin.note", event.change_reference, event.kind,
                                    event.url, queue="my-plugin.notes", key=event.key)
    """
