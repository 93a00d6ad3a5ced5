"""The manifests work when run: every container of the rendered ``production`` overlay and
every PCM-Ops service of ``compose.yaml`` is started with its exact command, arguments and
environment, as processes from the wheels in a fresh virtual environment, on PostgreSQL.

An installation (Kubernetes, then compose) runs: the migrations job; the API servers and
the workers (executor ids as the StatefulSet gives them: its pods' names); an account and a
small fleet registered in a fake AWS (moto in server mode) through an API server; an
execution started through another; the worker that runs it killed with SIGKILL while it is
in flight; the janitor's command; the worker started again under the same name. The
execution completes with every batch sent exactly once, and the stored AWS credentials are
still readable by processes started again, while a process with another key refuses to start.

Only what cannot exist on a test machine is replaced, and the tests check that nothing
else is: ``/data`` (a volume) becomes a directory per process, the API's port 8500 and a
worker's metrics port 9464 a free port (the pods each have their own address), the compose
database URL
(host ``postgres``) the test's database, and the Secret the operator creates (database URL,
key from ``pcm-ops secrets generate-key``) gets the test's values. A few settings are added
as an operator would add them to the ConfigMap (or compose environment): the AWS endpoint of
the fake, and short poll intervals, never a key the manifests set.

Slow (builds the wheels, installs them, starts a dozen processes) and needs PostgreSQL:
skipped, saying why, when ``PCM_TEST_POSTGRES_URL`` is unset or its server does not answer.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO_DIR = Path(__file__).resolve().parents[3]
INFRA_DIR = REPO_DIR / "infra"
#: What infra/Dockerfile installs: every distribution's wheel (``dist/``), core's with
#: the ``postgres`` extra.
DISTRIBUTIONS = (
    REPO_DIR / "core",
    *sorted(p.parent for p in (REPO_DIR / "plugins").glob("*/pyproject.toml")),
)
#: The path every manifest mounts its scratch volume (and the image's PCM_DATA_DIR) at.
VOLUME = "/data"
API_PORT = "8500"
#: A worker's metrics port (worker.yaml, compose.yaml).
METRICS_PORT = "9464"

SCRIPT_RUNNER = "/api/tools/aws/script-runner"
AWS_COMMON = "/api/tools/aws/common"
#: Settings an operator adds for this installation: quick polls, so that the test is short.
QUICK = {
    "PCM_JOBS_QUEUE_POLL_SECONDS": "0.2",
    "PCM_AWS_SCRIPT_RUNNER__POLL_INTERVAL_SECONDS": "0.2",
    "PCM_AWS_SCRIPT_RUNNER__MAX_POLL_INTERVAL_SECONDS": "0.5",
}
REFUSAL = "refusing to start: the secret key(s) of this process"


# -- what the manifests say --------------------------------------------------------------------


@dataclass(frozen=True)
class Container:
    """One process as a manifest describes it: its arguments and the environment the
    platform gives it (image ``ENV``, then the manifest's), before anything is localised."""

    source: str
    argv: tuple[str, ...]
    env: dict[str, str]
    #: The HTTP path that says the process is ready (readiness probe), if it serves.
    ready_path: str | None = None


def image_environment() -> dict[str, str]:
    """The ``ENV`` instructions of infra/Dockerfile."""
    text = (INFRA_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def kubernetes_containers(
    documents: list[dict[str, Any]], secret: dict[str, str]
) -> dict[str, Callable[[str], Container]]:
    """Each workload's container (``kind/name``) as a function of its pod's name, with
    the environment Kubernetes gives it: ``envFrom`` ConfigMaps, then ``env`` (values,
    ``secretKeyRef`` into ``secret``, ``fieldRef: metadata.name``)."""
    config_maps = {
        d["metadata"]["name"]: dict(d.get("data", {}))
        for d in documents
        if d["kind"] == "ConfigMap"
    }
    made: dict[str, Callable[[str], Container]] = {}
    for document in documents:
        if document["kind"] not in {"Deployment", "StatefulSet", "Job", "CronJob"}:
            continue
        (container,) = _pod_spec(document)["containers"]

        def make(pod: str, document: Any = document, container: Any = container) -> Container:
            env = image_environment()
            for source in container.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            for entry in container.get("env", []):
                if "value" in entry:
                    env[entry["name"]] = entry["value"]
                elif "secretKeyRef" in entry["valueFrom"]:
                    reference = entry["valueFrom"]["secretKeyRef"]
                    assert reference["name"] == "pcm-ops", reference
                    env[entry["name"]] = secret[reference["key"]]
                else:
                    assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", entry
                    env[entry["name"]] = pod
            probe = container.get("readinessProbe", {}).get("httpGet", {})
            return Container(
                source=f"{document['kind']}/{document['metadata']['name']}/{pod}",
                argv=(*container["command"], *container.get("args", [])),
                env=env,
                ready_path=probe.get("path"),
            )

        made[f"{document['kind']}/{document['metadata']['name']}"] = make
    return made


_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}"
)


