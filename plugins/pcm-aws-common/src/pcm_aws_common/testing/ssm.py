"""moto's SSM backend, extended with what PCM-Ops needs and moto lacks.

moto 5 answers ``SendCommand``, ``ListCommands`` and ``GetCommandInvocation``; it has no
``ListCommandInvocations``, ``CancelCommand`` or ``DescribeInstanceInformation``, marks
every invocation ``Success`` at once, and runs a command sent with ``InstanceIds`` on every
instance of the region (it treats the empty ``Targets`` as "no filter"). This module adds
the three operations to a subclass of moto's response class, corrects the targeting after
moto's ``SendCommand`` has run, and keeps per-invocation outcomes that tests set:

    from pcm_aws_common.testing import InvocationOutcome

    moto_aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))     # every new one
    moto_aws.ssm.set_invocation(command_id, instance_id,
                                InvocationOutcome("Failed", output="boom", exit_code=2))

Outcomes can also unfold in time, as on a real fleet: a :class:`ScheduledOutcome` reports
``InProgress`` for ``after`` seconds from SendCommand and then its final outcome (checked
whenever the server answers an SSM request, or a control reads an outcome). An *outcome
rule* (:meth:`SsmControl.set_outcome_rule`) chooses the outcome of each new invocation from
what it knows about it (:class:`InvocationContext`: the instance's tags, the command text,
its timeouts); :class:`~pcm_aws_common.testing.outcomes.TagOutcomes` is the rule of demo
mode. An outcome set for one instance wins over the rule, and the rule over the default.

:func:`install` makes moto's server route SSM requests to :class:`PcmSsmResponse`; the
server of :mod:`pcm_aws_common.testing.server` calls it before it starts.

Limits follow AWS's: at most 50 instance ids per ``SendCommand`` and 50 results per
``ListCommandInvocations`` page; ``GetCommandInvocation`` returns the first 24,000
characters of the output and ``ListCommandInvocations`` (with details) the first 2,500.
"""

from __future__ import annotations

import calendar
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeAlias

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ssm.exceptions import SSMException, ValidationException
from moto.ssm.responses import SimpleSystemManagerResponse

MAX_INSTANCE_IDS = 50
MAX_RESULTS = 50
GET_OUTPUT_LIMIT = 24_000
LIST_OUTPUT_LIMIT = 2_500
ERROR_OUTPUT_LIMIT = 8_000
#: What separates standard output from standard error in ListCommandInvocations' ``Output``.
ERROR_MARKER = "----------ERROR-------"

#: Invocation statuses after which nothing changes any more.
TERMINAL = frozenset({"Success", "Failed", "Cancelled", "TimedOut", "Undeliverable", "Terminated"})
RUNNING = frozenset({"Pending", "InProgress", "Delayed", "Cancelling"})
STATUSES = TERMINAL | RUNNING

_DETAILS = {
    "Cancelled": "Canceled",
    "TimedOut": "ExecutionTimedOut",
    "Cancelling": "Cancelling",
}


@dataclass(frozen=True)
class InvocationOutcome:
    """What one command invocation reports.

    Attributes:
        status: ``Success``, ``Failed``, ``InProgress``, ``Pending``, ``Delayed``,
            ``Cancelled``, ``Cancelling``, ``TimedOut``, ``Undeliverable`` or ``Terminated``.
        output: the whole standard output (responses truncate it as AWS does).
        error: the whole standard error.
        exit_code: the script's exit code; default 0 for ``Success``, 1 for ``Failed``,
            -1 while running or when the script never ran.
        status_details: AWS's ``StatusDetails``; default derived from ``status``.
    """

    status: str = "Success"
    output: str = ""
    error: str = ""
    exit_code: int | None = None
    status_details: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"unknown invocation status {self.status!r}; use one of {sorted(STATUSES)}"
            )

    @property
    def response_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return {"Success": 0, "Failed": 1}.get(self.status, -1)

    @property
    def details(self) -> str:
        return self.status_details or _DETAILS.get(self.status, self.status)


