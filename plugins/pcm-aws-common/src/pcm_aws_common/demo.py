"""Demo mode (``pcm-ops serve --demo``): a fake AWS in this process, with a small fleet.

What happens, in the order core calls the plugin:

1. While the application is built (:func:`prepare`, from ``pcm_ops_api_routers``): demo
   mode without moto stops here with one line saying what to install. Otherwise a socket
   is opened on a free port of 127.0.0.1 and ``PCM_AWS_COMMON__ENDPOINT_URL`` is set to it,
   before anything in the process builds an AWS client: the application's factory, and the
   factories the job engine builds from the settings (``AwsClients.from_settings``, the
   script runner's job runtime), all send every call to the fake AWS. Requests that come
   early wait in the socket's backlog. Demo mode is one process: ``pcm-ops worker`` or the
   CLI in another process would not know the fake AWS.
2. At start-up (:func:`start`, from ``pcm_ops_startup``): moto starts on that socket (its
   state is new on every start) with :data:`DEMO_ACCOUNTS` and :data:`DEMO_FLEET`: two
   Commercial accounts and a GovCloud one, 36 tagged EC2 instances in six regions, some
   without the SSM agent or with a lost connection, and the SSM outcome rule
   :class:`~pcm_aws_common.testing.outcomes.TagOutcomes`, which makes runs take a few
   seconds and end in success, failure or timeout according to the instances' tags.
3. Then (:func:`register`) the registry gets what reaches them, idempotently: two shared
   credential sources (moto's keys, encrypted as any other; they are new on each start, so
   an existing source gets the new keys) and the three accounts, one reached directly and
   two through AssumeRole. A restart with the same data directory adds nothing twice.
4. At shutdown (:func:`stop`): moto stops and the environment is put back.

Instance ids change on every start (moto's are random); the script runner's inventory
sync, which the script runner starts in demo mode, brings its inventory up to date.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pcm_aws_common.config import AwsCommonSettings
    from pcm_aws_common.services.clients import AwsClients
    from pcm_aws_common.testing.server import MotoAws
    from pcm_ops.db.engine import Database

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_FLEET",
    "DemoAccount",
    "DemoInstance",
    "FakeAws",
    "announce",
    "fake_ssm",
    "prepare",
    "register",
    "start",
    "stop",
]

logger = logging.getLogger("pcm_aws_common.demo")

#: What demo mode needs beyond the plugin's own dependencies.
REQUIRED_MODULES = ("moto", "flask", "flask_cors")
INSTALL_HINT = "pip install 'pcm-aws-common[demo]'"
#: The settings demo mode overrides through the environment (see the module docstring).
ENDPOINT_VARIABLES = ("PCM_AWS_COMMON__ENDPOINT_URL", "PCM_AWS_COMMON__ENDPOINT_URLS")
#: Who the audit log says made the demo's registry entries.
ACTOR = "demo"
#: The role every AssumeRole account of the demo is reached through.
DEMO_ROLE = "PcmOpsDemo"
#: Seeds the timings of the SSM outcomes: the same command on the same instance always
#: behaves the same way.
OUTCOME_SEED = 2024


@dataclass(frozen=True)
class DemoAccount:
    """An account of the demo: in moto, and in the registry."""

    key: str
    account_id: str
    name: str
    partition: str
    regions: tuple[str, ...]
    #: ``direct``: the partition's demo keys belong to this account; ``role``: reached by
    #: AssumeRole into :data:`DEMO_ROLE`.
    access: str
    environment: str
    description: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def role_arn(self) -> str | None:
        if self.access != "role":
            return None
        return f"arn:{self.partition}:iam::{self.account_id}:role/{DEMO_ROLE}"


@dataclass(frozen=True)
class DemoInstance:
    """An EC2 instance of the demo fleet.

    Attributes:
        outcome: its ``pcm-demo:outcome`` tag (``success``, ``fail``, ``timeout``, ``slow``,
            ``random``): how SSM commands end on it.
        agent: ``online``, ``none`` (no SSM agent: not managed) or ``connection-lost``; its
            ``pcm-demo:agent`` tag.
    """

    account: str
    region: str
    name: str
    role: str
    team: str
    outcome: str = "success"
    agent: str = "online"
    windows: bool = False

    def tags(self, account: DemoAccount) -> dict[str, str]:
        tags = {
            "Name": self.name,
            "Environment": account.environment,
            "Team": self.team,
            "Role": self.role,
            "pcm-demo:outcome": self.outcome,
        }
        if self.agent != "online":
            tags["pcm-demo:agent"] = self.agent
        return tags


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "prod",
        "200000000001",
        "Demo Production",
        "aws",
        ("us-east-1", "us-west-2", "eu-west-1"),
        "direct",
        "production",
        "Demo: the Commercial demo keys belong to this account.",
        {"demo": "true", "env": "prod"},
    ),
    DemoAccount(
        "dev",
        "200000000002",
        "Demo Development",
        "aws",
        ("us-east-1", "us-east-2"),
        "role",
        "development",
        "Demo: reached from the production account's keys by AssumeRole.",
        {"demo": "true", "env": "dev"},
    ),
    DemoAccount(
        "gov",
        "300000000003",
        "Demo GovCloud",
        "aws-us-gov",
        ("us-gov-west-1", "us-gov-east-1"),
        "role",
        "production",
        "Demo: a GovCloud account, reached by AssumeRole with the GovCloud demo keys.",
        {"demo": "true", "env": "prod"},
    ),
)


def _fleet() -> tuple[DemoInstance, ...]:
    i = DemoInstance
    return (
        # Production, us-east-1
        i("prod", "us-east-1", "prod-web-01", "web", "storefront"),
        i("prod", "us-east-1", "prod-web-02", "web", "storefront"),
        i("prod", "us-east-1", "prod-web-03", "web", "storefront"),
        i("prod", "us-east-1", "prod-web-04", "web", "storefront", "slow"),
        i("prod", "us-east-1", "prod-api-01", "api", "payments"),
        i("prod", "us-east-1", "prod-api-02", "api", "payments"),
        i("prod", "us-east-1", "prod-api-03", "api", "payments", "fail"),
        i("prod", "us-east-1", "prod-db-01", "database", "data"),
        i("prod", "us-east-1", "prod-db-02", "database", "data", "timeout"),
        i("prod", "us-east-1", "prod-win-01", "reporting", "finance", windows=True),
        # Production, us-west-2
        i("prod", "us-west-2", "prod-web-05", "web", "storefront"),
        i("prod", "us-west-2", "prod-web-06", "web", "storefront", agent="connection-lost"),
        i("prod", "us-west-2", "prod-api-04", "api", "payments"),
        i("prod", "us-west-2", "prod-worker-01", "worker", "data"),
        i("prod", "us-west-2", "prod-worker-02", "worker", "data", "slow"),
        # Production, eu-west-1
        i("prod", "eu-west-1", "prod-eu-web-01", "web", "storefront"),
        i("prod", "eu-west-1", "prod-eu-web-02", "web", "storefront", agent="none"),
        i("prod", "eu-west-1", "prod-eu-api-01", "api", "payments"),
        i("prod", "eu-west-1", "prod-eu-worker-01", "worker", "data", "fail"),
        i("prod", "eu-west-1", "prod-eu-win-01", "reporting", "finance", "timeout", windows=True),
        # Development, us-east-1
        i("dev", "us-east-1", "dev-web-01", "web", "storefront"),
        i("dev", "us-east-1", "dev-web-02", "web", "storefront"),
        i("dev", "us-east-1", "dev-api-01", "api", "payments"),
        i("dev", "us-east-1", "dev-api-02", "api", "payments", "fail"),
        i("dev", "us-east-1", "dev-db-01", "database", "data", agent="none"),
        i("dev", "us-east-1", "dev-win-01", "reporting", "finance", windows=True),
        # Development, us-east-2
        i("dev", "us-east-2", "dev-worker-01", "worker", "data", "random"),
        i("dev", "us-east-2", "dev-worker-02", "worker", "data", "random"),
        i("dev", "us-east-2", "dev-worker-03", "worker", "data", "timeout"),
        i("dev", "us-east-2", "dev-ci-01", "ci", "platform", "random"),
        # GovCloud
        i("gov", "us-gov-west-1", "gov-web-01", "web", "civic"),
        i("gov", "us-gov-west-1", "gov-web-02", "web", "civic"),
        i("gov", "us-gov-west-1", "gov-api-01", "api", "civic"),
        i("gov", "us-gov-west-1", "gov-db-01", "database", "civic", "fail"),
        i("gov", "us-gov-east-1", "gov-api-02", "api", "civic", "slow"),
        i("gov", "us-gov-east-1", "gov-worker-01", "worker", "civic", agent="connection-lost"),
    )


DEMO_FLEET: tuple[DemoInstance, ...] = _fleet()

#: What :func:`prepare` did, by the id of the application's settings: the socket it opened,
#: and the environment variables it replaced with their previous values.
_PREPARED: dict[int, tuple[socket.socket, dict[str, str | None]]] = {}


@dataclass
class FakeAws:
    """The running fake AWS of a demo application (``app.state.aws_demo``)."""

    moto: MotoAws
    endpoint_url: str
    #: The environment variables :func:`prepare` replaced, and their previous values.
    previous_environment: dict[str, str | None]
    #: Keys of the demo's IAM users, by partition: ``(access key id, secret)``.
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Instance ids by instance name (new on every start).
    instances: dict[str, str] = field(default_factory=dict)


# -- 1. while the application is built -----------------------------------------------------


def missing_modules() -> list[str]:
    """The modules demo mode needs that are not installed."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


