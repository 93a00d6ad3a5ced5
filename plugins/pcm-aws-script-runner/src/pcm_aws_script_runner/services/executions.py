"""Executions: planning a run, starting it, cancelling it, rerunning it, and reading results.

An execution runs one script version, with validated parameter values, on many instances.
Starting one (:func:`start_execution`) resolves its targets (explicit instances, an
inventory filter, a saved filter, or another plugin's target source), validates every
input (each problem names its field), runs the pre-execution checks of other plugins,
and writes the execution, one row per instance and the planned ``SendCommand`` batches (at
most 50 instances of one account-region each) in one transaction. The durable workflow of
:mod:`pcm_aws_script_runner.jobs.executions` then sends the batches under the execution's
rate control and records results.

Nothing here talks to AWS: the preview (:func:`plan_execution`) comes from the inventory.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, update
from sqlmodel import col, select

from pcm_aws_common.patterns import is_account_id, is_instance_id, is_region
from pcm_aws_script_runner.domain import (
    ERROR_STATUSES,
    FINISHED,
    RERUN_STATUSES,
    TERMINAL_STATUSES,
    ExecutionStatus,
    InstanceStatus,
    PingStatus,
    RerunKind,
    TargetKind,
)
from pcm_aws_script_runner.fleet_models import (
    AwsSrExecution,
    AwsSrExecutionBatch,
    AwsSrExecutionTarget,
    AwsSrInstance,
    AwsSrSavedFilter,
)
from pcm_aws_script_runner.hooktypes import ExecutionRequest, ResolvedTarget
from pcm_aws_script_runner.ids import (
    EXECUTION_CANCEL_ACTION,
    EXECUTION_START_ACTION,
    EXECUTION_WORKFLOW,
    EXECUTIONS_QUEUE,
)
from pcm_aws_script_runner.models import AwsSrScript, AwsSrScriptVersion
from pcm_aws_script_runner.services.checks import CheckReport, run_pre_execution_checks
from pcm_aws_script_runner.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    ScriptRunnerError,
)
from pcm_aws_script_runner.services.scripts import Actor
from pcm_aws_script_runner.services.validation import LANGUAGES, masked, validate_run_parameters
from pcm_ops import audit
from pcm_ops.db.types import utcnow
from pcm_ops.errors import ConflictError

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_ops.context import ContextFactory
    from pcm_ops.registry import PluginRegistry
    from pcm_ops.settings import Settings

__all__ = [
    "BATCH_SIZE",
    "ERROR_STATUSES",
    "FINISHED",
    "TERMINAL_STATUSES",
    "Blocked",
    "ExecutionDraft",
    "Plan",
    "PlannedTarget",
    "clone_draft",
    "comment_stamp",
    "get_execution",
    "list_executions",
    "parse_limit",
    "plan_execution",
    "request_cancel",
    "rerun_draft",
    "start_execution",
]

#: SSM's limit of instance ids per SendCommand.
BATCH_SIZE = 50
#: SendCommand's TimeoutSeconds (delivery) range, and AWS-Run*Script's executionTimeout.
DELIVERY_TIMEOUT_RANGE = (30, 2_592_000)
EXECUTION_TIMEOUT_RANGE = (1, 172_800)
DEFAULT_DELIVERY_TIMEOUT = 600
DEFAULT_EXECUTION_TIMEOUT = 3600
MAX_COMMENT_CHARS = 500
MAX_CHANGE_REFERENCE_CHARS = 100

_TARGET_KIND_NAMES = tuple(kind.value for kind in TargetKind)
_LIMIT = re.compile(r"^\s*(\d{1,6})\s*(%?)\s*$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,500}$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")


class Blocked(ScriptRunnerError, ConflictError):
    """A pre-execution check refused the run (409); the message holds every reason."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        super().__init__(f"the run is blocked by pre-execution checks: {report.reason()}")


