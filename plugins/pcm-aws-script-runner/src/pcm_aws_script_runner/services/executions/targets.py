"""Which instances an execution runs on: the five ways a draft names them, each resolved
to planned targets (sent the command, or skipped with a reason) and the spec recorded.

- ``instance_ids``: looked up in the inventory;
- ``instances``: ``{instance_id, account_id, region}`` each, checked against the accounts
  registry;
- ``filter`` / ``saved_filter_id``: every inventory instance matching, resolved now;
- ``source``: another plugin's target source (:mod:`.sources`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from pcm_aws_common.patterns import is_account_id, is_instance_id, is_region
from pcm_aws_script_runner.domain import PingStatus, TargetKind
from pcm_aws_script_runner.hooktypes import ResolvedTarget
from pcm_aws_script_runner.models import AwsSrSavedFilter
from pcm_aws_script_runner.services.errors import InvalidInput
from pcm_aws_script_runner.services.executions.sources import resolve_reference
from pcm_aws_script_runner.services.inventory import (
    InventoryFilter,
    instance_rows_by_ids,
    matching_instances,
)

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import PluginRegistry

__all__ = ["PlannedTarget", "TargetRequest", "plan_targets", "target_kind"]

_KIND_NAMES = tuple(kind.value for kind in TargetKind)


@dataclass(frozen=True, slots=True)
class PlannedTarget:
    """One instance of a planned run: sent the command, or skipped with a reason."""

    instance_id: str
    account_id: str
    region: str
    name: str = ""
    ping_status: str = ""
    skip_reason: str = ""

    @property
    def will_run(self) -> bool:
        return not self.skip_reason

    @property
    def account_region(self) -> str:
        return f"{self.account_id}:{self.region}"


@dataclass(frozen=True)
class TargetRequest:
    """What resolving one ``targets.<kind>`` needs besides its value."""

    session: AsyncSession
    config: ScriptRunnerSettings
    registry: PluginRegistry | None
    principal: Any
    contexts: ContextFactory | None

    @property
    def max_targets(self) -> int:
        return self.config.max_targets


Resolved = tuple[list[PlannedTarget], dict[str, Any]]


def target_kind(targets: Any) -> tuple[TargetKind, Any]:
    """The one kind a draft's ``targets`` names, and its value.

    :raises InvalidInput: not an object, an unknown key, or not exactly one kind given.
    """
    names = ", ".join(_KIND_NAMES)
    if not isinstance(targets, Mapping):
        raise InvalidInput([("targets", f"must be an object with exactly one of: {names}")])
    given = [kind for kind in _KIND_NAMES if targets.get(kind) not in (None, [], {})]
    unknown = [key for key in targets if key not in _KIND_NAMES]
    if unknown:
        raise InvalidInput([(f"targets.{key}", f"unknown; use one of: {names}") for key in unknown])
    if len(given) != 1:
        raise InvalidInput(
            [("targets", f"give exactly one of: {names} (got {', '.join(given) or 'none'})")]
        )
    return TargetKind(given[0]), targets[given[0]]


async def plan_targets(request: TargetRequest, kind: TargetKind, value: Any) -> Resolved:
    """The targets of ``targets.<kind>``, and the spec to record.

    :raises InvalidInput: each problem naming its field (``targets.<kind>...``).
    """
    return await _RESOLVERS[kind](request, kind, value)


async def _instance_ids(request: TargetRequest, kind: TargetKind, value: Any) -> Resolved:
    where = f"targets.{kind}"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput([(where, "must be a list of instance ids")])
    wrong = [item for item in value if not is_instance_id(item)]
    if wrong:
        raise InvalidInput([(where, f"not instance ids: {', '.join(wrong[:10])}")])
    ids = list(dict.fromkeys(value))
    if len(ids) > request.max_targets:
        raise InvalidInput([(where, f"at most {request.max_targets} instances per execution")])
    found = await instance_rows_by_ids(request.session, ids)
    missing = [item for item in ids if item not in found]
    if missing:
        raise InvalidInput(
            [
                (
                    where,
                    f"not in the inventory: {', '.join(missing[:10])}"
                    f"{' …' if len(missing) > 10 else ''}; sync the inventory, or give "
                    "targets.instances with their account and region",
                )
            ]
        )
    return [_from_inventory(found[item]) for item in ids], {"kind": kind.value, "instance_ids": ids}


async def _instances(request: TargetRequest, kind: TargetKind, value: Any) -> Resolved:
    where = f"targets.{kind}"
    if not isinstance(value, list):
        raise InvalidInput([(where, "must be a list of {instance_id, account_id, region}")])
    problems: list[tuple[str, str]] = []
    given: list[ResolvedTarget] = []
    for index, item in enumerate(value):
        spot = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            problems.append((spot, "must be an object with instance_id, account_id, region"))
            continue
        instance_id, account_id, region = (
            item.get("instance_id"),
            item.get("account_id"),
            item.get("region"),
        )
        if not isinstance(instance_id, str) or not is_instance_id(instance_id):
            problems.append((f"{spot}.instance_id", "is not an instance id (i-… or mi-…)"))
        if not isinstance(account_id, str) or not is_account_id(account_id):
            problems.append((f"{spot}.account_id", "must be a 12-digit account id"))
        if not isinstance(region, str) or not is_region(region):
            problems.append((f"{spot}.region", "is not a region name (eu-west-1)"))
        if not problems:
            given.append(ResolvedTarget(str(instance_id), str(account_id), str(region)))
    if problems:
        raise InvalidInput(problems)
    return await _known(request, given, where), {
        "kind": kind.value,
        "instances": [
            {"instance_id": t.instance_id, "account_id": t.account_id, "region": t.region}
            for t in given
        ],
    }


async def _inventory_filter(request: TargetRequest, kind: TargetKind, value: Any) -> Resolved:
    where = f"targets.{kind}"
    if kind == TargetKind.SAVED_FILTER_ID:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput([(where, "must be the id of a saved filter")])
        saved = await request.session.get(AwsSrSavedFilter, value)
        if saved is None:
            raise InvalidInput([(where, f"there is no saved filter {value}")])
        raw = saved.filter
        spec: dict[str, Any] = {"kind": kind.value, "saved_filter_id": value, "name": saved.name}
    else:
        raw = value
        spec = {"kind": kind.value}
    try:
        flt = InventoryFilter.model_validate(raw)
    except Exception as exc:  # pydantic's ValidationError: name each field
        raise InvalidInput(_pydantic_problems(where, exc)) from None
    spec["filter"] = flt.model_dump(mode="json", exclude_defaults=True)
    rows = await matching_instances(request.session, flt)
    if len(rows) > request.max_targets:
        raise InvalidInput(
            [(where, f"matches {len(rows)} instances; at most {request.max_targets} per run")]
        )
    return [_from_inventory(row) for row in rows], spec


async def _source(request: TargetRequest, kind: TargetKind, value: Any) -> Resolved:
    """A target source of another plugin."""
    where = f"targets.{kind}"
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise InvalidInput([(where, "must be {name: <target source>, reference: <text>}")])
    if request.registry is None:
        raise InvalidInput([(where, "target sources are not available here")])
    try:
        resolution = await resolve_reference(
            request.registry,
            value["name"],
            value.get("reference", ""),
            request.principal,
            time_limit=request.config.target_resolution_timeout_seconds,
            contexts=request.contexts,
        )
    except InvalidInput as exc:  # the reference's problems, named within the request
        problems = [(f"{where}.{field}", message) for field, message in exc.problems]
        raise InvalidInput(problems) from None
    spec: dict[str, Any] = {
        "kind": kind.value,
        "source": value["name"],
        "reference": value.get("reference", ""),
    }
    if resolution.unresolved:  # what the reference names that the run leaves out, and why
        spec["unresolved"] = [
            {"label": item.label, "reason": item.reason} for item in resolution.unresolved
        ]
    return await _known(request, resolution.targets, where), spec


_RESOLVERS: dict[TargetKind, Callable[[TargetRequest, TargetKind, Any], Awaitable[Resolved]]] = {
    TargetKind.INSTANCE_IDS: _instance_ids,
    TargetKind.INSTANCES: _instances,
    TargetKind.FILTER: _inventory_filter,
    TargetKind.SAVED_FILTER_ID: _inventory_filter,
    TargetKind.SOURCE: _source,
}


def _from_inventory(row: Any, reason: str = "") -> PlannedTarget:
    if not reason:
        if not row.ssm_managed:
            reason = "not an SSM managed node"
        elif row.ping_status != PingStatus.ONLINE:
            reason = f"SSM agent is {row.ping_status}, not Online"
    return PlannedTarget(
        instance_id=row.instance_id,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        ping_status=row.ping_status,
        skip_reason=reason,
    )


async def _registered_accounts(session: AsyncSession) -> dict[str, set[str]]:
    """Account id → its enabled regions, from pcm-aws-common's registry."""
    from pcm_aws_common.models import AwsAccount

    rows = (await session.exec(select(AwsAccount.account_id, AwsAccount.regions))).all()
    return {account_id: set(regions or []) for account_id, regions in rows}


