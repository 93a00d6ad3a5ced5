"""The client factory every AWS plugin uses: :class:`AwsClients`.

::

    async with aws.client("ssm", account="123456789012", region="us-east-1", user="alice") as ssm:
        await ssm.send_command(...)

What it does for each ``client(...)``:

- finds the account in the registry (cached for ``account_cache_seconds``) and its
  credential source; refuses a region outside the account's partition or not enabled for it;
- gets credentials: the source's own (default chain, profile, or the entered keys), or an
  AssumeRole into the account's role with those, as refreshable credentials
  (``AioRefreshableCredentials``) that botocore refreshes under a lock before they expire,
  cached per (source, role, partition, external id, duration, session user). The role
  session is named after the PCM-Ops user (``<prefix>-<user>``), and AssumeRole never
  crosses a partition boundary;
- hands out an aiobotocore client from a pool of open clients (one per credentials,
  service, region and endpoint), created with adaptive retries (none for calls that must
  not happen twice: ``idempotent=False``), a connection pool and the
  configured endpoint URL;
- limits the calls in flight per (account, region) across every caller in the process, and
  counts every call by service and operation (:data:`~pcm_aws_common.services.metrics.API_CALLS`).

It needs no FastAPI: a worker builds one with :meth:`AwsClients.from_settings`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.patterns import ROLE_ARN
from pcm_aws_common.services.errors import (
    AccountNotFound,
    AssumeRoleError,
    AwsAccessError,
    AwsUnavailable,
    CredentialsRejected,
    PartitionBoundaryError,
    RegionNotAllowed,
    SourceNotFound,
)
from pcm_aws_common.services.limits import LIMITS, ConcurrencyLimits, Limit
from pcm_aws_common.services.metrics import API_CALLS, AWS_API_CALLS, ApiCallCounter, outcome_of
from pcm_aws_common.services.partitions import (
    DEFAULT_REGIONS,
    PARTITION_NAMES,
    catalog,
    partition_label,
    partition_of_arn,
)
from pcm_aws_common.services.timestamps import parse_timestamp

if TYPE_CHECKING:
    from aiobotocore.session import AioSession

    from pcm_ops.db.engine import Database
    from pcm_ops.settings import Settings

logger = logging.getLogger("pcm_aws_common.clients")

__all__ = ["AccountInfo", "AwsClients", "CallerIdentity", "SourceCheck", "source_of"]

#: Error codes that mean "these credentials have expired".
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
)
#: Error codes that mean "AWS does not accept these credentials".
INVALID_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidAccessKeyId",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    }
)

_SESSION_NAME_CHARACTERS = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class CallerIdentity:
    """What sts:GetCallerIdentity says."""

    account: str
    arn: str
    user_id: str


@dataclass(frozen=True)
class AccountInfo:
    """An account of the registry, as other plugins see it."""

    account_id: str
    name: str
    partition: str
    regions: tuple[str, ...]
    tags: Mapping[str, str]
    credential_source_id: int
    role_arn: str | None
    external_id: str | None
    session_duration_seconds: int
    description: str = ""

    @property
    def partition_name(self) -> str:
        """``Commercial`` or ``GovCloud``."""
        return PARTITION_NAMES.get(self.partition, self.partition)

    @property
    def label(self) -> str:
        return f"account {self.account_id} ({self.name})"


@dataclass(frozen=True)
class SourceCheck:
    """The outcome of checking a credential source's identity."""

    status: str  # valid, expired, invalid, unknown
    detail: str
    identity: CallerIdentity | None
    expires_at: datetime | None
    checked_at: datetime


@dataclass(frozen=True)
class _Source:
    """A credential source with its secrets, as loaded from the database."""

    id: int
    name: str
    partition: str
    kind: str
    profile_name: str | None
    owner_id: int | None
    version: str
    expires_at: datetime | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"credential source {self.name!r} ({self.kind}, {partition_label(self.partition)})"