@dataclass
class ExecutionDraft:
    """What an operator asks to run, as given (the API's body, the CLI's options).

    ``targets`` holds exactly one of:

    - ``instance_ids``: a list of instance ids, looked up in the inventory;
    - ``instances``: a list of ``{"instance_id", "account_id", "region"}``;
    - ``filter``: inventory filter fields ("select all matching", resolved now);
    - ``saved_filter_id``: the id of a saved inventory filter;
    - ``source``: ``{"name": <target source>, "reference": <text>}``, another plugin's.
    """

    script_id: int
    script_version: int | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[str, Any] = field(default_factory=dict)
    max_concurrency: str | int | None = None
    max_errors: str | int | None = None
    delivery_timeout_seconds: int | None = None
    execution_timeout_seconds: int | None = None
    output_s3_bucket: str | None = None
    output_s3_prefix: str | None = None
    cloudwatch_log_group: str | None = None
    comment: str = ""
    change_reference: str | None = None


@dataclass(frozen=True)
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


@dataclass
class Plan:
    """A validated run, before it starts: what the preview shows."""

    script: AwsSrScript
    version: AwsSrScriptVersion
    values: dict[str, Any]
    shown_values: dict[str, Any]
    secret_values: dict[str, Any]
    targets: list[PlannedTarget]
    target_spec: dict[str, Any]
    max_concurrency: str
    max_errors: str
    concurrency: int
    error_budget: int
    delivery_timeout_seconds: int
    execution_timeout_seconds: int
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    cloudwatch_log_group: str | None
    comment: str
    change_reference: str | None
    checks: CheckReport | None = None

    @property
    def runnable(self) -> list[PlannedTarget]:
        return [target for target in self.targets if target.will_run]

    @property
    def skipped(self) -> list[PlannedTarget]:
        return [target for target in self.targets if not target.will_run]

    def account_regions(self) -> list[dict[str, Any]]:
        """Per account-region: instances that will run, skipped ones, and SendCommands."""
        groups: dict[str, list[PlannedTarget]] = defaultdict(list)
        for target in self.targets:
            groups[target.account_region].append(target)
        rows = []
        for key in sorted(groups):
            members = groups[key]
            running = sum(target.will_run for target in members)
            account_id, region = key.split(":", 1)
            rows.append(
                {
                    "account_id": account_id,
                    "region": region,
                    "instances": running,
                    "skipped": len(members) - running,
                    "send_commands": math.ceil(running / BATCH_SIZE),
                }
            )
        return rows


def comment_stamp(execution_id: int, batch_number: int) -> str:
    """What a batch's ``SendCommand`` carries in its comment, to find it again after a crash."""
    return f"pcm-ops execution {execution_id} batch {batch_number}"


def parse_limit(value: Any, what: str, *, minimum: int) -> tuple[str, int | None]:
    """``"10"`` or ``"10%"`` (or an int) → (canonical text, absolute value or ``None`` for a
    percentage). :raises InvalidInput: naming ``what``."""
    if isinstance(value, bool):
        raise InvalidInput([(what, "must be a number of instances or a percentage like '10%'")])
    text = str(value) if isinstance(value, int) else value
    match = _LIMIT.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            [(what, f"{value!r} is not a number of instances or a percentage like '10%'")]
        )
    number, percent = int(match.group(1)), bool(match.group(2))
    if percent and number > 100:
        raise InvalidInput([(what, "a percentage must be at most 100%")])
    if number < minimum:
        raise InvalidInput([(what, f"must be at least {minimum}")])
    return (f"{number}%" if percent else str(number)), (None if percent else number)


def absolute_limit(text: str, total: int, *, minimum: int) -> int:
    """A limit from :func:`parse_limit` as a number of instances out of ``total``."""
    if text.endswith("%"):
        return max(minimum, math.floor(total * int(text[:-1]) / 100))
    return int(text)


def _optional_text(
    problems: list[tuple[str, str]], name: str, value: Any, pattern: re.Pattern[str], hint: str
) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        problems.append((name, hint))
        return None
    return value


def _timeout(
    problems: list[tuple[str, str]], name: str, value: Any, bounds: tuple[int, int], default: int
) -> int:
    if value is None:
        return default
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append((name, f"must be a whole number of seconds from {low} to {high}"))
        return default
    if not low <= value <= high:
        problems.append((name, f"{value} is out of range: give {low} to {high} seconds"))
        return default
    return value