def prepare(settings: Any) -> None:
    """Check that demo mode can run, and point every AWS client of the process at the
    fake AWS's address (see the module docstring).

    :raises SystemExit: moto is not installed. A hook's exception would only make core
        skip this plugin and serve a demo without AWS; this stops the server, with one line.
    """
    missing = missing_modules()
    if missing:
        raise SystemExit(
            f"Error: demo mode needs moto to fake AWS, and {', '.join(missing)} is not "
            f"installed; install it with: {INSTALL_HINT}"
        )
    if id(settings) in _PREPARED:
        return
    sock = _listening_socket()
    host, port = sock.getsockname()[:2]
    _PREPARED[id(settings)] = (sock, _point_environment_at(f"http://{host}:{port}"))


def _listening_socket() -> socket.socket:
    """A socket listening on a free port of 127.0.0.1 (moto is imported later: it takes
    seconds)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _point_environment_at(url: str) -> dict[str, str | None]:
    previous = {name: os.environ.get(name) for name in ENDPOINT_VARIABLES}
    os.environ["PCM_AWS_COMMON__ENDPOINT_URL"] = url
    os.environ["PCM_AWS_COMMON__ENDPOINT_URLS"] = ""  # per-service endpoints would win
    return previous


# -- 2. at start-up: moto and its world ----------------------------------------------------


async def start(app: Any, settings: Any, config: AwsCommonSettings) -> AwsCommonSettings:
    """Start the fake AWS and build its world; return ``config`` pointed at it.

    Also puts the :class:`FakeAws` on ``app.state.aws_demo``.
    """
    import anyio.to_thread

    began = time.monotonic()
    sock, previous = _PREPARED.pop(id(settings), (None, None))
    try:
        fake = await anyio.to_thread.run_sync(_start_moto, sock, previous)
    except BaseException:
        if previous is not None:
            _restore_environment(previous)
        raise
    app.state.aws_demo = fake
    logger.info(
        "demo mode: fake AWS at %s with %d instances, ready in %.1f s",
        fake.endpoint_url,
        len(fake.instances),
        time.monotonic() - began,
    )
    return config.model_copy(update={"endpoint_url": fake.endpoint_url, "endpoint_urls": {}})


def _start_moto(sock: socket.socket | None, previous: dict[str, str | None] | None) -> FakeAws:
    from pcm_aws_common.testing.server import MotoAws

    moto = MotoAws(listening=sock).start()
    try:
        if previous is None:  # prepare() did not run (no create_app): point clients now
            previous = _point_environment_at(moto.endpoint_url)
        fake = FakeAws(moto, moto.endpoint_url, previous)
        _build_world(fake)
        fake_ssm(fake)
    except BaseException:
        moto.stop()
        raise
    return fake


def _build_world(fake: FakeAws) -> None:
    moto = fake.moto
    accounts = {account.key: account for account in DEMO_ACCOUNTS}
    for account in DEMO_ACCOUNTS:
        if account.access == "direct" or account.partition not in fake.keys:
            prepared = moto.add_account(account.account_id, partition=account.partition)
            fake.keys.setdefault(
                account.partition, (prepared.access_key_id, prepared.secret_access_key)
            )
        if account.access == "role":
            moto.add_role(account.account_id, DEMO_ROLE, partition=account.partition)
    for instance in DEMO_FLEET:
        account = accounts[instance.account]
        (instance_id,) = moto.add_instances(
            account.account_id,
            instance.region,
            tags=instance.tags(account),
            windows=instance.windows,
        )
        fake.instances[instance.name] = instance_id


def fake_ssm(fake: FakeAws) -> None:
    """Make SSM behave as the fleet's tags say: agents missing or unreachable, and the
    outcome of every command (:class:`~pcm_aws_common.testing.outcomes.TagOutcomes`)."""
    from pcm_aws_common.testing.outcomes import TagOutcomes

    for instance in DEMO_FLEET:
        instance_id = fake.instances[instance.name]
        fake.moto.ssm.set_managed(instance_id, instance.agent != "none")
        status = "ConnectionLost" if instance.agent == "connection-lost" else "Online"
        fake.moto.ssm.set_ping_status(instance_id, status)
    fake.moto.ssm.set_outcome_rule(TagOutcomes(seed=OUTCOME_SEED))


# -- 3. the registry -----------------------------------------------------------------------


def source_name(partition: str) -> str:
    """The name of the demo's shared credential source of ``partition``."""
    return "Demo GovCloud keys" if partition == "aws-us-gov" else "Demo Commercial keys"