@dataclass(frozen=True)
class _Reach:
    """How to get credentials for one target: a source, and maybe a role to assume."""

    source: _Source
    partition: str
    #: What the concurrency limit is keyed by, and messages say: the account id (or
    #: ``source:<id>`` when the account is not known).
    account: str
    label: str
    role_arn: str | None = None
    external_id: str | None = None
    duration: int = 3600
    #: The regions the target may be called in; ``None``: any of the partition.
    regions: tuple[str, ...] | None = None


@dataclass
class _PooledClient:
    client: Any
    context: Any
    in_use: int = 0


class _LimitedClientMixin:
    """Mixed into every client class the factory creates (through botocore's documented
    ``creating-client-class`` event): each API call holds the client's concurrency limit,
    and is counted in ``pcm_aws_api_calls_total`` with its outcome."""

    _pcm_limit: Limit | None = None
    _pcm_account: str = "unknown"

    async def _make_api_call(self, operation_name: str, api_params: dict[str, Any]) -> Any:
        failure: BaseException | None = None
        try:
            limit = self._pcm_limit
            if limit is None:
                return await super()._make_api_call(operation_name, api_params)  # type: ignore[misc]
            async with limit:
                return await super()._make_api_call(operation_name, api_params)  # type: ignore[misc]
        except BaseException as exc:
            failure = exc
            raise
        finally:
            meta: Any = getattr(self, "meta", None)
            AWS_API_CALLS.labels(
                meta.service_model.service_name if meta else "unknown",
                operation_name,
                self._pcm_account,
                meta.region_name if meta else "unknown",
                outcome_of(failure),
            ).inc()


def _add_limit_mixin(base_classes: list[type], **_: Any) -> None:
    if _LimitedClientMixin not in base_classes:
        base_classes.insert(0, _LimitedClientMixin)


def role_session_name(prefix: str, user: str | None) -> str:
    """``<prefix>-<user>``, with characters STS refuses replaced, at most 64 characters."""
    name = f"{prefix}-{user or 'system'}"
    return _SESSION_NAME_CHARACTERS.sub("-", name)[:64]