@dataclass(frozen=True)
class ScheduledOutcome:
    """An invocation that reports ``running`` for ``after`` seconds from SendCommand, then
    ``outcome``.

    Attributes:
        outcome: the final outcome.
        after: seconds until it is reached (0: at once).
        running: what the invocation reports meanwhile; ``InProgress`` by default (use
            ``Pending`` or ``Delayed`` for an instance that has not picked the command up).
    """

    outcome: InvocationOutcome
    after: float = 0.0
    running: InvocationOutcome = field(default_factory=lambda: InvocationOutcome("InProgress"))

    def __post_init__(self) -> None:
        if self.after < 0:
            raise ValueError("a scheduled outcome cannot be in the past (after < 0)")


@dataclass(frozen=True)
class InvocationContext:
    """What an outcome rule knows about one invocation when SendCommand creates it.

    Attributes:
        command_id, instance_id, account_id, region: which invocation.
        document_name: ``AWS-RunShellScript``, ``AWS-RunPowerShellScript``, ...
        commands: the ``commands`` parameter, lines joined with newlines.
        execution_timeout: the ``executionTimeout`` parameter in seconds, if given.
        delivery_timeout: SendCommand's ``TimeoutSeconds``.
        tags: the instance's EC2 tags.
        platform: ``Linux`` or ``Windows``.
        ping_status: what DescribeInstanceInformation says (``Online``, ``ConnectionLost``).
    """

    command_id: str
    instance_id: str
    account_id: str
    region: str
    document_name: str
    commands: str
    execution_timeout: int | None
    delivery_timeout: int
    tags: Mapping[str, str]
    platform: str = "Linux"
    ping_status: str = "Online"

    @property
    def name(self) -> str:
        """The instance's ``Name`` tag, or its id."""
        return self.tags.get("Name") or self.instance_id


AnyOutcome: TypeAlias = InvocationOutcome | ScheduledOutcome
#: Chooses the outcome of a new invocation; ``None`` leaves it to the default outcome.
OutcomeRule: TypeAlias = Callable[[InvocationContext], AnyOutcome | None]


@dataclass
class _Pending:
    """A scheduled outcome not reached yet."""

    due: float
    command: Any
    invocation: dict[str, Any]
    outcome: InvocationOutcome