def interpolate(value: str, shell: dict[str, str]) -> str:
    """Compose's interpolation of ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        if shell.get(name):
            return shell[name]
        if op == ":?":
            raise AssertionError(f"compose would refuse to start: {arg}")
        return str(arg or "")  # ${VAR:-default}, or empty for an unset ${VAR}

    return _INTERPOLATION.sub(replace, value)


def compose_containers(compose: dict[str, Any], shell: dict[str, str]) -> dict[str, Container]:
    """Each PCM-Ops service of compose.yaml as compose starts it: ``entrypoint`` then
    ``command``, and the image's environment with the service's, interpolated from
    ``shell`` (the environment or ``.env`` compose reads)."""
    containers = {}
    for name, service in compose["services"].items():
        if not str(service.get("image", "")).startswith("pcm-ops"):
            continue
        env = image_environment()
        env.update({k: interpolate(str(v), shell) for k, v in service["environment"].items()})
        argv = [*service.get("entrypoint", []), *service["command"]]
        containers[name] = Container(
            source=f"compose/{name}",
            argv=tuple(interpolate(a, shell) for a in argv),
            env=env,
            ready_path="/readyz" if "serve" in service["command"] else None,
        )
    return containers


# -- running them here ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Process:
    container: Container
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes]
    url: str | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while text not in self.output():
            assert self.popen.poll() is None, f"{self.container.source} exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.container.source}:\n{self.output()}"
            time.sleep(0.05)

    def finished(self, limit: float = 120) -> int:
        """Wait for the process to end; its exit status."""
        try:
            return self.popen.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.container.source} did not finish:\n{self.output()}")

    def ready(self, limit: float = 60) -> None:
        if self.container.ready_path is None:
            self.wait_for("running jobs from", limit)
            return
        deadline = time.monotonic() + limit
        while True:
            assert self.popen.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}{self.container.ready_path}", timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.output()
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the process and anything it started."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 25) -> None:
        """SIGTERM, as the platform stops a container, then SIGKILL after ``grace``."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Host:
    """Runs containers as processes of the fresh environment, each in a directory of its own
    standing for its ``/data`` volume; stops them all at the end."""

    bin: Path
    root: Path
    #: Settings added for this installation (an operator's ConfigMap entries).
    added: dict[str, str]
    #: Names whose manifest value names a host that cannot exist here, with the value used.
    replaced: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)

    def localise(self, container: Container, data_dir: Path) -> tuple[list[str], dict[str, str]]:
        assert not set(self.added) & set(container.env), "added settings never override"
        env = {**container.env, **self.added, **self.replaced}
        assert env["PCM_DATA_DIR"] == VOLUME, container.source
        env["PCM_DATA_DIR"] = str(data_dir)
        env["HOME"] = str(data_dir)  # the image's user has /data as its home
        env["PATH"] = f"{self.bin}:/usr/bin:/bin"
        argv = list(container.argv)
        ports = []
        for option, manifest_port in (("--port", API_PORT), ("--metrics-port", METRICS_PORT)):
            if option in argv:
                port = argv.index(option) + 1
                assert argv[port] == manifest_port, container.source
                argv[port] = str(free_port())  # several processes share this host
                ports.append(port)
        # Nothing else differs from the manifest.
        changed = {k for k in container.env if env[k] != container.env[k]}
        assert changed <= {"PCM_DATA_DIR", *self.replaced}, (container.source, changed)
        assert [i for i, a in enumerate(argv) if a != container.argv[i]] == sorted(ports)
        return argv, env

    def start(self, container: Container) -> Process:
        name = container.source.replace("/", "_")
        data_dir = self.root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        argv, env = self.localise(container, data_dir)
        log = self.root / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as handle:
            # argv[0] is found on env's PATH, as the container's shell would find it.
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=data_dir,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(container, argv, env, log, popen)
        self.processes.append(process)
        if "--port" in argv:
            process.url = f"http://127.0.0.1:{argv[argv.index('--port') + 1]}"
        return process

    def run(self, *containers: Container, limit: float = 120) -> list[Process]:
        """Start processes that end by themselves (Jobs), all at once; wait for them."""
        processes = [self.start(container) for container in containers]
        for process in processes:
            process.finished(limit)
        return processes

    def up(self, *containers: Container) -> list[Process]:
        """Start long-running processes, all at once; wait until each is ready: an API
        server's readiness probe answers 200, a worker takes jobs."""
        processes = [self.start(container) for container in containers]
        for process in processes:
            process.ready()
        return processes

    def stop_all(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        for process in self.processes:
            process.stop()


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("PCM_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PCM_TEST_POSTGRES_URL is not set: the manifests run on PostgreSQL only")
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        sqlalchemy.make_url(url).set(drivername="postgresql+psycopg"),
        connect_args={"connect_timeout": 5},
    )
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL at PCM_TEST_POSTGRES_URL does not answer: {exc.orig}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A database of its own for one installation, dropped afterwards."""
    import sqlalchemy

    server = sqlalchemy.make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = f"pcm_processes_{secrets.token_hex(4)}"
    engine = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            sqlalchemy.make_url(postgres_url)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with engine.connect() as connection:
            connection.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            # FORCE (PostgreSQL 13+): a process of the test that is still stopping may
            # have connected again since the terminate above.
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="module")
def installed(
    postgres_url: str,
    build_wheel: Callable[[Path], Path],
    fresh_venv: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The ``bin`` of a fresh environment with every distribution's wheel, as the image has
    them (infra/Dockerfile: core with ``[postgres]``)."""
    dockerfile = (INFRA_DIR / "Dockerfile").read_text()
    assert "pcm_ops_core-.*\\.whl$|&[postgres]" in dockerfile, "the image's core extra changed"
    wheels = [build_wheel(directory) for directory in DISTRIBUTIONS]
    requirements = [f"{w}[postgres]" if w.name.startswith("pcm_ops_core-") else w for w in wheels]
    return fresh_venv(tmp_path_factory.mktemp("image") / "venv", *requirements)


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    """moto in server mode with PCM-Ops' extensions (pcm-aws-common's test support)."""
    testing = pytest.importorskip("pcm_aws_common.testing")
    with testing.MotoAws() as server:
        yield server