async def register(app: Any, clients: AwsClients) -> None:
    """Add the demo's credential sources and accounts to the registry, or bring the sources'
    keys up to date (moto's are new on every start); add nothing twice."""
    fake: FakeAws = app.state.aws_demo
    database: Database = app.state.database
    async with database.session() as session:
        sources: dict[str, int] = {}
        for partition, (key_id, secret) in fake.keys.items():
            sources[partition] = await _ensure_source(session, clients, partition, key_id, secret)
        for account in DEMO_ACCOUNTS:
            await _ensure_account(session, account, sources[account.partition])


async def _ensure_source(
    session: Any, clients: AwsClients, partition: str, key_id: str, secret: str
) -> int:
    from pydantic import SecretStr
    from sqlmodel import col, select

    from pcm_aws_common.models import AwsCredentialSource
    from pcm_aws_common.schemas import CredentialSourceIn, CredentialSourcePatch
    from pcm_aws_common.services.credentials import create_source, update_source
    from pcm_ops.audit import Actor

    actor = Actor.system(ACTOR)
    name = source_name(partition)
    statement = select(AwsCredentialSource).where(
        AwsCredentialSource.name == name, col(AwsCredentialSource.owner_id).is_(None)
    )
    row = (await session.exec(statement)).first()
    if row is None:
        data = CredentialSourceIn(
            name=name,
            partition=partition,
            access_key_id=key_id,
            secret_access_key=SecretStr(secret),
            shared=True,
        )
        row = await create_source(session, clients, actor, data)
    else:
        assert row.id is not None
        patch = CredentialSourcePatch(access_key_id=key_id, secret_access_key=SecretStr(secret))
        row = await update_source(session, clients, actor, row.id, patch)
    assert row.id is not None
    return row.id