async def _version_of(
    session: AsyncSession, script_id: Any, number: Any
) -> tuple[AwsSrScript, AwsSrScriptVersion]:
    if isinstance(script_id, bool) or not isinstance(script_id, int) or script_id < 1:
        raise InvalidInput([("script_id", "must be the id of a script (a positive integer)")])
    script = await session.get(AwsSrScript, script_id)
    if script is None:
        raise InvalidInput([("script_id", f"there is no script {script_id}")])
    if script.archived:
        raise InvalidInput(
            [("script_id", f"script {script.name!r} is archived; unarchive it to run it")]
        )
    if number is None:
        number = script.current_version
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise InvalidInput([("script_version", "must be a version number (a positive integer)")])
    version = (
        await session.exec(
            select(AwsSrScriptVersion).where(
                AwsSrScriptVersion.script_id == script_id, AwsSrScriptVersion.number == number
            )
        )
    ).first()
    if version is None:
        raise InvalidInput(
            [
                (
                    "script_version",
                    f"script {script.name!r} has no version {number}; its versions are 1 "
                    f"to {script.current_version}",
                )
            ]
        )
    return script, version


async def _registered_accounts(session: AsyncSession) -> dict[str, set[str]]:
    """Account id → its enabled regions, from pcm-aws-common's registry."""
    from pcm_aws_common.models import AwsAccount

    rows = (await session.exec(select(AwsAccount.account_id, AwsAccount.regions))).all()
    return {account_id: set(regions or []) for account_id, regions in rows}


def _targets_kind(targets: Any) -> tuple[str, Any]:
    if not isinstance(targets, Mapping):
        raise InvalidInput(
            [("targets", f"must be an object with exactly one of: {', '.join(_TARGET_KIND_NAMES)}")]
        )
    given = [kind for kind in _TARGET_KIND_NAMES if targets.get(kind) not in (None, [], {})]
    unknown = [key for key in targets if key not in _TARGET_KIND_NAMES]
    if unknown:
        raise InvalidInput(
            [
                (f"targets.{key}", f"unknown; use one of: {', '.join(_TARGET_KIND_NAMES)}")
                for key in unknown
            ]
        )
    if len(given) != 1:
        raise InvalidInput(
            [
                (
                    "targets",
                    f"give exactly one of: {', '.join(_TARGET_KIND_NAMES)} (got "
                    f"{', '.join(given) or 'none'})",
                )
            ]
        )
    return given[0], targets[given[0]]


def _from_inventory(row: AwsSrInstance, reason: str = "") -> PlannedTarget:
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


async def _resolve(
    session: AsyncSession,
    registry: PluginRegistry | None,
    kind: str,
    value: Any,
    principal: Any,
    config: ScriptRunnerSettings,
    *,
    contexts: ContextFactory | None = None,
) -> tuple[list[PlannedTarget], dict[str, Any]]:
    """The targets of ``targets.<kind>``, and the spec to record."""
    where = f"targets.{kind}"
    if kind == "instance_ids":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidInput([(where, "must be a list of instance ids")])
        wrong = [item for item in value if not is_instance_id(item)]
        if wrong:
            raise InvalidInput([(where, f"not instance ids: {', '.join(wrong[:10])}")])
        ids = list(dict.fromkeys(value))
        if len(ids) > config.max_targets:
            raise InvalidInput([(where, f"at most {config.max_targets} instances per execution")])
        found = await instances_by_ids(session, ids)
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
        return [_from_inventory(found[item]) for item in ids], {"kind": kind, "instance_ids": ids}
    if kind == "instances":
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
        return await _known(session, given, config, where), {
            "kind": kind,
            "instances": [
                {"instance_id": t.instance_id, "account_id": t.account_id, "region": t.region}
                for t in given
            ],
        }
    if kind in ("filter", "saved_filter_id"):
        from pcm_aws_script_runner.services import inventory

        if kind == "saved_filter_id":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput([(where, "must be the id of a saved filter")])
            saved = await session.get(AwsSrSavedFilter, value)
            if saved is None:
                raise InvalidInput([(where, f"there is no saved filter {value}")])
            raw = saved.filter
            spec: dict[str, Any] = {"kind": kind, "saved_filter_id": value, "name": saved.name}
        else:
            raw = value
            spec = {"kind": kind}
        try:
            flt = inventory.InventoryFilter.model_validate(raw)
        except Exception as exc:  # pydantic's ValidationError: name each field
            raise InvalidInput(_pydantic_problems(where, exc)) from None
        spec["filter"] = flt.model_dump(mode="json", exclude_defaults=True)
        rows = await inventory.matching_instances(session, flt)
        if len(rows) > config.max_targets:
            raise InvalidInput(
                [(where, f"matches {len(rows)} instances; at most {config.max_targets} per run")]
            )
        return [_from_inventory(row) for row in rows], spec
    # A target source of another plugin.
    from pcm_aws_script_runner.services.targets import resolve_targets

    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
        raise InvalidInput([(where, "must be {name: <target source>, reference: <text>}")])
    if registry is None:
        raise InvalidInput([(where, "target sources are not available here")])
    try:
        resolved = await resolve_targets(
            registry,
            value["name"],
            value.get("reference", ""),
            principal,
            time_limit=config.target_resolution_timeout_seconds,
            contexts=contexts,
        )
    except InvalidInput as exc:  # the reference's problems, named within the request
        problems = [(f"{where}.{field}", message) for field, message in exc.problems]
        raise InvalidInput(problems) from None
    spec = {"kind": kind, "source": value["name"], "reference": value.get("reference", "")}
    return await _known(session, resolved, config, where), spec