@pytest.fixture
def host(installed: Path, aws: Any, tmp_path: Path) -> Iterator[Host]:
    running = Host(
        bin=installed,
        root=tmp_path,
        added={"PCM_AWS_COMMON__ENDPOINT_URL": aws.endpoint_url, **QUICK},
    )
    try:
        yield running
    finally:
        running.stop_all()
        aws.reset_controls()


def generate_key(host: Host) -> str:
    completed = subprocess.run(
        [str(host.bin / "pcm-ops"), "secrets", "generate-key"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout.strip()


# -- an installation, as its operators use it ---------------------------------------------------


@dataclass
class Installation:
    """The containers of one installation, by role; ``*_as(pod)`` for the many-pod ones."""

    migrate: Container
    janitor: Container
    api_as: Callable[[str], Container]
    worker_as: Callable[[str], Container]
    api_pods: tuple[str, ...]
    worker_pods: tuple[str, ...]
    #: How the janitor is run: to completion (a CronJob's Job), or until its first round
    #: is printed (compose's loop).
    janitor_loops: bool
    #: A process that is started with another key (and must refuse to start).
    stranger: Container


class Api:
    """An operator's HTTP client of one API server."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == expected, (method, path, response.text)
        return response.json() if response.content else None

    def wait(self, path: str, done: Callable[[Any], bool], limit: float = 60) -> Any:
        deadline = time.monotonic() + limit
        while not done(body := self.call("GET", path)):
            assert time.monotonic() < deadline, f"{path} is still {body}"
            time.sleep(0.1)
        return body


def operate(installation: Installation, host: Host, aws: Any) -> None:
    from pcm_aws_common.testing import InvocationOutcome

    # The migrations Job; then the servers and workers start while an operator makes an
    # admin and a token (``kubectl exec`` / ``docker compose run``).
    (migrated,) = host.run(installation.migrate)
    assert migrated.popen.returncode == 0, migrated.output()
    servers = [host.start(installation.api_as(pod)) for pod in installation.api_pods]
    workers = {pod: host.start(installation.worker_as(pod)) for pod in installation.worker_pods}
    admin = installation.migrate
    password = secrets.token_urlsafe(16)
    for argv in (
        ["pcm-ops", "users", "create", "ops", "--role", "admin", "--password", password],
        ["pcm-ops", "tokens", "create", "ops", "--name", "processes-test"],
    ):
        (made,) = host.run(Container(f"{admin.source}-exec", tuple(argv), admin.env))
        assert made.popen.returncode == 0, made.output()
    token = made.output().splitlines()[0].strip()
    # Meanwhile in AWS: an account with two instances in each of three regions.
    account_id = "5" + "".join(secrets.choice("0123456789") for _ in range(11))
    regions = ("us-east-1", "us-west-2", "eu-west-1")
    account = aws.add_account(account_id)
    for region in regions:
        aws.add_instances(account_id, region, 2)
    for process in [*servers, *workers.values()]:
        process.ready()
    first, last = Api(servers[0].url or "", token), Api(servers[-1].url or "", token)

    # The account registered and its inventory synced (by a worker).
    source = first.call(
        "POST",
        f"{AWS_COMMON}/credentials",
        201,
        json={
            "name": "fleet-keys",
            "partition": "aws",
            "access_key_id": account.access_key_id,
            "secret_access_key": account.secret_access_key,
            "shared": True,
        },
    )
    first.call(
        "POST",
        f"{AWS_COMMON}/accounts",
        201,
        json={
            "account_id": account_id,
            "name": "fleet",
            "partition": "aws",
            "regions": list(regions),
            "credential_source_id": source["id"],
            "role_arn": account.role_arn,
        },
    )
    check = f"{AWS_COMMON}/accounts/{account_id}/check"
    assert first.call("POST", check)["ok"] is True
    sync = last.call("POST", f"{SCRIPT_RUNNER}/inventory/sync", 202)
    synced = last.wait(
        f"/api/jobs/{sync['job_id']}", lambda j: j["state"] not in {"queued", "running"}
    )
    assert synced["state"] == "succeeded", synced
    instances = last.call(
        "GET", f"{SCRIPT_RUNNER}/inventory/instances", params={"account_id": account_id}
    )
    instance_ids = sorted(i["instance_id"] for i in instances["items"])
    assert len(instance_ids) == 6, instances

    # An execution through the other server; its first batch stays in progress.
    aws.ssm.set_default_outcome(InvocationOutcome("InProgress"))
    sends = aws.requests("ssm", "SendCommand")
    script = last.call(
        "POST",
        f"{SCRIPT_RUNNER}/scripts",
        201,
        json={"name": "uptime", "language": "shell", "body": "uptime\n", "parameters": []},
    )
    started = last.call(
        "POST",
        f"{SCRIPT_RUNNER}/executions",
        201,
        json={
            "script_id": script["id"],
            "targets": {"instance_ids": instance_ids},
            "max_concurrency": 2,
        },
    )["execution"]
    execution = f"{SCRIPT_RUNNER}/executions/{started['id']}"
    batches_path = f"{execution}/batches"
    in_flight = first.wait(
        batches_path, lambda page: any(b["status"] == "sent" for b in page["items"])
    )
    job = first.call("GET", f"/api/jobs/{started['job_id']}")
    assert job["executor_id"] in workers, job
    victim = job["executor_id"]

    # The worker running it dies; the janitor runs; the worker's pod starts it again.
    workers[victim].kill()
    janitor = host.start(installation.janitor)
    if installation.janitor_loops:  # compose's loop: its first round, then stop it
        janitor.wait_for(f"{victim}: ")
        janitor.kill()
    else:
        assert janitor.finished() == 0, janitor.output()
    # Gone for less than --stale-after: its job is left for it to resume.
    assert f"{victim}: alive" in janitor.output(), janitor.output()
    assert "Error" not in janitor.output(), janitor.output()
    first_batch = next(b for b in in_flight["items"] if b["status"] == "sent")
    aws.ssm.set_default_outcome(InvocationOutcome("Success", output="up 3 days"))
    for invocation in aws.ssm.invocations(first_batch["command_id"]):
        aws.ssm.set_invocation(
            first_batch["command_id"], invocation["instance_id"], InvocationOutcome("Success")
        )
    (workers[victim],) = host.up(installation.worker_as(victim))
    done = first.wait(execution, lambda e: e["status"] not in {"queued", "running"})

    assert done["status"] == "succeeded", done
    assert done["counts"] == {"Success": 6}, done
    batches = first.call("GET", batches_path, params={"limit": 1000})["items"]
    assert len(batches) >= 2, batches
    assert aws.requests("ssm", "SendCommand") - sends == len(batches)
    assert first_batch["command_id"] in {b["command_id"] for b in batches}
    commands = [
        command
        for region in regions
        for command in aws.harness_client("ssm", account_id, region).list_commands()["Commands"]
    ]
    stamps = sorted(c["Comment"] for c in commands)
    assert stamps == sorted(
        f"pcm-ops execution {started['id']} batch {b['number']}" for b in batches
    )

    # Started again, an API server reads the stored credentials and the migrations Job
    # passes the key check; a process with another key refuses to start.
    servers[0].stop()
    other = generate_key(host)
    stranger = installation.stranger
    stranger = Container(
        f"{stranger.source}-other-key", stranger.argv, {**stranger.env, "PCM_SECRET_KEY": other}
    )
    again = host.start(installation.api_as(f"{installation.api_pods[0]}-again"))
    remigrated, refused = host.run(installation.migrate, stranger)
    again.ready()
    assert Api(again.url or "", token).call("POST", check)["ok"] is True
    assert remigrated.popen.returncode == 0, remigrated.output()
    assert refused.popen.returncode != 0, refused.output()
    assert REFUSAL in refused.output(), refused.output()
    assert other not in refused.output()


def test_the_kubernetes_production_overlay_runs_an_execution_through_a_lost_worker(
    rendered: dict[str, list[dict[str, Any]]], host: Host, database_url: str, aws: Any
) -> None:
    documents = rendered["production"]
    key = generate_key(host)
    containers = kubernetes_containers(documents, {"database-url": database_url, "secret-key": key})
    # Every workload is run below: a new one must be added to this test.
    assert set(containers) == {
        "Job/pcm-ops-migrate",
        "Deployment/pcm-ops-api",
        "StatefulSet/pcm-ops-worker",
        "CronJob/pcm-ops-janitor",
    }
    api = containers["Deployment/pcm-ops-api"]
    worker = containers["StatefulSet/pcm-ops-worker"]
    installation = Installation(
        migrate=containers["Job/pcm-ops-migrate"]("pcm-ops-migrate-7kq2x"),
        janitor=containers["CronJob/pcm-ops-janitor"]("pcm-ops-janitor-29170000-q8vzt"),
        api_as=api,
        worker_as=worker,
        api_pods=("pcm-ops-api-6c9f8d7b5-x2k4p", "pcm-ops-api-6c9f8d7b5-m7w9d"),
        worker_pods=("pcm-ops-worker-0", "pcm-ops-worker-1"),
        janitor_loops=False,
        # The third replica of the production overlay.
        stranger=worker("pcm-ops-worker-2"),
    )
    replicas = {
        d["metadata"]["name"]: d["spec"]["replicas"]
        for d in documents
        if "replicas" in d.get("spec", {})
    }
    assert replicas["pcm-ops-api"] >= 2
    assert replicas["pcm-ops-worker"] >= 3  # pcm-ops-worker-0, -1 and -2
    assert worker("pcm-ops-worker-0").env["PCM_EXECUTOR_ID"] == "pcm-ops-worker-0"

    operate(installation, host, aws)


def test_compose_runs_an_execution_through_a_lost_worker(
    compose: dict[str, Any], host: Host, database_url: str, aws: Any
) -> None:
    key = generate_key(host)
    containers = compose_containers(compose, {"PCM_SECRET_KEY": key})
    assert set(containers) == {"migrate", "pcm-ops", "worker", "janitor"}  # all run below
    written = containers["migrate"].env["PCM_DATABASE_URL"]
    assert written.startswith("postgresql://pcm:pcm@postgres:5432/"), written
    # Host ``postgres`` is compose's PostgreSQL service: here, the test's database.
    host.replaced["PCM_DATABASE_URL"] = database_url
    worker = containers["worker"]

    def worker_as(pod: str) -> Container:
        assert pod == worker.env["PCM_EXECUTOR_ID"]
        return worker

    installation = Installation(
        migrate=containers["migrate"],
        janitor=containers["janitor"],
        api_as=lambda pod: containers["pcm-ops"],
        worker_as=worker_as,
        api_pods=("pcm-ops",),
        worker_pods=(worker.env["PCM_EXECUTOR_ID"],),
        janitor_loops=True,
        stranger=containers["pcm-ops"],
    )

    operate(installation, host, aws)
