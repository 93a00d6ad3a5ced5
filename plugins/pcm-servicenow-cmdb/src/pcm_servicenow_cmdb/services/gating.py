"""The script runner's side of ServiceNow: a change's servers as targets
(``servicenow-change``), and change-gated execution (by account and by instance tag).

A change's CIs become instances through the same mapping as the change page
(:func:`pcm_servicenow_cmdb.services.cmdb.map_cis`): by instance id, IP address or host
name against the script runner's inventory.

Both run through the script runner's hooks with this plugin's
:class:`~pcm_ops.context.PluginContext` (its settings, a database session), the same in the
API, the pages and the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pcm_servicenow_cmdb.services import changes, cmdb, connections

if TYPE_CHECKING:
    from pcm_aws_script_runner.hooktypes import (
        CheckResult,
        ExecutionRequest,
        ResolvedTarget,
        UnresolvedTarget,
    )
    from pcm_ops.context import PluginContext

logger = logging.getLogger("pcm_servicenow_cmdb.gating")

#: How many instance ids a refusal names before it says "and N more".
NAMED = 10


async def _change_and_mappings(
    context: PluginContext, number: str, connection: str | None
) -> tuple[changes.Change, list[cmdb.CIMapping]]:
    """The change and its CIs, each mapped to an inventory instance (the script runner is
    loaded: this runs from its hooks)."""
    from pcm_servicenow_cmdb.client import ServiceNowClient

    async with context.session() as session:
        row = await connections.find_connection(session, connection)
        settings = connections.settings_of(row)
    async with ServiceNowClient(settings) as client:
        change = await changes.get_change(client, number)
        cis = await changes.affected_cis(client, change)
    if not cmdb.inventory_available(context.registry):
        return change, await cmdb.map_cis(cis, None)
    async with context.session() as session:
        return change, await cmdb.map_cis(cis, session)


def _unmapped(mappings: Sequence[cmdb.CIMapping]) -> str:
    return "; ".join(f"{m.ci.name}: {m.note}" for m in mappings if not m.mapped)


async def resolve_change(
    reference: str, principal: Any, context: PluginContext
) -> Sequence[ResolvedTarget | UnresolvedTarget]:
    """The EC2 instances a change affects: its CIs mapped to instances (by instance id, IP
    address or host name, see :func:`~pcm_servicenow_cmdb.services.cmdb.map_cis`).

    The CIs that map to no instance come back as ``UnresolvedTarget`` items (name and
    why), which the script runner's preview lists beside the targets.

    :raises LookupError: no such change, or none of its CIs maps to an instance (the
        message lists each CI with why it does not map).
    """
    from pcm_aws_script_runner.hooktypes import ResolvedTarget, UnresolvedTarget
    from pcm_ops.errors import NotFoundError

    config = context.config
    try:
        _, mappings = await _change_and_mappings(
            context, reference.strip().upper(), config.gate.connection
        )
    except NotFoundError as exc:
        raise LookupError(str(exc)) from None
    mapped = [m for m in mappings if m.instance is not None]
    if not mapped:
        raise LookupError(
            f"change {reference} has no CI that maps to an EC2 instance "
            f"({_unmapped(mappings) or 'it has no CIs'})"
        )
    if len(mapped) < len(mappings):
        logger.info(
            "change %s: %d of %d CI(s) map to no instance and are not targets: %s",
            reference,
            len(mappings) - len(mapped),
            len(mappings),
            _unmapped(mappings),
        )
    targets: list[ResolvedTarget | UnresolvedTarget] = [
        ResolvedTarget(m.instance.instance_id, m.instance.account_id, m.instance.region, m.ci.name)
        for m in mapped
        if m.instance is not None
    ]
    # The CIs left out, so that the preview lists each with why (not only the log).
    targets.extend(UnresolvedTarget(m.ci.name, m.note) for m in mappings if not m.mapped)
    return targets


def _gated_accounts(request: ExecutionRequest, accounts: Sequence[str]) -> list[str]:
    return sorted({t.account_id for t in request.targets if t.account_id in set(accounts)})


async def _gated_by_tag(
    context: PluginContext, request: ExecutionRequest, pairs: Sequence[tuple[str, str]]
) -> list[str]:
    """``i-… (Environment=production)`` for each target whose inventory tags include a
    gated tag. A target the inventory does not know has no tags here (the script runner
    skips such a target anyway)."""
    if not pairs or not request.targets:
        return []
    from pcm_aws_script_runner.lookup import find_instances

    async with context.session() as session:
        found = await find_instances(session, instance_ids=[t.instance_id for t in request.targets])
    tags = {(i.account_id, i.region, i.instance_id): i.tags for i in found}
    gated = []
    for target in request.targets:
        known = tags.get((target.account_id, target.region, target.instance_id), {})
        matching = [f"{key}={value}" for key, value in pairs if known.get(key) == value]
        if matching:
            gated.append(f"{target.instance_id} ({', '.join(matching)})")
    return gated


def _needs_a_change(accounts: Sequence[str], tagged: Sequence[str]) -> str:
    parts = []
    if accounts:
        parts.append(f"on account {', '.join(accounts)}")
    if tagged:
        more = f" and {len(tagged) - NAMED} more" if len(tagged) > NAMED else ""
        parts.append(f"on instances tagged {', '.join(tagged[:NAMED])}{more}")
    return "runs " + " and ".join(parts)


async def check_run(request: ExecutionRequest, context: PluginContext) -> CheckResult | None:
    """Refuse a run on gated accounts or instances with a gated tag unless its change
    allows it now, with every reason.

    ``None`` for a run that touches nothing gated. A ServiceNow that cannot be asked blocks
    the run (a check that cannot decide never lets a run through)."""
    from pcm_aws_script_runner.hooktypes import CheckResult
    from pcm_ops.errors import NotFoundError
    from pcm_servicenow_cmdb.client import ServiceNowError

    gate = context.config.gate
    accounts = _gated_accounts(request, gate.accounts)
    tagged = await _gated_by_tag(context, request, gate.tag_pairs())
    if not accounts and not tagged:
        return None
    number = (request.change_reference or "").strip().upper()
    if not number:
        return CheckResult(
            False,
            f"{_needs_a_change(accounts, tagged)} need an approved ServiceNow change: name it "
            "as the run's change reference",
        )
    try:
        change, mappings = await _change_and_mappings(context, number, gate.connection)
    except NotFoundError as exc:
        return CheckResult(False, str(exc))
    except ServiceNowError as exc:
        return CheckResult(False, f"ServiceNow could not be asked about {number}: {exc}")
    reasons = _refusals(change, mappings, request, gate, datetime.now(UTC))
    if reasons:
        return CheckResult(False, f"change {number}: " + "; ".join(reasons))
    return CheckResult(True, f"change {number} allows this run")


def _refusals(
    change: changes.Change,
    mappings: Sequence[cmdb.CIMapping],
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
    covered = {
        (m.instance.account_id, m.instance.region, m.instance.instance_id)
        for m in mappings
        if m.instance is not None
    }
    outside = [
        t.instance_id
        for t in request.targets
        if (t.account_id, t.region, t.instance_id) not in covered
    ]
    if outside:
        more = f" and {len(outside) - NAMED} more" if len(outside) > NAMED else ""
        reasons.append(
            f"{len(outside)} target(s) are not among its CIs: {', '.join(outside[:NAMED])}{more}"
        )
    return reasons