async def _known(
    session: AsyncSession,
    given: Sequence[ResolvedTarget],
    config: ScriptRunnerSettings,
    where: str,
) -> list[PlannedTarget]:
    """Explicit targets, checked against the accounts registry and looked up in the
    inventory (an instance the inventory does not know is skipped with a reason)."""
    if len(given) > config.max_targets:
        raise InvalidInput([(where, f"at most {config.max_targets} instances per execution")])
    accounts = await _registered_accounts(session)
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
    found = await instances_by_ids(session, [target.instance_id for target in given])
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


async def instances_by_ids(
    session: AsyncSession, instance_ids: Sequence[str]
) -> dict[str, AwsSrInstance]:
    """Inventory rows by instance id (instance ids are unique across AWS)."""
    found: dict[str, AwsSrInstance] = {}
    ids = list(dict.fromkeys(instance_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await session.exec(
            select(AwsSrInstance).where(col(AwsSrInstance.instance_id).in_(chunk))
        )
        for row in rows:
            found[row.instance_id] = row
    return found


def _pydantic_problems(where: str, exc: Exception) -> list[tuple[str, str]]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [(where, str(exc))]
    problems = []
    for error in errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        problems.append((f"{where}.{location}" if location else where, error.get("msg", "")))
    return problems or [(where, str(exc))]


async def plan_execution(
    session: AsyncSession,
    draft: ExecutionDraft,
    config: ScriptRunnerSettings,
    *,
    registry: PluginRegistry | None = None,
    actor: Actor | None = None,
    run_checks: bool = True,
    contexts: ContextFactory | None = None,
) -> Plan:
    """Validate ``draft`` and resolve its targets: the preview, and the first half of a start.

    ``contexts`` gives the other plugins' pre-execution checks and target sources their
    ``context`` (:meth:`pcm_ops.context.PluginContext.request_factory` in a route).

    :raises InvalidInput: every problem found, each naming its field.
    :raises NotFound: a target source that no plugin supplies.
    :raises TargetResolutionError: a target source failed.
    """
    script, version = await _version_of(session, draft.script_id, draft.script_version)
    values = validate_run_parameters(version, draft.parameters or {})
    problems: list[tuple[str, str]] = []
    concurrency_text, errors_text = "", ""
    for name, raw, default, minimum in (
        ("max_concurrency", draft.max_concurrency, config.default_max_concurrency, 1),
        ("max_errors", draft.max_errors, config.default_max_errors, 0),
    ):
        try:
            text, _ = parse_limit(
                default if raw is None or raw == "" else raw, name, minimum=minimum
            )
        except InvalidInput as exc:
            problems.extend(exc.problems)
            text = "1"
        if name == "max_concurrency":
            concurrency_text = text
        else:
            errors_text = text
    delivery = _timeout(
        problems,
        "delivery_timeout_seconds",
        draft.delivery_timeout_seconds,
        DELIVERY_TIMEOUT_RANGE,
        DEFAULT_DELIVERY_TIMEOUT,
    )
    execution_timeout = _timeout(
        problems,
        "execution_timeout_seconds",
        draft.execution_timeout_seconds,
        EXECUTION_TIMEOUT_RANGE,
        DEFAULT_EXECUTION_TIMEOUT,
    )
    bucket = _optional_text(
        problems, "output_s3_bucket", draft.output_s3_bucket, _S3_BUCKET, "is not an S3 bucket name"
    )
    prefix = _optional_text(
        problems,
        "output_s3_prefix",
        draft.output_s3_prefix,
        _S3_PREFIX,
        "may hold letters, digits and !_.*'()/- (at most 500)",
    )
    if prefix and not bucket:
        problems.append(("output_s3_prefix", "give output_s3_bucket too"))
    log_group = _optional_text(
        problems,
        "cloudwatch_log_group",
        draft.cloudwatch_log_group,
        _LOG_GROUP,
        "is not a CloudWatch log group name",
    )
    comment = draft.comment if isinstance(draft.comment, str) else ""
    if not isinstance(draft.comment, str | None):
        problems.append(("comment", "must be text"))
    elif len(comment) > MAX_COMMENT_CHARS:
        problems.append(("comment", f"is longer than {MAX_COMMENT_CHARS} characters"))
    change = draft.change_reference or None
    if change is not None and (
        not isinstance(change, str) or len(change) > MAX_CHANGE_REFERENCE_CHARS
    ):
        problems.append(
            ("change_reference", f"must be text of at most {MAX_CHANGE_REFERENCE_CHARS}")
        )
        change = None
    kind, value = _targets_kind(draft.targets)
    if problems:
        raise InvalidInput(problems)
    principal = actor.principal if actor is not None else None
    targets, spec = await _resolve(
        session, registry, kind, value, principal, config, contexts=contexts
    )
    if not targets:
        raise InvalidInput([(f"targets.{kind}", "resolves to no instance")])
    secret_names = {spec_["name"] for spec_ in version.parameters if spec_.get("secret")}
    plan = Plan(
        script=script,
        version=version,
        values=values,
        shown_values=masked(version.parameters, values),
        secret_values={name: v for name, v in values.items() if name in secret_names},
        targets=targets,
        target_spec=spec,
        max_concurrency=concurrency_text,
        max_errors=errors_text,
        concurrency=0,
        error_budget=0,
        delivery_timeout_seconds=delivery,
        execution_timeout_seconds=execution_timeout,
        output_s3_bucket=bucket,
        output_s3_prefix=prefix,
        cloudwatch_log_group=log_group,
        comment=comment,
        change_reference=change,
    )
    total = len(plan.runnable)
    plan.concurrency = absolute_limit(concurrency_text, total, minimum=1)
    plan.error_budget = absolute_limit(errors_text, total, minimum=0)
    if run_checks and registry is not None:
        plan.checks = await run_pre_execution_checks(
            registry,
            _check_request(plan, actor),
            principal,
            time_limit=config.pre_execution_check_timeout_seconds,
            contexts=contexts,
        )
    return plan


def _check_request(plan: Plan, actor: Actor | None) -> ExecutionRequest:
    spec = plan.target_spec
    return ExecutionRequest(
        script_id=plan.script.id or 0,
        script_name=plan.script.name,
        script_version=plan.version.number,
        script_sha256=plan.version.sha256,
        language=plan.version.language,
        parameters=dict(plan.shown_values),
        targets=tuple(
            ResolvedTarget(t.instance_id, t.account_id, t.region, t.name) for t in plan.runnable
        ),
        requested_by=actor.name if actor is not None else "",
        target_source=spec.get("source"),
        target_reference=spec.get("reference"),
        change_reference=plan.change_reference,
        comment=plan.comment,
    )


async def start_execution(
    session: AsyncSession,
    draft: ExecutionDraft,
    config: ScriptRunnerSettings,
    actor: Actor,
    *,
    registry: PluginRegistry | None = None,
    rerun_of: int | None = None,
    rerun_kind: RerunKind | None = None,
    contexts: ContextFactory | None = None,
) -> AwsSrExecution:
    """Plan, check and record an execution (not yet enqueued: commit, then :func:`launch`).

    :raises InvalidInput: a field is wrong, or no target is SSM-online.
    :raises Blocked: a pre-execution check refused the run (audited as a failure).
    """
    plan = await plan_execution(
        session, draft, config, registry=registry, actor=actor, contexts=contexts
    )
    if not plan.runnable:
        raise InvalidInput(
            [
                (
                    "targets",
                    f"none of the {len(plan.targets)} instances can run it: "
                    f"{plan.targets[0].skip_reason} (and so on)",
                )
            ]
        )
    details = _audit_details(plan)
    if plan.checks is not None and not plan.checks.passed:
        await audit.record(
            session,
            actor.request,
            EXECUTION_START_ACTION,
            object_type="script",
            object_id=str(plan.script.id),
            outcome=audit.FAILURE,
            details={**details, "blocked": plan.checks.reason()},
            principal=actor.principal,
            actor=actor.name,
        )
        await session.commit()
        raise Blocked(plan.checks)
    execution = AwsSrExecution(
        script_id=plan.script.id or 0,
        script_version=plan.version.number,
        script_name=plan.script.name,
        script_sha256=plan.version.sha256,
        language=plan.version.language,
        document_name=LANGUAGES[plan.version.language],
        parameters=plan.shown_values,
        secret_parameters=json.dumps(plan.secret_values) if plan.secret_values else None,
        target_spec=plan.target_spec,
        max_concurrency=plan.max_concurrency,
        max_errors=plan.max_errors,
        delivery_timeout_seconds=plan.delivery_timeout_seconds,
        execution_timeout_seconds=plan.execution_timeout_seconds,
        output_s3_bucket=plan.output_s3_bucket,
        output_s3_prefix=plan.output_s3_prefix,
        cloudwatch_log_group=plan.cloudwatch_log_group,
        comment=plan.comment,
        change_reference=plan.change_reference,
        status=ExecutionStatus.QUEUED,
        target_count=len(plan.targets),
        counts=dict(Counter(_initial_status(t) for t in plan.targets)),
        account_regions=sorted({t.account_region for t in plan.runnable}),
        requested_by=actor.name,
        requested_by_user_id=getattr(actor.principal, "user_id", None),
        rerun_of=rerun_of,
        rerun_kind=rerun_kind,
    )
    session.add(execution)
    await session.flush()
    assert execution.id is not None
    groups: dict[tuple[str, str], list[PlannedTarget]] = defaultdict(list)
    for target in plan.runnable:
        groups[(target.account_id, target.region)].append(target)
    numbers: dict[str, int] = {}
    number = 0
    # A batch never holds more instances than the execution may run at once.
    size = min(BATCH_SIZE, plan.concurrency)
    for account_id, region in sorted(groups):
        members = groups[(account_id, region)]
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            number += 1
            session.add(
                AwsSrExecutionBatch(
                    execution_id=execution.id,
                    number=number,
                    account_id=account_id,
                    region=region,
                    instance_ids=[t.instance_id for t in chunk],
                )
            )
            numbers.update({t.instance_id: number for t in chunk})
    # One multi-row INSERT, not an ORM object per instance: building and validating 2,000
    # SQLModel objects took most of the time of starting a large execution.
    await session.flush()
    now = utcnow()
    rows = [
        {
            "execution_id": execution.id,
            "instance_id": target.instance_id,
            "account_id": target.account_id,
            "region": target.region,
            "name": target.name,
            "batch_number": numbers.get(target.instance_id),
            "status": _initial_status(target),
            "status_details": "",
            "skip_reason": target.skip_reason,
            "exit_code": None,
            "stdout": "",
            "stderr": "",
            "stdout_truncated": False,
            "stderr_truncated": False,
            "output_url": None,
            "started_at": None,
            "ended_at": None,
            "updated_at": now,
        }
        for target in plan.targets
    ]
    if rows:
        await session.exec(insert(AwsSrExecutionTarget), params=rows)
    await audit.record(
        session,
        actor.request,
        EXECUTION_START_ACTION,
        object_type="execution",
        object_id=str(execution.id),
        details=details,
        principal=actor.principal,
        actor=actor.name,
    )
    await session.flush()
    return execution


def _initial_status(target: PlannedTarget) -> str:
    return (InstanceStatus.PENDING if target.will_run else InstanceStatus.SKIPPED).value


def _audit_details(plan: Plan) -> dict[str, Any]:
    return {
        "script_id": plan.script.id,
        "script": plan.script.name,
        "script_version": plan.version.number,
        "script_sha256": plan.version.sha256,
        "parameters": plan.shown_values,
        "targets": plan.target_spec,
        "instances": [t.instance_id for t in plan.runnable],
        "skipped": len(plan.skipped),
        "max_concurrency": plan.max_concurrency,
        "max_errors": plan.max_errors,
        "comment": plan.comment,
        "change_reference": plan.change_reference,
    }


async def launch(
    session: AsyncSession, execution: AwsSrExecution, *, settings: Settings | None = None
) -> str:
    """Commit ``session`` (the job must find the execution and its targets), enqueue the
    execution's workflow and record its job id (idempotent: the job's key is the execution
    id).

    In a server or a worker the running job engine enqueues it. Elsewhere (the CLI), give
    ``settings``: the job is written to the jobs database, for a server or worker to run.
    """
    from pcm_ops.jobs import enqueue_async

    await session.commit()
    key = f"execution-{execution.id}"
    job_id = await enqueue_async(
        EXECUTION_WORKFLOW, execution.id, queue=EXECUTIONS_QUEUE, key=key, settings=settings
    )
    execution.job_id = job_id
    session.add(execution)
    await session.commit()
    return job_id


# -------------------------------------------------------------------------------------------
# Reading
# -------------------------------------------------------------------------------------------


async def get_execution(session: AsyncSession, execution_id: int) -> AwsSrExecution:
    execution = await session.get(AwsSrExecution, execution_id)
    if execution is None:
        raise NotFound(f"there is no execution {execution_id}")
    return execution


@dataclass
class ExecutionQuery:
    """History filters; every one optional."""

    script_id: int | None = None
    requested_by: str | None = None
    status: str | None = None
    account_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_executions(
    session: AsyncSession, query: ExecutionQuery, *, limit: int = 50, offset: int = 0
) -> tuple[list[AwsSrExecution], int]:
    """Executions, newest first, and how many match."""
    statement = select(AwsSrExecution)
    if query.script_id is not None:
        statement = statement.where(AwsSrExecution.script_id == query.script_id)
    if query.requested_by:
        statement = statement.where(AwsSrExecution.requested_by == query.requested_by)
    if query.status:
        statement = statement.where(AwsSrExecution.status == query.status)
    if query.created_after is not None:
        statement = statement.where(col(AwsSrExecution.created_at) >= query.created_after)
    if query.created_before is not None:
        statement = statement.where(col(AwsSrExecution.created_at) < query.created_before)
    if query.account_id:
        reaching = select(AwsSrExecutionTarget.execution_id).where(
            AwsSrExecutionTarget.account_id == query.account_id
        )
        statement = statement.where(col(AwsSrExecution.id).in_(reaching))
    total = (await session.exec(select(func.count()).select_from(statement.subquery()))).one()
    rows = (
        await session.exec(
            statement.order_by(col(AwsSrExecution.id).desc()).limit(limit).offset(offset)
        )
    ).all()
    return list(rows), int(total)


async def targets_of(
    session: AsyncSession,
    execution_id: int,
    *,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AwsSrExecutionTarget]:
    statement = select(AwsSrExecutionTarget).where(
        AwsSrExecutionTarget.execution_id == execution_id
    )
    if status:
        statement = statement.where(AwsSrExecutionTarget.status == status)
    statement = statement.order_by(
        col(AwsSrExecutionTarget.account_id),
        col(AwsSrExecutionTarget.region),
        col(AwsSrExecutionTarget.instance_id),
    ).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.exec(statement)).all())


