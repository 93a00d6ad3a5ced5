"""``pcm-ops worker``: run durable jobs in a process of their own."""

from __future__ import annotations

from typing import Any

import click

from pcm_ops.cli.main import CliContext


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    return names or None


@click.command()
@click.option(
    "--queues",
    metavar="NAME[,NAME...]",
    help="Take jobs from these queues only (default: every queue of the loaded plugins).",
)
@click.option(
    "--executor-id",
    metavar="ID",
    help="This worker's stable id (default: PCM_EXECUTOR_ID, else worker@<host name>). "
    "Give each worker its own and keep it across restarts: a restarted worker resumes the "
    "jobs of its id.",
)
@click.option(
    "--drain-seconds",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="On SIGTERM or Ctrl-C, wait this long for running jobs before exiting.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's Prometheus metrics (AWS and ServiceNow calls, finished "
    "executions) on this port at /metrics; default: not served.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics port binds (0.0.0.0 in a container, for Prometheus).",
)
@click.pass_obj
def worker(
    obj: CliContext,
    queues: str | None,
    executor_id: str | None,
    drain_seconds: int,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run durable jobs until stopped (needs the same plugins and database as the server).

    With PostgreSQL, run as many workers as you need on any machines, and turn
    PCM_JOBS_EXECUTE_IN_SERVER off so that servers only enqueue and serve. A worker whose
    machine is lost leaves its jobs unfinished: `pcm-ops jobs recover --stale-after 5m`
    hands them to the live workers.
    """
    from pcm_ops.jobs.worker import run_worker

    settings = obj.settings(executor_id=executor_id)
    from pcm_ops.logs import use_log_format

    use_log_format(settings.log_format)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from pcm_ops.metrics import PROCESS_REGISTRY

        start_http_server(metrics_port, addr=metrics_host, registry=PROCESS_REGISTRY)
    registry = obj.registry()

    def ready(engine: Any) -> None:
        listening = ", ".join(engine.listen_queues) if engine.listen_queues else "all queues"
        click.echo(
            f"pcm-ops worker {engine.executor_id} running jobs from {listening} "
            f"(application version {engine.app_version}); Ctrl-C or SIGTERM to stop",
            err=True,
        )

    run_worker(
        settings, registry, queues=_split(queues), drain_seconds=drain_seconds, on_ready=ready
    )
