"""moto in server mode with PCM-Ops' extensions, and the handle tests drive it with.

:class:`MotoAws` starts moto's ``ThreadedMotoServer`` on 127.0.0.1 (a free port) with the
WSGI layer of :mod:`~pcm_aws_common.testing.middleware` in front, installs the SSM and STS
extensions, and prepares what tests need through moto's own API (IAM users with access
keys, roles, EC2 instances, an organization), each in the account and partition asked for.

moto derives a request's account from its access key (the account whose IAM user owns the
key; unknown keys fall into 123456789012), and its partition from the region it is signed
for: ``us-gov-*`` regions give ``arn:aws-us-gov:...`` ARNs. So an account is simply "an
IAM user with a key in that account"; the harness creates those with moto's
``x-moto-account-id`` header.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from pcm_aws_common.testing import ssm, sts
from pcm_aws_common.testing.controls import CONTROLS, ServerControls
from pcm_aws_common.testing.middleware import PcmMotoMiddleware
from pcm_aws_common.testing.ssm import SsmControl

#: The role the harness creates in every account, and its longest session.
ROLE_NAME = "PcmOpsAccess"
USER_NAME = "pcm-ops"
HOME_REGIONS = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1"}
#: An Amazon Linux and a Windows AMI of moto's defaults, which every region has
#: (moto/ec2/resources/amis.json): found by id, a lookup; a search by name or platform
#: takes about a second in each new region.
_KNOWN_IMAGES = {False: "ami-760aaa0f", True: "ami-b7e93bce"}
#: How to find one where moto was given other AMIs (MOTO_AMIS_PATH).
_IMAGE_FILTERS = {
    False: [{"Name": "name", "Values": ["amzn*"]}],
    True: [{"Name": "platform", "Values": ["windows"]}],
}


@dataclass(frozen=True)
class MotoAccount:
    """An account the harness prepared: its keys, its role and its instances."""

    account_id: str
    partition: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    user_arn: str
    role_arn: str
    instance_ids: tuple[str, ...] = ()

    @property
    def credentials(self) -> dict[str, str]:
        """``aws_access_key_id`` and ``aws_secret_access_key``, for ``create_client``."""
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }


#: What the ``moto_aws`` fixture prepares: name → (account id, partition, instances).
DEFAULT_ACCOUNTS: dict[str, tuple[str, str, int]] = {
    "management": ("111111111111", "aws", 2),
    "member": ("222222222222", "aws", 2),
    "govcloud": ("333333333333", "aws-us-gov", 2),
}


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # werkzeug logs each request
        pass


class PcmMotoServer(ThreadedMotoServer):
    """moto's threaded server with :class:`PcmMotoMiddleware` in front of its application.

    ``_server_entry`` is ThreadedMotoServer's one method that builds the WSGI server; it is
    the only thing overridden, with the same server and request handler, or (``keep_alive``)
    waitress instead of werkzeug's server.

    :param listening: a socket already bound and listening on the loopback, to serve on
        instead of binding ``port`` (its address can be handed out before the server starts:
        requests wait in its backlog).
    :param keep_alive: serve with waitress, which keeps HTTP/1.1 connections open between
        requests as AWS's endpoints do. werkzeug's development server closes the connection
        after every answer, so each call costs the client a new TCP connection that it does
        not pay against AWS (benchmarks measuring the client's CPU want this on).
    """

    def __init__(
        self, port: int = 0, listening: socket.socket | None = None, keep_alive: bool = False
    ) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._listening = listening
        self._keep_alive = keep_alive

    def _server_entry(self) -> None:
        app = PcmMotoMiddleware(DomainDispatcherApplication(create_backend_app))
        if self._keep_alive:
            server = _KeepAliveServer(app, self._ip_address, self._port, self._listening)
            self._server = server  # type: ignore[assignment]
            self._server_ready_event.set()
            server.serve_forever()
            return
        fd = self._listening.fileno() if self._listening is not None else None
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=_QuietHandler, fd=fd
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class _KeepAliveServer:
    """waitress serving ``app``, with the part of werkzeug's server interface that
    ``ThreadedMotoServer`` uses (``server_address``, ``serve_forever``, ``shutdown``).

    Injected latency sleeps in a worker thread, so there are enough of them for every
    request a fan-out has in flight at once.
    """

    THREADS = 256

    def __init__(
        self, app: Any, host: str, port: int, listening: socket.socket | None = None
    ) -> None:
        from waitress.server import create_server  # type: ignore[import-untyped]

        logging.getLogger("waitress").setLevel(logging.ERROR)  # "task queue depth" lines
        options: dict[str, Any] = {
            "threads": self.THREADS,
            "connection_limit": 4096,
            "channel_timeout": 300,
            # poll(), not select(): a fan-out over 200 account-regions keeps more than
            # 1,024 connections open, beyond what select() takes.
            "asyncore_use_poll": True,
            "ident": "moto",
        }
        if listening is not None:
            options["sockets"] = [listening]
        else:
            options.update(host=host, port=port)
        self._server: Any = create_server(app, **options)
        self.server_address = (self._server.effective_host, self._server.effective_port)

    def serve_forever(self) -> None:
        self._server.run()

    def shutdown(self) -> None:
        """Close every channel and the listening socket (the loop ends when none is left),
        then stop the worker threads."""
        server = self._server
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for channel in list(server._map.values()):
            channel.handle_close()


class MotoAws:
    """A running extended moto server, the accounts prepared in it, and its controls.

    Use it as a context manager, or :meth:`start` and :meth:`stop`::

        with MotoAws() as aws:
            prod = aws.add_account("111111111111", instances=2)
            gov = aws.add_account("333333333333", partition="aws-us-gov")
            aws.set_latency(0.05, service="ssm")
            aws.ssm.set_default_outcome(status="InProgress")

    Attributes:
        ssm: the SSM extension's controls (:class:`~pcm_aws_common.testing.ssm.SsmControl`).
        controls: latency, authentication, assumed-role lifetimes, request counts
            (:class:`~pcm_aws_common.testing.controls.ServerControls`).
        accounts: the prepared accounts by account id.

    :param port: the port to bind on 127.0.0.1 (0: a free one).
    :param listening: or a socket bound on 127.0.0.1 and listening, to serve on: its
        address can be handed out before moto starts. The server closes it when it stops.
    :param keep_alive: keep connections open between requests, as AWS does
        (:class:`PcmMotoServer`; off: werkzeug's server, which closes each one).
    """

    def __init__(
        self, port: int = 0, *, listening: socket.socket | None = None, keep_alive: bool = False
    ) -> None:
        self._listening = listening
        self._server = PcmMotoServer(port, listening, keep_alive)
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._images: dict[tuple[str, bool], str] = {}
        #: One botocore session for the harness's clients: it reads each service model once.
        self._botocore_session: Any = None
        self._lock = threading.Lock()
        self.ssm = SsmControl()
        self.controls: ServerControls = CONTROLS
        self.accounts: dict[str, MotoAccount] = {}
        #: Accounts prepared under a name (:meth:`prepare_defaults`: ``management``,
        #: ``member``, ``govcloud``).
        self.named: dict[str, MotoAccount] = {}
        self.endpoint_url = ""

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> MotoAws:
        ssm.install()
        sts.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._server.stop()
        if self._listening is not None:
            self._listening.close()

    def __enter__(self) -> MotoAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget everything: moto's data (``/moto-api/reset``), the prepared accounts, the
        SSM outcomes and the controls."""
        url = f"{self.endpoint_url}/moto-api/reset"  # our own server on the loopback
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass
        self.accounts.clear()
        self.named.clear()
        self.reset_controls()

    def reset_controls(self) -> None:
        """Controls and SSM outcomes back to their defaults; moto's data stays."""
        self.controls.reset()
        self.ssm.reset()

    # -- controls ------------------------------------------------------------------------------

    def set_latency(
        self, seconds: float, *, service: str | None = None, operation: str | None = None
    ) -> None:
        """Delay requests by ``seconds`` (all, one service's, or one operation's)."""
        self.controls.set_latency(seconds, service=service, operation=operation)

    def set_assume_role_duration(self, seconds: int | None) -> None:
        """Assumed-role credentials handed out from now on expire after ``seconds`` (and
        the server refuses them after that); ``None``: as asked (DurationSeconds)."""
        self.controls.assume_role_seconds = seconds

    def requests(self, service: str | None = None, operation: str | None = None) -> int:
        """How many authenticated requests the server received."""
        return self.controls.requests(service, operation)

    # -- preparing the world -------------------------------------------------------------------

    def harness_client(self, service: str, account_id: str, region: str = "us-east-1") -> Any:
        """A synchronous botocore client that acts in ``account_id`` as the harness (never
        refused by the server's authentication)."""
        key = (service, account_id, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import botocore.session

                if self._botocore_session is None:
                    self._botocore_session = botocore.session.get_session()
                client = self._botocore_session.create_client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="HARNESS",
                    aws_secret_access_key="HARNESS",  # noqa: S106 - moto ignores it
                )

                def name_account(request: Any, **_: Any) -> None:
                    request.headers["x-moto-account-id"] = account_id

                client.meta.events.register("before-sign", name_account)
                self._clients[key] = client
        return client

    def add_account(
        self,
        account_id: str,
        *,
        partition: str = "aws",
        region: str | None = None,
        instances: int = 0,
        instance_tags: dict[str, str] | None = None,
        role_name: str = ROLE_NAME,
        max_session_duration: int = 43200,
    ) -> MotoAccount:
        """An IAM user with an access key in ``account_id``, a role the platform can assume,
        and ``instances`` running EC2 instances in ``region`` (default: the partition's home
        region)."""
        if partition not in HOME_REGIONS:
            raise ValueError(f"partition must be one of {sorted(HOME_REGIONS)}")
        region = region or HOME_REGIONS[partition]
        iam = self.harness_client("iam", account_id, HOME_REGIONS[partition])
        try:
            user = iam.get_user(UserName=USER_NAME)["User"]
        except iam.exceptions.NoSuchEntityException:
            user = iam.create_user(UserName=USER_NAME)["User"]
        key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
        try:
            role = iam.get_role(RoleName=role_name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust),
                MaxSessionDuration=max_session_duration,
            )["Role"]
        instance_ids = (
            self.add_instances(account_id, region, instances, tags=instance_tags)
            if instances
            else []
        )
        account = MotoAccount(
            account_id=account_id,
            partition=partition,
            region=region,
            access_key_id=key["AccessKeyId"],
            secret_access_key=key["SecretAccessKey"],
            user_arn=user["Arn"],
            role_arn=role["Arn"],
            instance_ids=tuple(instance_ids),
        )
        self.accounts[account_id] = account
        return account

    def prepare_defaults(self) -> dict[str, MotoAccount]:
        """Prepare :data:`DEFAULT_ACCOUNTS`: two Commercial accounts and a GovCloud one, each
        with a key, the role ``PcmOpsAccess`` and two running instances in its home region.
        """
        for name, (account_id, partition, instances) in DEFAULT_ACCOUNTS.items():
            if name not in self.named:
                self.named[name] = self.add_account(
                    account_id, partition=partition, instances=instances
                )
        return dict(self.named)

    def account(self, name: str) -> MotoAccount:
        """A prepared account by name (``management``, ``member``, ``govcloud``)."""
        try:
            return self.named[name]
        except KeyError:
            raise KeyError(
                f"no account is prepared as {name!r}; known: {sorted(self.named)}"
            ) from None

    def add_role(
        self,
        account_id: str,
        role_name: str,
        *,
        partition: str = "aws",
        max_session_duration: int = 43200,
    ) -> str:
        """Create a role in ``account_id``; return its ARN."""
        iam = self.harness_client("iam", account_id, HOME_REGIONS[partition])
        role = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            MaxSessionDuration=max_session_duration,
        )["Role"]
        return str(role["Arn"])

    def add_instances(
        self,
        account_id: str,
        region: str,
        count: int = 1,
        *,
        tags: dict[str, str] | None = None,
        windows: bool = False,
    ) -> list[str]:
        """Start ``count`` running EC2 instances (Linux, or Windows); return their ids."""
        ec2 = self.harness_client("ec2", account_id, region)
        image = self._images.get((region, windows))
        if image is None:
            found = ec2.describe_images(
                Owners=["amazon"],
                Filters=[{"Name": "image-id", "Values": [_KNOWN_IMAGES[windows]]}],
            )
            if not found["Images"]:
                found = ec2.describe_images(Owners=["amazon"], Filters=_IMAGE_FILTERS[windows])
            image = self._images[(region, windows)] = found["Images"][0]["ImageId"]
        parameters: dict[str, Any] = {
            "ImageId": image,
            "MinCount": count,
            "MaxCount": count,
            "InstanceType": "t3.micro",
        }
        if tags:
            parameters["TagSpecifications"] = [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ]
        reservation = ec2.run_instances(**parameters)
        return [instance["InstanceId"] for instance in reservation["Instances"]]

    def stop_instances(self, account_id: str, region: str, instance_ids: list[str]) -> None:
        self.harness_client("ec2", account_id, region).stop_instances(InstanceIds=instance_ids)

    def ensure_organization(
        self,
        management_account_id: str,
        members: int,
        *,
        partition: str = "aws",
        name_prefix: str = "member",
    ) -> list[dict[str, Any]]:
        """An organization whose management account is ``management_account_id``, with at
        least ``members`` member accounts (created with moto's CreateAccount, which picks
        their ids). Returns every account of the organization, as ListAccounts does."""
        client = self.harness_client(
            "organizations", management_account_id, HOME_REGIONS[partition]
        )
        try:
            client.describe_organization()
        except client.exceptions.AWSOrganizationsNotInUseException:
            client.create_organization(FeatureSet="ALL")
        existing = _list_all(client)
        have = sum(1 for account in existing if account["Id"] != management_account_id)
        for number in range(have, members):
            client.create_account(
                AccountName=f"{name_prefix}-{number + 1:02d}",
                Email=f"{name_prefix}-{number + 1:02d}@example.com",
            )
        return _list_all(client)

    def profiles_file(self, directory: Path) -> tuple[Path, Path]:
        """Write AWS ``config`` and ``credentials`` files with a profile per prepared account
        (named after the account id) into ``directory``; returns their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        config, credentials = directory / "config", directory / "credentials"
        config.write_text(
            "".join(
                f"[profile {a.account_id}]\nregion = {a.region}\n\n" for a in self.accounts.values()
            )
        )
        credentials.write_text(
            "".join(
                f"[{a.account_id}]\naws_access_key_id = {a.access_key_id}\n"
                f"aws_secret_access_key = {a.secret_access_key}\n\n"
                for a in self.accounts.values()
            )
        )
        return config, credentials


def _list_all(client: Any) -> list[dict[str, Any]]:
    accounts: list[dict[str, Any]] = []
    for page in client.get_paginator("list_accounts").paginate():
        accounts.extend(page["Accounts"])
    return accounts