async def batches_of(session: AsyncSession, execution_id: int) -> list[AwsSrExecutionBatch]:
    statement = (
        select(AwsSrExecutionBatch)
        .where(AwsSrExecutionBatch.execution_id == execution_id)
        .order_by(col(AwsSrExecutionBatch.number))
    )
    return list((await session.exec(statement)).all())


# -------------------------------------------------------------------------------------------
# Acting on one
# -------------------------------------------------------------------------------------------


async def request_cancel(session: AsyncSession, execution_id: int, actor: Actor) -> AwsSrExecution:
    """Ask the execution's workflow to cancel: it stops sending, and sends CancelCommand for
    every batch still running (durably: a restart carries on with it).

    :raises NotFound: no such execution. :raises Conflict: it has already finished.
    """
    execution = await get_execution(session, execution_id)
    if execution.status in FINISHED:
        raise Conflict(f"execution {execution_id} has already {execution.status}")
    if execution.cancel_requested_at is None:
        await session.exec(
            update(AwsSrExecution)
            .where(col(AwsSrExecution.id) == execution_id)
            .values(
                cancel_requested_at=utcnow(),
                cancel_requested_by=actor.name,
                status=ExecutionStatus.CANCELLING,
            )
        )
        await audit.record(
            session,
            actor.request,
            EXECUTION_CANCEL_ACTION,
            object_type="execution",
            object_id=str(execution_id),
            details={"script": execution.script_name},
            principal=actor.principal,
            actor=actor.name,
        )
        await session.flush()
        await session.refresh(execution)
    return execution