class _State:
    """Outcomes and instance facts that tests set; shared by every server in the process
    (moto's backends are process-wide too)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.default: AnyOutcome = InvocationOutcome()
            self.per_instance: dict[str, AnyOutcome] = {}
            self.rule: OutcomeRule | None = None
            self.unmanaged: set[str] = set()
            self.ping_status: dict[str, str] = {}
            self.outputs: dict[tuple[str, str], tuple[str, str]] = {}
            self.pending: dict[tuple[str, str], _Pending] = {}


STATE = _State()


# -- moto objects ------------------------------------------------------------------------------


def _ssm_backends() -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends


def _ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


def _all_commands() -> list[tuple[str, str, Any]]:
    """``(account, region, command)`` for every command moto holds."""
    found = []
    for account_id, regions in list(_ssm_backends().items()):
        for region, backend in list(regions.items()):
            for command in backend.list_commands(None, None):
                found.append((account_id, region, command))
    return found


def find_command(command_id: str) -> Any:
    for _, _, command in _all_commands():
        if command.command_id == command_id:
            return command
    raise KeyError(f"no SSM command {command_id!r} in moto")


def _running_instances(
    account_id: str, region: str, filters: dict[str, Any] | None = None
) -> list[Any]:
    backend = _ec2_backend(account_id, region)
    return [
        instance
        for reservation in backend.all_reservations(filters=filters or None)
        for instance in reservation.instances
        if instance.state == "running"
    ]


def _managed(account_id: str, region: str, filters: dict[str, Any] | None = None) -> list[Any]:
    with STATE.lock:
        unmanaged = set(STATE.unmanaged)
    return [i for i in _running_instances(account_id, region, filters) if i.id not in unmanaged]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def apply_outcome(command: Any, invocation: dict[str, Any], outcome: InvocationOutcome) -> None:
    """Make one of moto's invocation records report ``outcome`` (from now on: an outcome
    scheduled for it before is dropped)."""
    with STATE.lock:
        STATE.pending.pop((command.command_id, invocation["InstanceId"]), None)
        invocation["Status"] = outcome.status
        invocation["StatusDetails"] = outcome.details
        invocation["ResponseCode"] = outcome.response_code
        invocation["StandardOutputContent"] = outcome.output[:GET_OUTPUT_LIMIT]
        invocation["StandardErrorContent"] = outcome.error[:ERROR_OUTPUT_LIMIT]
        invocation["ExecutionEndDateTime"] = _now() if outcome.status in TERMINAL else ""
        STATE.outputs[(command.command_id, invocation["InstanceId"])] = (
            outcome.output,
            outcome.error,
        )
        refresh_command(command)


def schedule_outcome(
    command: Any, invocation: dict[str, Any], outcome: AnyOutcome, now: float | None = None
) -> None:
    """Make an invocation report ``outcome``: at once, or its running status until its time."""
    if isinstance(outcome, InvocationOutcome) or outcome.after <= 0:
        final = outcome if isinstance(outcome, InvocationOutcome) else outcome.outcome
        apply_outcome(command, invocation, final)
        return
    with STATE.lock:
        apply_outcome(command, invocation, outcome.running)
        due = (time.monotonic() if now is None else now) + outcome.after
        STATE.pending[(command.command_id, invocation["InstanceId"])] = _Pending(
            due, command, invocation, outcome.outcome
        )


def advance() -> None:
    """Bring every invocation whose scheduled outcome is due to that outcome."""
    now = time.monotonic()
    with STATE.lock:
        due = [pending for pending in STATE.pending.values() if pending.due <= now]
        for pending in sorted(due, key=lambda item: item.due):
            apply_outcome(pending.command, pending.invocation, pending.outcome)


def refresh_command(command: Any) -> None:
    """Derive the command's status and counts from its invocations, as AWS does."""
    statuses = [invocation["Status"] for invocation in command.invocations]
    if any(status in RUNNING for status in statuses):
        command.status = "Pending" if all(s == "Pending" for s in statuses) else "InProgress"
    elif not statuses or all(status == "Success" for status in statuses):
        command.status = "Success"
    elif any(status in ("Failed", "Undeliverable", "Terminated") for status in statuses):
        command.status = "Failed"
    elif "TimedOut" in statuses:
        command.status = "TimedOut"
    else:
        command.status = "Cancelled"
    command.status_details = command.status
    command.completed_count = sum(status in TERMINAL for status in statuses)
    command.error_count = sum(
        status in ("Failed", "TimedOut", "Undeliverable", "Terminated") for status in statuses
    )
    command.target_count = len(statuses)


def _plugin_name(document_name: str | None) -> str:
    if document_name == "AWS-RunPowerShellScript":
        return "aws:runPowerShellScript"
    return "aws:runShellScript"


# -- the response class ------------------------------------------------------------------------