async def _ensure_account(session: Any, account: DemoAccount, source_id: int) -> None:
    from sqlmodel import select

    from pcm_aws_common.models import AwsAccount
    from pcm_aws_common.schemas import AccountIn
    from pcm_aws_common.services.accounts import create_account
    from pcm_ops.audit import Actor

    statement = select(AwsAccount).where(AwsAccount.account_id == account.account_id)
    if (await session.exec(statement)).first() is not None:
        return  # registered by an earlier start (and maybe changed since: left as it is)
    data = AccountIn(
        account_id=account.account_id,
        name=account.name,
        partition=account.partition,
        regions=list(account.regions),
        tags=dict(account.tags),
        credential_source_id=source_id,
        role_arn=account.role_arn,
        description=account.description,
    )
    await create_account(session, Actor.system(ACTOR), data, origin="demo")


def announce(app: Any) -> None:
    """Say, next to core's demo banner, where the fake AWS is and what it holds."""
    import click

    fake: FakeAws = app.state.aws_demo
    partitions = ", ".join(
        f"{sum(1 for a in DEMO_ACCOUNTS if a.partition == p)} {label}"
        for p, label in (("aws", "Commercial"), ("aws-us-gov", "GovCloud"))
    )
    click.secho(
        f"\n  DEMO AWS    fake AWS endpoint (moto, in this process): {fake.endpoint_url}\n"
        f"              {len(DEMO_ACCOUNTS)} accounts ({partitions}), "
        f"{len(fake.instances)} EC2 instances; nothing here reaches real AWS.\n",
        fg="yellow",
        bold=True,
        err=True,
    )
    sys.stderr.flush()


# -- 4. at shutdown ------------------------------------------------------------------------


async def stop(app: Any) -> None:
    """Stop the fake AWS and put the environment back."""
    import anyio.to_thread

    fake: FakeAws | None = getattr(app.state, "aws_demo", None)
    if fake is None:
        return
    app.state.aws_demo = None
    await anyio.to_thread.run_sync(fake.moto.stop)
    _restore_environment(fake.previous_environment)


def _restore_environment(previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