def _draft_of(execution: AwsSrExecution, targets: Mapping[str, Any]) -> ExecutionDraft:
    secret = json.loads(execution.secret_parameters) if execution.secret_parameters else {}
    parameters = {**execution.parameters, **secret}
    return ExecutionDraft(
        script_id=execution.script_id,
        script_version=execution.script_version,
        parameters=parameters,
        targets=targets,
        max_concurrency=execution.max_concurrency,
        max_errors=execution.max_errors,
        delivery_timeout_seconds=execution.delivery_timeout_seconds,
        execution_timeout_seconds=execution.execution_timeout_seconds,
        output_s3_bucket=execution.output_s3_bucket,
        output_s3_prefix=execution.output_s3_prefix,
        cloudwatch_log_group=execution.cloudwatch_log_group,
        comment=execution.comment,
        change_reference=execution.change_reference,
    )


async def clone_draft(session: AsyncSession, execution_id: int) -> ExecutionDraft:
    """A new run like ``execution_id``: same version, parameters (secrets included, kept
    server-side), targets as they were chosen (a filter is resolved again) and options."""
    execution = await get_execution(session, execution_id)
    spec = dict(execution.target_spec)
    kind = spec.pop("kind", "instance_ids")
    spec.pop("name", None)
    if kind == "source":
        targets: dict[str, Any] = {
            "source": {"name": spec.get("source"), "reference": spec.get("reference", "")}
        }
    elif kind in ("filter", "saved_filter_id") and kind in spec:
        targets = {kind: spec[kind]}
    else:
        targets = {kind: spec.get(kind, [])}
    return _draft_of(execution, targets)


async def rerun_draft(session: AsyncSession, execution_id: int) -> ExecutionDraft:
    """A new run of ``execution_id`` on its failed instances only (Failed, TimedOut,
    Undeliverable, Terminated, and those cancelled or never sent).

    :raises Conflict: it is still running, or nothing failed.
    """
    execution = await get_execution(session, execution_id)
    if execution.status not in FINISHED:
        raise Conflict(f"execution {execution_id} is still {execution.status}; wait or cancel it")
    failed = [
        target
        for target in await targets_of(session, execution_id)
        if target.status in RERUN_STATUSES
    ]
    if not failed:
        raise Conflict(f"execution {execution_id} has no failed instance to rerun")
    return _draft_of(
        execution,
        {
            "instances": [
                {"instance_id": t.instance_id, "account_id": t.account_id, "region": t.region}
                for t in failed
            ]
        },
    )