class PcmSsmResponse(SimpleSystemManagerResponse):
    """moto's SSM responses, with the operations and corrections described above."""

    _pcm_overrides: dict[str, Any] | None = None

    def call_action(self) -> Any:
        advance()  # every answer sees the scheduled outcomes that are due by now
        return super().call_action()

    def _get_param(self, param_name: str, if_none: Any = None) -> Any:
        overrides = self._pcm_overrides
        if overrides is not None and param_name in overrides:
            return overrides[param_name]
        return super()._get_param(param_name, if_none)

    # SendCommand --------------------------------------------------------------------------

    # moto's call_action takes an action's answer as an ActionResult or as (status, headers,
    # body); moto's own send_command returns the former.
    def send_command(self) -> JsonAnswer:  # type: ignore[override]
        instance_ids = list(self._get_param("InstanceIds") or [])
        targets = list(self._get_param("Targets") or [])
        if not instance_ids and not targets:
            raise ValidationException("Either InstanceIds or Targets must be specified")
        if len(instance_ids) > MAX_INSTANCE_IDS:
            raise ValidationException(
                f"1 validation error detected: Value at 'instanceIds' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_INSTANCE_IDS}"
            )
        resolved = self._resolve_targets(instance_ids, targets)
        # moto's SendCommand builds the command from the parameters; it gets the resolved
        # ids and no targets, and the instances it then adds from "all of the region" are
        # taken away again below.
        self._pcm_overrides = {"InstanceIds": list(resolved), "Targets": []}
        try:
            result = super().send_command()
        finally:
            self._pcm_overrides = None
        command_id = result.result["Command"]["CommandId"]  # type: ignore[index]
        command = self.ssm_backend.get_command_by_id(command_id)
        command.instance_ids = list(resolved)
        command.targets = targets
        plugin = _plugin_name(command.document_name)
        command.invocations = [command.invocation_response(i, plugin) for i in resolved]
        now = time.monotonic()
        for invocation in command.invocations:
            outcome = self._outcome_for(command, invocation["InstanceId"])
            schedule_outcome(command, invocation, outcome, now)
        refresh_command(command)
        return json_answer({"Command": command.response_object()})

    def _outcome_for(self, command: Any, instance_id: str) -> AnyOutcome:
        """The instance's own outcome, else the rule's, else the default."""
        with STATE.lock:
            own, rule, default = STATE.per_instance.get(instance_id), STATE.rule, STATE.default
        if own is not None:
            return own
        if rule is not None:
            chosen = rule(_context(command, instance_id, self.current_account, self.region))
            if chosen is not None:
                return chosen
        return default

    def _resolve_targets(self, instance_ids: list[str], targets: list[dict[str, Any]]) -> list[str]:
        account, region = self.current_account, self.region
        managed = {instance.id for instance in _managed(account, region)}
        resolved = list(instance_ids)
        for target in targets:
            key, values = target.get("Key", ""), list(target.get("Values", []))
            if key == "InstanceIds":
                resolved.extend(values)
            elif key.startswith("tag:") or key == "tag-key":
                resolved.extend(
                    instance.id for instance in _managed(account, region, {key: values})
                )
            else:
                raise ValidationException(
                    f"target key {key!r} is not supported here (the moto extension supports "
                    "InstanceIds, tag:<key> and tag-key)"
                )
        resolved = list(dict.fromkeys(resolved))
        invalid = [instance_id for instance_id in resolved if instance_id not in managed]
        if invalid:
            raise SSMException(
                "InvalidInstanceId",
                f"Instances [[{', '.join(invalid)}]] not in a valid state for account {account}",
            )
        return resolved

    # ListCommandInvocations ---------------------------------------------------------------

    def list_command_invocations(self) -> JsonAnswer:
        command_id = self._get_param("CommandId")
        instance_id = self._get_param("InstanceId")
        max_results = self._get_int_param("MaxResults", MAX_RESULTS)
        if not 1 <= max_results <= MAX_RESULTS:
            raise ValidationException(
                "1 validation error detected: Value at 'maxResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {MAX_RESULTS}"
            )
        details = bool(self._get_bool_param("Details", False))
        commands = self.ssm_backend.list_commands(command_id, None)
        rows = [
            (command, invocation)
            for command in commands
            for invocation in command.invocations
            if instance_id is None or invocation["InstanceId"] == instance_id
        ]
        rows = [row for row in rows if _matches(row, self._get_param("Filters") or [])]
        start = int(self._get_param("NextToken") or 0)
        page = rows[start : start + max_results]
        result: dict[str, Any] = {
            "CommandInvocations": [_invocation_summary(c, i, details) for c, i in page]
        }
        if start + max_results < len(rows):
            result["NextToken"] = str(start + max_results)
        return json_answer(result)

    # CancelCommand ------------------------------------------------------------------------

    def cancel_command(self) -> ActionResult:
        command = self.ssm_backend.get_command_by_id(self._get_param("CommandId"))
        chosen = set(self._get_param("InstanceIds") or [])
        for invocation in command.invocations:
            if chosen and invocation["InstanceId"] not in chosen:
                continue
            if invocation["Status"] in TERMINAL:
                continue
            output, error = STATE.outputs.get(
                (command.command_id, invocation["InstanceId"]), ("", "")
            )
            apply_outcome(command, invocation, InvocationOutcome("Cancelled", output, error))
        return ActionResult({})

    # DescribeInstanceInformation ----------------------------------------------------------

    def describe_instance_information(self) -> JsonAnswer:
        max_results = self._get_int_param("MaxResults", MAX_RESULTS)
        if not 5 <= max_results <= MAX_RESULTS:
            raise ValidationException(
                "1 validation error detected: Value at 'maxResults' failed to satisfy "
                f"constraint: Member must have value between 5 and {MAX_RESULTS}"
            )
        filters: dict[str, list[str]] = {}
        for item in self._get_param("InstanceInformationFilterList") or []:
            filters[item["key"]] = list(item.get("valueSet", []))
        for item in self._get_param("Filters") or []:
            filters[item["Key"]] = list(item.get("Values", []))
        ec2_filters = {
            key: values
            for key, values in filters.items()
            if key.startswith("tag:") or key == "tag-key"
        }
        instances = _managed(self.current_account, self.region, ec2_filters)
        with STATE.lock:
            ping = dict(STATE.ping_status)
        described = [_instance_information(instance, ping) for instance in instances]
        for key, values in filters.items():
            field = {
                "InstanceIds": "InstanceId",
                "PingStatus": "PingStatus",
                "PlatformTypes": "PlatformType",
                "ResourceType": "ResourceType",
                "AgentVersion": "AgentVersion",
            }.get(key)
            if field is None:
                if key in ec2_filters:
                    continue
                raise SSMException(
                    "InvalidInstanceInformationFilterValue",
                    f"filter key {key!r} is not supported here",
                )
            described = [item for item in described if item[field] in values]
        described.sort(key=lambda item: item["InstanceId"])
        start = int(self._get_param("NextToken") or 0)
        result: dict[str, Any] = {"InstanceInformationList": described[start : start + max_results]}
        if start + max_results < len(described):
            result["NextToken"] = str(start + max_results)
        return json_answer(result)