async def _known(
    request: TargetRequest, given: Sequence[ResolvedTarget], where: str
) -> list[PlannedTarget]:
    """Explicit targets, checked against the accounts registry and looked up in the
    inventory (an instance the inventory does not know is skipped with a reason)."""
    if len(given) > request.max_targets:
        raise InvalidInput([(where, f"at most {request.max_targets} instances per execution")])
    accounts = await _registered_accounts(request.session)
    problems = []
    for target in given:
        regions = accounts.get(target.account_id)
        if regions is None:
            problems.append(
                (
                    where,
                    f"{target.instance_id}: account {target.account_id} is not registered "
                    "in pcm-aws-common",
                )
            )
        elif regions and target.region not in regions:
            problems.append(
                (
                    where,
                    f"{target.instance_id}: region {target.region} is not enabled for "
                    f"account {target.account_id}",
                )
            )
    if problems:
        raise InvalidInput(problems[:20])
    found = await instance_rows_by_ids(request.session, [target.instance_id for target in given])
    planned = []
    for target in given:
        row = found.get(target.instance_id)
        if row is None or (row.account_id, row.region) != (target.account_id, target.region):
            planned.append(
                PlannedTarget(
                    target.instance_id,
                    target.account_id,
                    target.region,
                    target.label,
                    "",
                    "not in the inventory of its account-region; sync the inventory",
                )
            )
        else:
            planned.append(_from_inventory(row))
    return planned


def _pydantic_problems(where: str, exc: Exception) -> list[tuple[str, str]]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [(where, str(exc))]
    problems = []
    for error in errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        problems.append((f"{where}.{location}" if location else where, error.get("msg", "")))
    return problems or [(where, str(exc))]
