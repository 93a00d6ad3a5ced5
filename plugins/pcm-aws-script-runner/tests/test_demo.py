"""Demo mode end to end: ``pcm-ops serve --demo`` in a subprocess, with aws-common's fake AWS.

One server is started for the module (each start takes seconds: moto, migrations, the
fleet); the last test restarts it on the same data directory.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcm_aws_script_runner.demo import DEMO_SCRIPTS

pytestmark = pytest.mark.slow

PCM_OPS = str(Path(sys.executable).with_name("pcm-ops"))
COMMON = "/api/tools/aws/common"
RUNNER = "/api/tools/aws/script-runner"
PASSWORD = re.compile(r"DEMO LOGIN\s+(\S+)\s+user: demo\s+password: (\S+)")
FAKE_AWS = re.compile(r"fake AWS endpoint \(moto, in this process\): (http://127\.0\.0\.1:\d+)")
START_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(data_dir: Path) -> dict[str, str]:
    """The test's environment without PCM_* (no database URL, config or AWS endpoint of the
    developer's), loading the two AWS plugins only."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PCM_")}
    return {
        **environment,
        "PCM_DATA_DIR": str(data_dir),
        "PCM_PLUGINS": "aws-common,aws-script-runner",
    }


@dataclass
class DemoServer:
    """A ``pcm-ops serve --demo`` process and what it printed."""

    data_dir: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        assert self.log is not None
        return self.log.read_text(errors="replace")

    def start(self) -> DemoServer:
        self.log = self.data_dir.parent / f"serve-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [PCM_OPS, "serve", "--demo", "--port", str(self.port)],
                env=_environment(self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited ({self.process.returncode}):\n{self.output}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the demo was not ready in {START_SECONDS} s:\n{self.output}")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl+C
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def password(self) -> str:
        found = PASSWORD.search(self.output)
        assert found, self.output
        return found.group(2)

    def login(self) -> httpx.Client:
        """A client logged in as the demo admin (session cookie, CSRF header)."""
        client = httpx.Client(base_url=self.url, timeout=30)
        response = client.post(
            "/api/auth/login", json={"username": "demo", "password": self.password()}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo") / "data"


@pytest.fixture(scope="module")
def server(demo_dir: Path) -> Iterator[DemoServer]:
    running = DemoServer(demo_dir).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def admin(server: DemoServer) -> Iterator[httpx.Client]:
    client = server.login()
    try:
        yield client
    finally:
        client.close()


def _get(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
    return response.json()


def _names(client: httpx.Client, path: str, key: str = "name") -> list[Any]:
    return sorted(item[key] for item in _get(client, path))


def test_the_demo_says_loudly_what_it_is_where_it_listens_and_how_to_log_in(server):
    output = server.output

    assert "PCM-OPS DEMO MODE" in output
    assert f"Listening on {server.url}/ (loopback only)" in output
    assert PASSWORD.search(output).group(1) == f"{server.url}/login"
    assert FAKE_AWS.search(output), output
    assert "3 accounts (2 Commercial, 1 GovCloud), 36 EC2 instances" in output


def test_the_demo_refuses_an_address_beyond_the_loopback(tmp_path):
    completed = subprocess.run(
        [PCM_OPS, "serve", "--demo", "--host", "0.0.0.0", "--port", str(_free_port())],
        env=_environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 1
    assert "demo mode binds to the loopback address only, not '0.0.0.0'" in completed.stderr


def test_the_demo_registry_has_two_commercial_accounts_and_a_govcloud_one(admin):
    accounts = _get(admin, f"{COMMON}/accounts")

    assert sorted((a["name"], a["partition"], a["access"]) for a in accounts) == [
        ("Demo Development", "aws", "role"),
        ("Demo GovCloud", "aws-us-gov", "role"),
        ("Demo Production", "aws", "direct"),
    ]
    assert _names(admin, f"{COMMON}/credentials") == ["Demo Commercial keys", "Demo GovCloud keys"]


def test_the_demo_accounts_are_reached_through_the_fake_aws(admin):
    checked = admin.post(f"{COMMON}/accounts/300000000003/check")

    assert checked.status_code == 200, checked.text
    assert "arn:aws-us-gov:sts::300000000003:assumed-role/PcmOpsDemo/" in checked.text


def test_the_fake_aws_holds_the_demo_fleet(server, admin):
    import botocore.session

    endpoint = FAKE_AWS.search(server.output).group(1)
    session = botocore.session.get_session()
    names = []
    for account in _get(admin, f"{COMMON}/accounts"):
        for region in account["regions"]:
            ec2 = session.create_client(
                "ec2",
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id="HARNESS",
                aws_secret_access_key="HARNESS",  # moto's harness header names the account
            )

            def as_account(request, account_id=account["account_id"], **_):
                request.headers["x-moto-account-id"] = account_id

            ec2.meta.events.register("before-sign", as_account)
            for reservation in ec2.describe_instances()["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                    names.append(tags["Name"])

    assert len(names) >= 30
    assert {"prod-web-01", "dev-win-01", "gov-db-01"} <= set(names)


def test_the_demo_scripts_are_in_the_library(admin):
    scripts = _get(admin, f"{RUNNER}/scripts")

    assert sorted(s["name"] for s in scripts) == sorted(s.name for s in DEMO_SCRIPTS)
    assert {s["language"] for s in scripts} == {"shell", "powershell"}


def _synced_fleet(client: httpx.Client, limit: float = 60.0) -> dict[str, dict[str, Any]]:
    """The demo's fleet by name, once the sync queued at start-up has filled the inventory."""
    deadline = time.monotonic() + limit
    while True:
        page = _get(client, f"{RUNNER}/inventory/instances?limit=500")
        status = _get(client, f"{RUNNER}/inventory/status")
        if page["total"] >= 30 and status["oldest_success_at"] and not status["running"]:
            return {item["name"]: item for item in page["items"]}
        assert time.monotonic() < deadline, f"the demo inventory was not synced: {status}"
        time.sleep(0.5)


def test_an_execution_on_the_demo_fleet_streams_its_progress_and_ends_with_varied_results(
    admin,
):
    fleet = _synced_fleet(admin)
    assert fleet["prod-web-01"]["ping_status"] == "Online"
    chosen = {
        "prod-web-01": "Success",  # tagged pcm-demo:outcome=success
        "prod-api-03": "Failed",  # fail
        "prod-db-02": "TimedOut",  # timeout
    }
    assert [fleet[name]["tags"]["pcm-demo:outcome"] for name in chosen] == [
        "success",
        "fail",
        "timeout",
    ]
    [uptime] = [s for s in _get(admin, f"{RUNNER}/scripts") if s["name"] == "Uptime and load"]

    started = admin.post(
        f"{RUNNER}/executions",
        json={
            "script_id": uptime["id"],
            "targets": {"instance_ids": [fleet[name]["instance_id"] for name in chosen]},
            "max_errors": "100%",
            "comment": "demo end to end",
        },
    )
    assert started.status_code == 201, started.text
    execution = started.json()["execution"]

    events: list[str] = []
    with admin.stream("GET", f"{RUNNER}/executions/{execution['id']}/events", timeout=90) as sse:
        assert sse.status_code == 200
        for line in sse.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                if events[-1] == "end":
                    break
    assert "instances" in events, events
    assert events[-1] == "end"

    finished = _get(admin, f"{RUNNER}/executions/{execution['id']}")
    assert finished["status"] == "failed"
    assert finished["counts"] == {"Success": 1, "Failed": 1, "TimedOut": 1}
    targets = _get(admin, f"{RUNNER}/executions/{execution['id']}/targets")
    by_id = {row["instance_id"]: row for row in targets["items"]}
    for name, status in chosen.items():
        assert by_id[fleet[name]["instance_id"]]["status"] == status, name
    assert "prod-web-01: done" in by_id[fleet["prod-web-01"]["instance_id"]]["stdout"]


def test_a_restart_on_the_same_data_directory_adds_nothing_twice(server, admin, demo_dir):
    before = {
        "accounts": _names(admin, f"{COMMON}/accounts", "account_id"),
        "sources": _names(admin, f"{COMMON}/credentials"),
        "scripts": _names(admin, f"{RUNNER}/scripts"),
    }
    first_password = server.password()
    assert server.stop() == 0

    again = DemoServer(demo_dir).start()
    try:
        client = again.login()
        after = {
            "accounts": _names(client, f"{COMMON}/accounts", "account_id"),
            "sources": _names(client, f"{COMMON}/credentials"),
            "scripts": _names(client, f"{RUNNER}/scripts"),
        }
        # moto's keys are new at each start: the sources must have the new ones
        checked = client.post(f"{COMMON}/accounts/200000000002/check")
        client.close()
    finally:
        again.stop()

    assert after == before
    assert again.password() != first_password
    assert checked.status_code == 200, checked.text
