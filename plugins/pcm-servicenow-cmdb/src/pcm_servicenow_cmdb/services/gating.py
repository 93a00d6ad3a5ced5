"""The script runner's side of ServiceNow: a change's servers as targets
(``servicenow-change``), and change-gated execution.

Both run through the script runner's hooks with this plugin's
:class:`~pcm_ops.context.PluginContext` (its settings, a database session), the same in the
API, the pages and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pcm_servicenow_cmdb.services import changes, connections

if TYPE_CHECKING:
    from pcm_aws_script_runner.hooktypes import CheckResult, ExecutionRequest, ResolvedTarget
    from pcm_ops.context import PluginContext

#: How many instance ids a refusal names before it says "and N more".
NAMED = 10


async def _change_and_cis(
    context: PluginContext, number: str, connection: str | None
) -> tuple[changes.Change, list[changes.AffectedCI]]:
    from pcm_servicenow_cmdb.client import ServiceNowClient

    async with context.session() as session:
        row = await connections.find_connection(session, connection)
        settings = connections.settings_of(row)
    async with ServiceNowClient(settings) as client:
        change = await changes.get_change(client, number)
        return change, await changes.affected_cis(client, change)


async def resolve_change(
    reference: str, principal: Any, context: PluginContext
) -> Sequence[ResolvedTarget]:
    """The EC2 instances a change affects (its CIs the CMDB ties to an instance, an account
    and a region).

    :raises LookupError: no such change, or none of its CIs is an EC2 instance the CMDB
        places (the message lists the CIs it could not place).
    """
    from pcm_aws_script_runner.hooktypes import ResolvedTarget
    from pcm_ops.errors import NotFoundError

    config = context.config
    try:
        _, cis = await _change_and_cis(context, reference.strip().upper(), config.gate.connection)
    except NotFoundError as exc:
        raise LookupError(str(exc)) from None
    placed = [ci for ci in cis if ci.instance_id and ci.account_id and ci.region]
    if not placed:
        names = ", ".join(ci.name for ci in cis) or "none"
        raise LookupError(
            f"change {reference} has no CI the CMDB places on an EC2 instance (its CIs: {names})"
        )
    return [
        ResolvedTarget(ci.instance_id or "", ci.account_id or "", ci.region or "", ci.name)
        for ci in placed
    ]


def _gated(request: ExecutionRequest, accounts: Sequence[str]) -> list[str]:
    return sorted({t.account_id for t in request.targets if t.account_id in set(accounts)})


async def check_run(request: ExecutionRequest, context: PluginContext) -> CheckResult | None:
    """Refuse a run on gated accounts unless its change allows it now, with every reason.

    ``None`` for a run that touches no gated account. A ServiceNow that cannot be asked
    blocks the run (a check that cannot decide never lets a run through)."""
    from pcm_aws_script_runner.hooktypes import CheckResult
    from pcm_ops.errors import NotFoundError
    from pcm_servicenow_cmdb.client import ServiceNowError

    gate = context.config.gate
    gated = _gated(request, gate.accounts)
    if not gated:
        return None
    accounts = ", ".join(gated)
    number = (request.change_reference or "").strip().upper()
    if not number:
        return CheckResult(
            False,
            f"runs on account {accounts} need an approved ServiceNow change: name it as the "
            "run's change reference",
        )
    try:
        change, cis = await _change_and_cis(context, number, gate.connection)
    except NotFoundError as exc:
        return CheckResult(False, str(exc))
    except ServiceNowError as exc:
        return CheckResult(False, f"ServiceNow could not be asked about {number}: {exc}")
    reasons = _refusals(change, cis, request, gate, datetime.now(UTC))
    if reasons:
        return CheckResult(False, f"change {number}: " + "; ".join(reasons))
    return CheckResult(True, f"change {number} allows this run")


def _refusals(
    change: changes.Change,
    cis: Sequence[changes.AffectedCI],
    request: ExecutionRequest,
    gate: Any,
    now: datetime,
) -> list[str]:
    reasons = []
    if change.state not in gate.states:
        allowed = " or ".join(changes.STATES.get(state, state) for state in gate.states)
        reasons.append(f"it is in {change.state_label}, not {allowed}")
    approved = change.approval == "approved" or (
        gate.standard_changes_preapproved and change.type == "standard"
    )
    if gate.require_approval and not approved:
        reasons.append(f"it is not approved (approval: {change.approval or 'none'})")
    if change.on_hold:
        reasons.append("it is on hold")
    if change.start is None or change.end is None:
        reasons.append("it has no planned window")
    elif not change.window_open(now):
        when = "has not opened yet" if now < change.start else "has closed"
        reasons.append(
            f"its window {change.start:%Y-%m-%d %H:%M} to {change.end:%Y-%m-%d %H:%M} UTC {when}"
        )
    covered = {ci.instance_id for ci in cis if ci.instance_id}
    outside = [t.instance_id for t in request.targets if t.instance_id not in covered]
    if outside:
        more = f" and {len(outside) - NAMED} more" if len(outside) > NAMED else ""
        reasons.append(
            f"{len(outside)} target(s) are not among its CIs: {', '.join(outside[:NAMED])}{more}"
        )
    return reasons
