"""An outcome rule for the SSM extension: each instance's result from its tags.

Demo mode installs it so that a run over the fleet looks like a run over a real one: most
instances succeed after a few seconds, some fail, some time out, some are slow, and an
instance whose agent lost its connection never gets the command. Tests can install it too::

    from pcm_aws_common.testing.outcomes import TagOutcomes

    moto_aws.ssm.set_outcome_rule(TagOutcomes(seed=7, progress_seconds=(0.1, 0.3)))

The tag ``pcm-demo:outcome`` chooses (absent or unknown: ``untagged``, by default success):

========== ============================================================================
success    ``Success``, exit code 0, after ``progress_seconds`` (2 to 8 s by default)
fail       ``Failed``, exit code 1, an error on standard error, after ``progress_seconds``
timeout    ``TimedOut`` after ``timeout_seconds`` or the command's ``executionTimeout``,
           whichever comes first
slow       ``Success`` after ``slow_seconds`` (20 to 40 s by default)
random     one of the above, drawn for each invocation (mostly success)
========== ============================================================================

Independently of the tag, an instance whose agent is not ``Online`` (``ConnectionLost``)
stays ``Pending`` and ends ``Undeliverable``, and a script in the language of the other
platform (PowerShell on Linux, shell on Windows) fails at once.

Delays are drawn from a random generator seeded with ``seed``, the command id and the
instance id: the same command on the same instance always behaves the same way.

The standard output depends a little on the command: it echoes its first line, names the
instance by its ``Name`` tag, and answers a few well-known commands (``df``, package
managers, service restarts) with plausible lines. A line ``pcm-demo:output-lines=N`` in the
script makes it print ``N`` lines, enough to show how long output is truncated.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pcm_aws_common.testing.ssm import InvocationContext, InvocationOutcome, ScheduledOutcome

OUTCOME_TAG = "pcm-demo:outcome"
OUTCOMES = ("success", "fail", "timeout", "slow", "random")
#: How ``random`` draws: mostly success, some of each of the others.
_RANDOM_WEIGHTS = {"success": 70, "fail": 12, "timeout": 8, "slow": 10}
_OUTPUT_LINES = re.compile(r"pcm-demo:output-lines\s*=\s*(\d{1,6})")
#: At most this many lines, however many a script asks for (≈ 1.6 MB).
MAX_OUTPUT_LINES = 20_000
_FAILURES = (
    "Permission denied",
    "No space left on device",
    "Connection refused",
    "Resource temporarily unavailable",
)


@dataclass(frozen=True)
class TagOutcomes:
    """An outcome rule (:meth:`SsmControl.set_outcome_rule`) driven by instance tags.

    Attributes:
        tag: the tag that chooses the outcome.
        seed: seeds the delays and the ``random`` draws.
        progress_seconds: how long ``success`` and ``fail`` take (drawn in this range).
        slow_seconds: how long ``slow`` takes.
        timeout_seconds: after how long ``timeout`` times out (at most the command's own
            ``executionTimeout``); also how long an unreachable instance stays ``Pending``
            (at most the command's delivery timeout).
        untagged: the outcome of instances without the tag.
    """

    tag: str = OUTCOME_TAG
    seed: int = 0
    progress_seconds: tuple[float, float] = (2.0, 8.0)
    slow_seconds: tuple[float, float] = (20.0, 40.0)
    timeout_seconds: float = 15.0
    untagged: str = "success"

    def __post_init__(self) -> None:
        if self.untagged not in OUTCOMES:
            raise ValueError(f"untagged must be one of {', '.join(OUTCOMES)}")
        for name in ("progress_seconds", "slow_seconds"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        if self.timeout_seconds < 0:
            raise ValueError("timeout_seconds must not be negative")

    def kind_of(self, context: InvocationContext) -> str:
        """``success``, ``fail``, ``timeout`` or ``slow`` for this invocation."""
        kind = context.tags.get(self.tag, "").strip().lower()
        if kind not in OUTCOMES:
            kind = self.untagged
        if kind == "random":
            draw = self._random(context, "kind")
            kind = draw.choices(list(_RANDOM_WEIGHTS), weights=list(_RANDOM_WEIGHTS.values()))[0]
        return kind

    def __call__(self, context: InvocationContext) -> ScheduledOutcome:
        draw = self._random(context, "delay")
        stdout = fake_output(context, draw)
        if context.ping_status != "Online":
            return ScheduledOutcome(
                InvocationOutcome("Undeliverable", status_details="Undeliverable"),
                after=min(self.timeout_seconds, context.delivery_timeout),
                running=InvocationOutcome("Pending"),
            )
        expected = "Windows" if context.document_name == "AWS-RunPowerShellScript" else "Linux"
        if context.platform != expected:
            error, code = _wrong_platform(context)
            return ScheduledOutcome(
                InvocationOutcome("Failed", error=error, exit_code=code),
                after=draw.uniform(0.5, 1.5),
            )
        kind = self.kind_of(context)
        if kind == "fail":
            reason = draw.choice(_FAILURES)
            error = (
                f"{first_line(context.commands) or 'script'}: {reason}\n"
                "failed to run commands: exit status 1"
            )
            partial = "\n".join(stdout.splitlines()[:2])
            return ScheduledOutcome(
                InvocationOutcome("Failed", output=partial, error=error, exit_code=1),
                after=draw.uniform(*self.progress_seconds),
            )
        if kind == "timeout":
            after = self.timeout_seconds
            if context.execution_timeout is not None:
                after = min(after, float(context.execution_timeout))
            partial = "\n".join(stdout.splitlines()[:2])
            return ScheduledOutcome(InvocationOutcome("TimedOut", output=partial), after=after)
        seconds = self.slow_seconds if kind == "slow" else self.progress_seconds
        return ScheduledOutcome(InvocationOutcome("Success", output=stdout), draw.uniform(*seconds))

    def _random(self, context: InvocationContext, purpose: str) -> random.Random:
        # A string seed is hashed with SHA-512: the same on every run and every machine.
        seed = f"{self.seed}:{purpose}:{context.command_id}:{context.instance_id}"
        return random.Random(seed)  # noqa: S311 - timings for a fake, not secrets


#: Lines that only set a variable (how parameters reach a script): ``export name=...``,
#: ``name=...``, ``$env:name = ...``.
_ASSIGNMENT = re.compile(r"^(export\s+\w+=|\w+=|\$env:\w+\s*=)")


def first_line(commands: str) -> str:
    """The first line of a script that does something: not blank, not a comment or shebang,
    not a variable assignment."""
    for line in commands.splitlines():
        text = line.strip()
        if text and not text.startswith("#") and not _ASSIGNMENT.match(text):
            return text[:200]
    return ""


def fake_output(context: InvocationContext, draw: random.Random) -> str:
    """Plausible standard output for the command on this instance."""
    host = context.name
    windows = context.document_name == "AWS-RunPowerShellScript"
    prompt = f"PS C:\\Users\\Administrator> {first_line(context.commands)}"
    lines = [prompt if windows else f"[root@{host} ~]# {first_line(context.commands)}"]
    text = context.commands
    wanted = _OUTPUT_LINES.search(text)
    if wanted:
        lines += _log_lines(host, min(int(wanted.group(1)), MAX_OUTPUT_LINES), draw)
    elif windows:
        lines += [
            f"ComputerName : {host}",
            "OsName       : Microsoft Windows Server 2022 Datacenter",
            f"Uptime       : {draw.randint(1, 90)}.{draw.randint(0, 23):02d}:"
            f"{draw.randint(0, 59):02d}:00",
            f"HotFixes     : {draw.randint(0, 6)} pending",
        ]
    elif re.search(r"\bdf\b", text):
        lines += ["Filesystem      Size  Used Avail Use% Mounted on"]
        for device, mount, size in (("/dev/nvme0n1p1", "/", 30), ("/dev/nvme1n1", "/data", 200)):
            used = draw.randint(8, 95) * size // 100
            lines.append(
                f"{device:<15} {size:>3}G {used:>4}G {size - used:>4}G "
                f"{100 * used // size:>3}% {mount}"
            )
    elif re.search(r"\b(yum|dnf|apt|apt-get|zypper)\b", text):
        count = draw.randint(0, 14)
        lines += [f"{host}: {count} package updates available ({draw.randint(0, count)} security)"]
    elif re.search(r"\b(systemctl|service)\b", text):
        lines += [f"{host}: service restarted", "Active: active (running) since just now"]
    lines.append(f"{host}: done")
    return "\n".join(lines) + "\n"


def _log_lines(host: str, count: int, draw: random.Random) -> list[str]:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=draw.randint(0, 10**7))
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN")
    return [
        f"{(start + timedelta(milliseconds=37 * n)).isoformat(timespec='milliseconds')} "
        f"{host} {draw.choice(levels):<5} worker[{draw.randint(1000, 9999)}]: "
        f"processed batch {n:06d} of {count:06d} checksum={draw.getrandbits(32):08x}"
        for n in range(1, count + 1)
    ]


def _wrong_platform(context: InvocationContext) -> tuple[str, int]:
    """Standard error and exit code of a script sent to the other platform."""
    if context.document_name == "AWS-RunPowerShellScript":
        return "pwsh: command not found\nfailed to run commands: exit status 127", 127
    return "The term 'sh' is not recognized on this Windows instance.\nexit status 1", 1