def aws_error(exc: BaseException) -> tuple[str, str]:
    """``(code, message)`` of a botocore ``ClientError``, or of any other exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return str(error.get("Code") or "Unknown"), str(error.get("Message") or exc)
    return type(exc).__name__, str(exc)


def classify(code: str) -> str:
    """``expired``, ``invalid`` or ``unknown`` (not a credentials problem) for an error code."""
    if code in EXPIRED_CODES:
        return "expired"
    if code in INVALID_CODES:
        return "invalid"
    return "unknown"


def _network_errors() -> tuple[type[BaseException], ...]:
    import aiohttp
    from botocore.exceptions import BotoCoreError

    return (BotoCoreError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


class AwsClients:
    """The AWS client factory: one per application (``app.state.aws_clients``) or worker.

    :param database: where the accounts registry and credential sources are
        (``app.state.database``). ``None`` allows only :meth:`validate_keys`.
    :param config: the plugin's settings (endpoint URL, retries, limits...).
    :param api_calls: where calls are counted; default: the process's counter.
    :param limits: the concurrency limits; default: the process's.
    """

    def __init__(
        self,
        database: Database | None,
        config: AwsCommonSettings | None = None,
        *,
        api_calls: ApiCallCounter = API_CALLS,
        limits: ConcurrencyLimits = LIMITS,
    ) -> None:
        self.config = config or AwsCommonSettings()
        self.api_calls = api_calls
        self._database = database
        self._owns_database = False
        self._limits = limits
        self._sessions: dict[tuple[Any, ...], AioSession] = {}
        self._clients: OrderedDict[tuple[Any, ...], _PooledClient] = OrderedDict()
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._session_locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._accounts: dict[str, tuple[float, AccountInfo, _Source]] = {}
        self._account_locks: dict[str, asyncio.Lock] = {}
        #: Clients taken out of the pool while in use; closed with the factory.
        self._retired: list[_PooledClient] = []
        self._closed = False

    @classmethod
    def from_settings(
        cls, settings: Settings, config: AwsCommonSettings | None = None
    ) -> AwsClients:
        """A factory for code that runs outside the web application (workers, scripts):
        its own database engine on ``settings``, closed by :meth:`aclose`.

        ``config`` defaults to the ``[aws-common]`` settings of ``settings`` (config file
        and ``PCM_AWS_COMMON__*`` variables).
        """
        from pcm_ops.db.engine import Database
        from pcm_ops.security import secrets
        from pcm_ops.settings import plugin_section

        secrets.configure(settings.data_dir)
        if config is None:
            config = AwsCommonSettings.model_validate(plugin_section(settings, "aws-common"))
        clients = cls(Database(settings), config)
        clients._owns_database = True
        return clients

    async def __aenter__(self) -> AwsClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled client (and the database, when :meth:`from_settings` made it)."""
        self._closed = True
        pooled = [*self._clients.values(), *self._retired]
        self._clients.clear()
        self._retired.clear()
        self._sessions.clear()
        for entry in pooled:
            await self._close(entry)
        if self._owns_database and self._database is not None:
            await self._database.dispose()

    # -- the public API ------------------------------------------------------------------------

    @asynccontextmanager
    async def client(
        self,
        service: str,
        *,
        account: str | AccountInfo | None = None,
        region: str | None = None,
        source: int | None = None,
        role_arn: str | None = None,
        external_id: str | None = None,
        session_duration: int | None = None,
        user: str | None = None,
        owner_id: int | None = None,
        idempotent: bool = True,
    ) -> AsyncIterator[Any]:
        """An aiobotocore client for ``service`` in ``region`` of ``account``.

        Give ``account`` (a registry account id, or an :class:`AccountInfo`), or ``source``
        (a credential source id, optionally with ``role_arn``/``external_id`` to assume a
        role with it). The client comes from a pool and stays open after the block: do not
        close it. Keep the block around the calls; every call in it holds one of the
        account-region's concurrency permits while it runs.

        :param region: default: the partition's home region (``us-east-1``,
            ``us-gov-west-1``); an account's client refuses a region not enabled for it.
        :param user: the PCM-Ops user on whose behalf the calls are made; it names the
            role session (and is the SourceIdentity when ``set_source_identity`` is on).
        :param owner_id: with ``source``: the PCM-Ops user id acting, needed to use a
            personal (not shared) source, which only its owner may use.
        :param idempotent: ``False`` for calls that change the world and carry no
            idempotency token (SSM's ``SendCommand``): the client then makes each call
            exactly once, without botocore's retries. Resolve a failure whose outcome is
            unknown with :func:`pcm_aws_common.services.once.call_at_most_once`, which asks
            the service what happened before calling again. Every other call keeps
            botocore's adaptive retries.
        :raises AccountNotFound: the account is not in the registry.
        :raises RegionNotAllowed: the region is not the account's.
        :raises PartitionBoundaryError: the role or source is in another partition.
        :raises AssumeRoleError: AWS refused the AssumeRole (the message names account,
            role and AWS's reason).
        :raises AwsAccessError: no credentials could be found (e.g. an empty default chain).
        """
        reach = await self._resolve(
            account=account,
            source=source,
            role_arn=role_arn,
            external_id=external_id,
            session_duration=session_duration,
            owner_id=owner_id,
        )
        chosen_region = self._region_for(reach, region)
        entry = await self._pooled_client(
            reach, user, service, chosen_region, limited=True, retries=idempotent
        )
        entry.in_use += 1
        try:
            yield entry.client
        finally:
            entry.in_use -= 1

    async def caller_identity(self, **target: Any) -> CallerIdentity:
        """sts:GetCallerIdentity through the same credentials ``client(...)`` would use;
        takes ``client``'s keyword arguments."""
        async with self.client("sts", **target) as sts:
            response = await sts.get_caller_identity()
        return CallerIdentity(response["Account"], response["Arn"], response["UserId"])

    async def get_account(self, account_id: str) -> AccountInfo:
        """The registry's entry for ``account_id``.

        :raises AccountNotFound: no such account.
        """
        info, _ = await self._account(account_id)
        return info

    async def list_accounts(
        self, *, partition: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[AccountInfo]:
        """Registry accounts, by account id, optionally of one partition and with all of
        ``tags`` (key and value equal)."""
        from sqlmodel import col, select

        from pcm_aws_common.models import AwsAccount

        statement = select(AwsAccount).order_by(col(AwsAccount.account_id))
        if partition is not None:
            statement = statement.where(AwsAccount.partition_id == partition)
        async with self._require_database().session() as session:
            rows = (await session.exec(statement)).all()
        wanted = dict(tags or {})
        return [
            _account_info(row)
            for row in rows
            if all(row.tags.get(key) == value for key, value in wanted.items())
        ]

    async def validate_keys(
        self,
        partition: str,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None = None,
    ) -> CallerIdentity:
        """Check entered access keys with sts:GetCallerIdentity in ``partition``.

        :raises CredentialsRejected: AWS refused them (``field`` names the likely culprit,
            the message carries AWS's code and message).
        :raises AwsUnavailable: STS could not be reached.
        """
        from pcm_ops.logs import register_secret

        register_secret(secret_access_key)
        if session_token:
            register_secret(session_token)
        session = self._new_session()
        session.set_credentials(access_key_id, secret_access_key, session_token)
        region = DEFAULT_REGIONS[partition]
        try:
            async with session.create_client(
                "sts",
                region_name=region,
                endpoint_url=self.config.endpoint_for("sts"),
                config=self._client_config(),
            ) as sts:
                response = await sts.get_caller_identity()
        except _network_errors() as exc:
            if getattr(exc, "response", None) is None:
                raise AwsUnavailable(
                    f"could not reach AWS STS in {region} to check the credentials: {exc}"
                ) from None
            raise
        except Exception as exc:
            code, message = aws_error(exc)
            status = classify(code)
            if status == "unknown":
                raise AwsUnavailable(
                    f"AWS STS could not check the credentials: {code}: {message}"
                ) from None
            if status == "expired":
                field_name = "session_token"
            elif code in ("SignatureDoesNotMatch", "InvalidSignatureException"):
                field_name = "secret_access_key"
            elif session_token:
                field_name = "session_token"
            else:
                field_name = "access_key_id"
            raise CredentialsRejected(field_name, code, message, status) from None
        return CallerIdentity(response["Account"], response["Arn"], response["UserId"])

    async def check_source(self, source_id: int, owner_id: int | None = None) -> SourceCheck:
        """Check a credential source's identity afresh (its credentials are resolved
        again: a default chain or profile may have changed since it was last used).

        :raises SourceNotFound: no such source, or a personal one of someone else.
        """
        source = await self._source(source_id, owner_id)
        return await self.check(source)

    async def check(self, source: _Source) -> SourceCheck:
        """The identity check of an already loaded source (used by the health check)."""
        now = datetime.now(UTC)
        if source.expires_at is not None and source.expires_at <= now:
            return SourceCheck(
                "expired",
                f"the credentials expired at {source.expires_at:%Y-%m-%d %H:%M} UTC",
                None,
                source.expires_at,
                now,
            )
        session = self._source_session(source)
        region = DEFAULT_REGIONS[source.partition]
        try:
            credentials = await session.get_credentials()
            if credentials is None:
                return SourceCheck("invalid", _no_credentials(source), None, None, now)
            expires_at = getattr(credentials, "_expiry_time", None) or source.expires_at
            async with session.create_client(
                "sts",
                region_name=region,
                endpoint_url=self.config.endpoint_for("sts"),
                config=self._client_config(),
            ) as sts:
                response = await sts.get_caller_identity()
        except Exception as exc:
            code, message = aws_error(exc)
            status = classify(code)
            if getattr(exc, "response", None) is None:
                status = "invalid" if _is_configuration_error(exc) else "unknown"
            return SourceCheck(status, f"{code}: {message}", None, None, now)
        identity = CallerIdentity(response["Account"], response["Arn"], response["UserId"])
        return SourceCheck("valid", "", identity, expires_at, now)

    async def forget_source(self, source_id: int) -> None:
        """Drop what is cached for a source (after its keys changed or it was deleted)."""
        await self._forget(lambda key: key[0] == source_id)
        self._accounts = {
            account: cached
            for account, cached in self._accounts.items()
            if cached[2].id != source_id
        }

    async def forget_account(self, account_id: str) -> None:
        """Drop the cached registry entry of an account (after it changed)."""
        self._accounts.pop(account_id, None)

    def limit(self, account: str, region: str) -> Limit:
        """The concurrency limit the calls to ``(account, region)`` share."""
        return self._limits.limit(account, region, self.config.concurrency_per_account_region)

    # -- resolution ----------------------------------------------------------------------------

    def _require_database(self) -> Database:
        if self._database is None:
            raise AwsAccessError("this AwsClients has no database: give one to reach accounts")
        return self._database

    async def _account(self, account_id: str) -> tuple[AccountInfo, _Source]:
        cached = self._cached_account(account_id)
        if cached is not None:
            return cached
        # A fan-out asks for the clients of all of an account's regions at once: one read
        # of the registry for all of them, not one each.
        async with self._account_locks.setdefault(account_id, asyncio.Lock()):
            return self._cached_account(account_id) or await self._read_account(account_id)

    def _cached_account(self, account_id: str) -> tuple[AccountInfo, _Source] | None:
        cached = self._accounts.get(account_id)
        if cached is None or cached[0] <= time.monotonic():
            return None
        return cached[1], cached[2]

    async def _read_account(self, account_id: str) -> tuple[AccountInfo, _Source]:
        from sqlmodel import select

        from pcm_aws_common.models import AwsAccount, AwsCredentialSource

        async with self._require_database().session() as session:
            statement = select(AwsAccount).where(AwsAccount.account_id == account_id)
            row = (await session.exec(statement)).first()
            if row is None:
                raise AccountNotFound(
                    f"account {account_id} is not in the accounts registry; add it under "
                    "/tools/aws/common/accounts or with `pcm-ops aws accounts add`"
                )
            source_row = await session.get(AwsCredentialSource, row.credential_source_id)
            if source_row is None:  # the foreign key prevents it; be clear anyway
                raise SourceNotFound(f"account {account_id} names a missing credential source")
            info, source = _account_info(row), source_of(source_row)
        expires = time.monotonic() + self.config.account_cache_seconds
        self._accounts[account_id] = (expires, info, source)
        return info, source

    async def _source(self, source_id: int, owner_id: int | None) -> _Source:
        from pcm_aws_common.models import AwsCredentialSource

        async with self._require_database().session() as session:
            row = await session.get(AwsCredentialSource, source_id)
            if row is None or (row.owner_id is not None and row.owner_id != owner_id):
                raise SourceNotFound(f"credential source {source_id} does not exist")
            return source_of(row)

    async def _resolve(
        self,
        *,
        account: str | AccountInfo | None,
        source: int | None,
        role_arn: str | None,
        external_id: str | None,
        session_duration: int | None,
        owner_id: int | None,
    ) -> _Reach:
        if (account is None) == (source is None):
            raise TypeError("give exactly one of account= and source=")
        if account is not None:
            account_id = account.account_id if isinstance(account, AccountInfo) else account
            info, source_data = await self._account(account_id)
            if source_data.owner_id is not None:
                raise AwsAccessError(
                    f"{info.label} uses personal {source_data.label}; registry accounts need "
                    "a shared credential source"
                )
            return self._checked_reach(
                _Reach(
                    source=source_data,
                    partition=info.partition,
                    account=info.account_id,
                    label=info.label,
                    role_arn=info.role_arn,
                    external_id=info.external_id,
                    duration=info.session_duration_seconds,
                    regions=info.regions,
                )
            )
        assert source is not None
        source_data = await self._source(source, owner_id)
        if role_arn is not None:
            match = ROLE_ARN.match(role_arn)
            if match is None:
                raise AwsAccessError(f"{role_arn!r} is not an IAM role ARN")
            target, label = match.group("account"), f"account {match.group('account')}"
        else:
            target, label = f"source:{source_data.id}", source_data.label
        return self._checked_reach(
            _Reach(
                source=source_data,
                partition=source_data.partition,
                account=target,
                label=label,
                role_arn=role_arn,
                external_id=external_id,
                duration=session_duration or 3600,
            )
        )

    @staticmethod
    def _checked_reach(reach: _Reach) -> _Reach:
        source = reach.source
        if source.partition != reach.partition:
            raise PartitionBoundaryError(
                f"{reach.label} is in partition {partition_label(reach.partition)} but its "
                f"{source.label} is in {partition_label(source.partition)}: AssumeRole never "
                "crosses a partition boundary; use a credential source of the account's "
                "partition"
            )
        if reach.role_arn is not None:
            role_partition = partition_of_arn(reach.role_arn)
            if role_partition != reach.partition:
                raise PartitionBoundaryError(
                    f"cannot assume {reach.role_arn} for {reach.label}: the role is in "
                    f"partition {role_partition!r} but the credentials are in "
                    f"{partition_label(reach.partition)}; AssumeRole never crosses a "
                    "partition boundary"
                )
        return reach

    def _region_for(self, reach: _Reach, region: str | None) -> str:
        if region is None:
            return DEFAULT_REGIONS[reach.partition]
        partition = catalog()[reach.partition]
        if region not in partition.region_ids:
            raise RegionNotAllowed(
                f"region {region!r} is not in partition {partition_label(reach.partition)} "
                f"of {reach.label}"
            )
        if reach.regions is not None and region not in reach.regions:
            enabled = ", ".join(reach.regions) or "none"
            raise RegionNotAllowed(
                f"region {region!r} is not enabled for {reach.label} (enabled: {enabled})"
            )
        return region

    # -- sessions and credentials --------------------------------------------------------------

    def _new_session(self, profile: str | None = None) -> AioSession:
        from aiobotocore.session import AioSession

        from pcm_aws_common.services.parsing import ResponseParserFactory

        session = AioSession(profile=profile)
        # One loader for every session: service models and endpoint data are parsed once
        # per process instead of once per session.
        session.register_component("data_loader", _shared_loader())
        # JSON bodies read by a plan per output shape (see services.parsing), timestamps
        # without dateutil (the same instants; see services.timestamps).
        parsers = ResponseParserFactory()
        parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
        session.register_component("response_parser_factory", parsers)
        session.register("before-call", self.api_calls.before_call)
        session.register("after-call", self.api_calls.after_call)
        session.register("creating-client-class", _add_limit_mixin)
        return session

    def _source_session(self, source: _Source) -> AioSession:
        """A new session that resolves the source's own credentials."""
        if source.kind == "profile":
            return self._new_session(profile=source.profile_name)
        session = self._new_session()
        if source.kind == "keys":
            if not (source.access_key_id and source.secret_access_key):
                raise AwsAccessError(f"{source.label} has no access keys")
            session.set_credentials(
                source.access_key_id, source.secret_access_key, source.session_token
            )
        return session

    def _credentials_key(self, reach: _Reach, user: str | None) -> tuple[Any, ...]:
        source = reach.source
        if reach.role_arn is None:
            return (source.id, source.version, None, reach.partition)
        return (
            source.id,
            source.version,
            reach.role_arn,
            reach.partition,
            reach.external_id,
            reach.duration,
            role_session_name(self.config.role_session_prefix, user),
        )

    async def _session_for(self, reach: _Reach, user: str | None) -> AioSession:
        key = self._credentials_key(reach, user)
        session = self._sessions.get(key)
        if session is not None:
            return session
        # One AssumeRole per credentials, however many clients (services, regions) of the
        # same account ask for them at once: the others wait for the first one's session.
        lock = self._session_locks.setdefault(key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(key)
            if session is not None:
                return session
            if reach.role_arn is None:
                session = self._source_session(reach.source)
            else:
                session = await self._role_session(reach, user)
            self._sessions[key] = session
        return session

    async def _role_session(self, reach: _Reach, user: str | None) -> AioSession:
        from aiobotocore.credentials import AioCredentialResolver, AioRefreshableCredentials
        from botocore.credentials import CredentialProvider

        assert reach.role_arn is not None
        session_name = role_session_name(self.config.role_session_prefix, user)

        async def refresh() -> dict[str, Any]:
            return await self._assume_role(reach, session_name, user)

        first = await refresh()
        credentials = AioRefreshableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=parse_timestamp(first["expiry_time"]),
            refresh_using=refresh,
            method="pcm-ops-assume-role",
            # botocore's default clock makes a dateutil tzlocal() each time it is read,
            # which is before every request: a few percent of a fan-out's CPU.
            time_fetcher=_utc_now,
            advisory_timeout=self.config.refresh_advisory_seconds,
            mandatory_timeout=self.config.refresh_mandatory_seconds,
        )

        class AssumedRoleProvider(CredentialProvider):  # type: ignore[misc]
            METHOD = "pcm-ops-assume-role"

            async def load(self) -> Any:
                return credentials

        session = self._new_session()
        session.register_component(
            "credential_provider", AioCredentialResolver([AssumedRoleProvider()])
        )
        return session

    async def _assume_role(
        self, reach: _Reach, session_name: str, user: str | None
    ) -> dict[str, Any]:
        assert reach.role_arn is not None
        source_reach = _Reach(
            source=reach.source,
            partition=reach.partition,
            account=f"source:{reach.source.id}",
            label=reach.source.label,
        )
        region = DEFAULT_REGIONS[reach.partition]
        parameters: dict[str, Any] = {
            "RoleArn": reach.role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": reach.duration,
        }
        if reach.external_id:
            parameters["ExternalId"] = reach.external_id
        if self.config.set_source_identity and user:
            parameters["SourceIdentity"] = _SESSION_NAME_CHARACTERS.sub("-", user)[:64]
        # AssumeRole runs while another call may hold the account-region permit it refreshes
        # credentials for: the source's STS client is not limited, so it can never wait for
        # a permit its own caller holds.
        entry = await self._pooled_client(source_reach, None, "sts", region, limited=False)
        entry.in_use += 1
        try:
            response = await entry.client.assume_role(**parameters)
        except AwsAccessError:
            raise
        except Exception as exc:
            code, message = aws_error(exc)
            raise AssumeRoleError(
                reach.account, reach.role_arn, code, message, label=reach.label
            ) from None
        finally:
            entry.in_use -= 1
        returned = response["Credentials"]
        logger.info(
            "assumed %s for %s as session %s (expires %s)",
            reach.role_arn,
            reach.label,
            session_name,
            returned["Expiration"],
        )
        return {
            "access_key": returned["AccessKeyId"],
            "secret_key": returned["SecretAccessKey"],
            "token": returned["SessionToken"],
            "expiry_time": returned["Expiration"].isoformat(),
        }

    # -- the client pool -----------------------------------------------------------------------

    def _client_config(self, *, retries: bool = True) -> Any:
        from aiobotocore.config import AioConfig

        from pcm_aws_common import __version__
        from pcm_aws_common.services.tls import SharedTlsSession

        # Without retries, a call is made once: botocore never sends it again by itself.
        attempts = self.config.max_attempts if retries else 1
        return AioConfig(
            retries={"mode": "adaptive", "total_max_attempts": attempts},
            max_pool_connections=self.config.max_pool_connections,
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            user_agent_extra=f"pcm-aws-common/{__version__}",
            # One TLS context (and CA bundle load) per process, not one per client.
            http_session_cls=SharedTlsSession,
        )

    async def _pooled_client(
        self,
        reach: _Reach,
        user: str | None,
        service: str,
        region: str,
        *,
        limited: bool,
        retries: bool = True,
    ) -> _PooledClient:
        if self._closed:
            raise AwsAccessError("this AwsClients is closed")
        endpoint = self.config.endpoint_for(service)
        key = (*self._credentials_key(reach, user), service, region, endpoint, limited, retries)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._clients.get(key)
            if entry is not None:
                self._clients.move_to_end(key)
            else:
                session = await self._session_for(reach, user)
                context = session.create_client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint,
                    config=self._client_config(retries=retries),
                )
                client = await context.__aenter__()
                client._pcm_account = reach.account
                if limited:
                    client._pcm_limit = self.limit(reach.account, region)
                entry = _PooledClient(client=client, context=context)
                self._clients[key] = entry
                await self._evict_idle()
            session = await self._session_for(reach, user)
        await self._ensure_credentials(session, reach)
        return entry

    async def _ensure_credentials(self, session: AioSession, reach: _Reach) -> None:
        """Resolve (and refresh when due) the credentials now, so that a missing default
        chain or a refused AssumeRole is reported when the client is asked for."""
        try:
            credentials = await session.get_credentials()
        except AwsAccessError:
            raise
        except Exception as exc:
            code, message = aws_error(exc)
            raise AwsAccessError(f"{reach.source.label}: {code}: {message}") from None
        if credentials is None:
            raise AwsAccessError(_no_credentials(reach.source))
        get_frozen = getattr(credentials, "get_frozen_credentials", None)
        if get_frozen is not None:
            await get_frozen()

    async def _evict_idle(self) -> None:
        while len(self._clients) > self.config.max_cached_clients:
            idle = next((key for key, entry in self._clients.items() if entry.in_use == 0), None)
            if idle is None:
                return
            await self._close(self._clients.pop(idle))

    async def _forget(self, matches: Any) -> None:
        for key in [key for key in self._sessions if matches(key)]:
            del self._sessions[key]
        for key in [key for key in self._clients if matches(key)]:
            entry = self._clients.pop(key)
            if entry.in_use == 0:
                await self._close(entry)
            else:  # no longer handed out; closed with the factory
                self._retired.append(entry)

    @staticmethod
    async def _close(entry: _PooledClient) -> None:
        try:
            await entry.context.__aexit__(None, None, None)
        except Exception:  # closing is best effort; a broken connection is already gone
            logger.debug("closing an AWS client failed", exc_info=True)