#: What an operation answered with :func:`json_answer` returns to moto: status, headers,
#: body (moto's ``call_action`` takes the three as they are).
JsonAnswer: TypeAlias = tuple[int, dict[str, Any], str]


def json_answer(result: dict[str, Any]) -> JsonAnswer:
    """``result`` as the JSON answer of an SSM operation, written directly.

    moto's response serializer walks the service model for every value it writes: for a
    ``ListCommandInvocations`` page of 50 invocations with details that was most of the fake's
    CPU in a fan-out, and the fake runs on the same CPUs as the application measured beside
    it (real AWS does its work elsewhere). The values of the operations answered here are
    already of their output shape's types and names; a datetime becomes epoch seconds with
    milliseconds, as moto's serializer (and AWS) write it. ``test_moto_ssm`` checks that the
    answer parses to what moto's serializer gives.
    """
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(result, default=_epoch)


def _epoch(value: Any) -> int | float:
    """A datetime (naive: UTC) as moto's serializer writes a JSON timestamp."""
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    moment = calendar.timegm(value.utctimetuple() if value.tzinfo else value.timetuple())
    return moment + (value.microsecond // 1000) / 1000.0 if value.microsecond else moment


def _matches(row: tuple[Any, dict[str, Any]], filters: list[dict[str, str]]) -> bool:
    command, invocation = row
    for item in filters:
        key, value = item.get("key"), item.get("value", "")
        if key == "Status" and invocation["Status"] != value:
            return False
        if key == "DocumentName" and command.document_name != value:
            return False
        if key in ("InvokedAfter", "InvokedBefore"):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            requested = command.requested_date_time
            if requested.tzinfo is None:
                requested = requested.replace(tzinfo=UTC)
            if key == "InvokedAfter" and requested < moment:
                return False
            if key == "InvokedBefore" and requested > moment:
                return False
    return True


def _context(command: Any, instance_id: str, account_id: str, region: str) -> InvocationContext:
    parameters = command.parameters or {}
    lines = parameters.get("commands") or []
    timeout = (parameters.get("executionTimeout") or [None])[0]
    tags: dict[str, str] = {}
    platform = "Linux"
    try:
        instance = _ec2_backend(account_id, region).get_instance(instance_id)
    except InvalidInstanceIdError:
        instance = None
    if instance is not None:
        tags = {tag["key"]: tag["value"] for tag in instance.get_tags()}
        platform = "Windows" if (instance.platform or "").lower() == "windows" else "Linux"
    with STATE.lock:
        ping = STATE.ping_status.get(instance_id, "Online")
    return InvocationContext(
        command_id=command.command_id,
        instance_id=instance_id,
        account_id=account_id,
        region=region,
        document_name=command.document_name,
        commands="\n".join(str(line) for line in lines),
        execution_timeout=int(timeout) if timeout and str(timeout).isdigit() else None,
        delivery_timeout=int(command.timeout_seconds),
        tags=tags,
        platform=platform,
        ping_status=ping,
    )


def combined_output(output: str, error: str) -> str:
    """Standard output and error as one text, the way ListCommandInvocations shows them."""
    return f"{output}\n{ERROR_MARKER}\n{error}" if error else output


def _invocation_summary(command: Any, invocation: dict[str, Any], details: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "CommandId": command.command_id,
        "InstanceId": invocation["InstanceId"],
        "InstanceName": "",
        "Comment": command.comment,
        "DocumentName": command.document_name,
        "DocumentVersion": "$DEFAULT",
        "RequestedDateTime": command.requested_date_time,
        "Status": invocation["Status"],
        "StatusDetails": invocation["StatusDetails"],
        "TraceOutput": "",
        "StandardOutputUrl": "",
        "StandardErrorUrl": "",
        "CommandPlugins": [],
        "ServiceRole": command.service_role_arn,
        "NotificationConfig": command.notification_config,
    }
    if details:
        output, error = STATE.outputs.get((command.command_id, invocation["InstanceId"]), ("", ""))
        finished = invocation.get("ExecutionEndDateTime") or None
        plugin: dict[str, Any] = {
            "Name": invocation["PluginName"],
            "Status": invocation["Status"],
            "StatusDetails": invocation["StatusDetails"],
            "ResponseCode": invocation["ResponseCode"],
            "ResponseStartDateTime": command.requested_date_time,
            "Output": combined_output(output, error)[:LIST_OUTPUT_LIMIT],
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "OutputS3Region": command.output_s3_region,
            "OutputS3BucketName": command.output_s3_bucket_name,
            "OutputS3KeyPrefix": command.output_s3_key_prefix,
        }
        if finished:
            plugin["ResponseFinishDateTime"] = datetime.fromisoformat(finished)
        summary["CommandPlugins"] = [plugin]
    return summary


def _instance_information(instance: Any, ping: dict[str, str]) -> dict[str, Any]:
    windows = (instance.platform or "").lower() == "windows"
    return {
        "InstanceId": instance.id,
        "PingStatus": ping.get(instance.id, "Online"),
        "LastPingDateTime": datetime.now(UTC),
        "AgentVersion": "3.3.1142.0",
        "IsLatestVersion": True,
        "PlatformType": "Windows" if windows else "Linux",
        "PlatformName": "Microsoft Windows Server 2022 Datacenter" if windows else "Amazon Linux",
        "PlatformVersion": "10.0.20348" if windows else "2023",
        "ResourceType": "EC2Instance",
        "IPAddress": instance.private_ip or "",
        "ComputerName": instance.private_dns_name or instance.id,
    }


# -- the control API ---------------------------------------------------------------------------


class SsmControl:
    """What tests change in the SSM extension (also over HTTP: ``/pcm-moto/ssm/...``)."""

    def set_default_outcome(
        self,
        outcome: AnyOutcome | None = None,
        *,
        instance_id: str | None = None,
        after: float = 0.0,
        **fields: Any,
    ) -> None:
        """The outcome of invocations of commands sent from now on: of every instance, or of
        ``instance_id`` only. Give an :class:`InvocationOutcome` (or its fields), or a
        :class:`ScheduledOutcome`; ``after`` seconds > 0 make the invocations report
        ``InProgress`` until then."""
        chosen: AnyOutcome = outcome or InvocationOutcome(**fields)
        if after > 0 and isinstance(chosen, InvocationOutcome):
            chosen = ScheduledOutcome(chosen, after)
        with STATE.lock:
            if instance_id is None:
                STATE.default = chosen
            else:
                STATE.per_instance[instance_id] = chosen

    def set_outcome_rule(self, rule: OutcomeRule | None) -> None:
        """Choose the outcome of each invocation of commands sent from now on with ``rule``
        (e.g. :class:`~pcm_aws_common.testing.outcomes.TagOutcomes`); ``None`` removes it.
        Outcomes set for one instance still win; a rule returning ``None`` leaves the
        invocation to the default outcome."""
        with STATE.lock:
            STATE.rule = rule

    def set_invocation(
        self,
        command_id: str,
        instance_id: str,
        outcome: InvocationOutcome | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Make one invocation report ``outcome`` (its status, output and exit code); returns
        what GetCommandInvocation will say. Fields not given keep their current values."""
        command = find_command(command_id)
        invocation = next(
            (item for item in command.invocations if item["InstanceId"] == instance_id), None
        )
        if invocation is None:
            raise KeyError(f"command {command_id} has no invocation on {instance_id}")
        if outcome is None:
            current = self.outcome(command_id, instance_id)
            if "status" in fields:  # a new status brings its own code and details
                fields.setdefault("exit_code", None)
                fields.setdefault("status_details", None)
            outcome = replace(current, **fields)
        apply_outcome(command, invocation, outcome)
        return dict(invocation)

    def outcome(self, command_id: str, instance_id: str) -> InvocationOutcome:
        """What one invocation reports now (with its whole output)."""
        advance()
        command = find_command(command_id)
        invocation = next(item for item in command.invocations if item["InstanceId"] == instance_id)
        output, error = STATE.outputs.get((command_id, instance_id), ("", ""))
        return InvocationOutcome(
            status=invocation["Status"],
            output=output,
            error=error,
            exit_code=invocation["ResponseCode"],
            status_details=invocation["StatusDetails"],
        )

    def invocations(self, command_id: str) -> list[dict[str, Any]]:
        """Every invocation of a command: instance, status, exit code and whole output."""
        advance()
        command = find_command(command_id)
        return [
            {
                "instance_id": item["InstanceId"],
                "status": item["Status"],
                "status_details": item["StatusDetails"],
                "exit_code": item["ResponseCode"],
                "output": STATE.outputs.get((command_id, item["InstanceId"]), ("", ""))[0],
                "error": STATE.outputs.get((command_id, item["InstanceId"]), ("", ""))[1],
            }
            for item in command.invocations
        ]

    def commands(self) -> list[dict[str, Any]]:
        """Every command sent so far: ``{"command_id",
        "account", "region", "instance_ids", "document_name", "comment", "status"}``."""
        advance()
        return [
            {
                "command_id": command.command_id,
                "account": account,
                "region": region,
                "instance_ids": list(command.instance_ids),
                "status": command.status,
                "document_name": command.document_name,
                "comment": command.comment,
            }
            for account, region, command in _all_commands()
        ]

    def set_managed(self, instance_id: str, managed: bool = True) -> None:
        """Whether the instance runs the SSM agent (unmanaged ones are not listed by
        DescribeInstanceInformation and refused by SendCommand)."""
        with STATE.lock:
            (STATE.unmanaged.discard if managed else STATE.unmanaged.add)(instance_id)

    def set_ping_status(self, instance_id: str, status: str = "Online") -> None:
        """``Online``, ``ConnectionLost`` or ``Inactive``, as DescribeInstanceInformation says."""
        with STATE.lock:
            STATE.ping_status[instance_id] = status

    def pending(self) -> int:
        """How many invocations are still waiting for a scheduled outcome."""
        with STATE.lock:
            return len(STATE.pending)

    def reset(self) -> None:
        """Forget outcomes, the rule, scheduled outcomes and instance facts (not the
        commands, which are moto's)."""
        STATE.reset()


def install() -> None:
    """Route moto's SSM requests to :class:`PcmSsmResponse` (idempotent).

    moto's server reads ``moto.ssm.urls.url_paths`` when it creates the SSM application, on
    the first SSM request; the change is process-wide, like moto's backends.
    """
    from moto.ssm import urls

    for path, handler in list(urls.url_paths.items()):
        if getattr(handler, "__self__", None) is SimpleSystemManagerResponse:
            urls.url_paths[path] = PcmSsmResponse.dispatch