def _utc_now() -> datetime:
    """The clock of assumed-role credentials (aware, as their expiry time is)."""
    return datetime.now(UTC)


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def _no_credentials(source: _Source) -> str:
    if source.kind == "default":
        return (
            f"{source.label}: the host's default credential chain found no credentials "
            "(environment, shared files, container or instance role)"
        )
    return f"{source.label}: no credentials found"


def _is_configuration_error(exc: BaseException) -> bool:
    from botocore.exceptions import (
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    return isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound)


def _account_info(row: Any) -> AccountInfo:
    return AccountInfo(
        account_id=row.account_id,
        name=row.name,
        partition=row.partition_id,
        regions=tuple(row.regions),
        tags=dict(row.tags),
        credential_source_id=row.credential_source_id,
        role_arn=row.role_arn,
        external_id=row.external_id,
        session_duration_seconds=row.session_duration_seconds,
        description=row.description,
    )


def source_of(row: Any) -> _Source:
    """A credential source row as the factory uses it (secrets included, never printed)."""
    return _Source(
        id=row.id,
        name=row.name,
        partition=row.partition_id,
        kind=row.kind,
        profile_name=row.profile_name,
        owner_id=row.owner_id,
        version=row.updated_at.isoformat(),
        expires_at=row.expires_at,
        access_key_id=row.access_key_id,
        secret_access_key=row.secret_access_key,
        session_token=row.session_token,
    )
