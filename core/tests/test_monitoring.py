"""``infra/monitoring``: the alert rules (checked and unit-tested with promtool where it is
installed, their structure always), the Grafana dashboard, and that both use only metrics
that exist and that docs/operations.md documents, with bounded labels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "infra" / "monitoring"
OPERATIONS = REPO / "docs" / "operations.md"

#: The modules that declare the plugins' metrics (installed in the test environment).
PLUGIN_METRIC_MODULES = (
    "pcm_aws_common.services.metrics",
    "pcm_aws_script_runner.observability",
    "pcm_servicenow_cmdb.client",
)
#: Labels that would make one series per object: never allowed.
UNBOUNDED_LABELS = {
    "execution_id",
    "instance_id",
    "job_id",
    "command_id",
    "sys_id",
    "user",
    "username",
    "path",
    "error",
    "message",
}
_METRIC = re.compile(r"\bpcm_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def base_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def declared_metrics() -> dict[str, tuple[str, ...]]:
    """Every metric core and the installed plugins declare: name as scraped → labels."""
    from pcm_ops import metrics

    for module in PLUGIN_METRIC_MODULES:
        pytest.importorskip(module, reason="the plugins are not installed here")

    class NoPlugins:
        records: list[Any] = []

    app_metrics = metrics.Metrics(NoPlugins())
    found: dict[str, tuple[str, ...]] = {"pcm_plugins": ("state",)}
    collectors = [
        value for value in vars(app_metrics).values() if hasattr(value, "_labelnames")
    ] + [value for name, value in metrics._declared.items() if not name.startswith("pcm_test_")]
    for collector in collectors:
        name = collector._name
        if collector._type == "counter":
            name += "_total"
        found[name] = tuple(collector._labelnames)
    return found


def documented_metrics() -> set[str]:
    text = OPERATIONS.read_text()
    section = text[text.index("## Monitoring") : text.index("### Alerts and dashboard")]
    return set(re.findall(r"^\| `(pcm_[a-z0-9_]+)` \|", section, flags=re.MULTILINE))


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def used_metrics(expressions: list[str]) -> set[str]:
    return {base_name(name) for expr in expressions for name in _METRIC.findall(expr)}


def test_every_declared_metric_is_documented_and_every_documented_one_exists() -> None:
    declared = declared_metrics()
    assert documented_metrics() == set(declared)


def test_no_metric_has_a_label_that_grows_with_objects() -> None:
    for name, labels in declared_metrics().items():
        assert not set(labels) & UNBOUNDED_LABELS, (name, labels)


def test_every_alert_has_an_expression_a_severity_and_words_for_the_on_call() -> None:
    document = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    names = set()
    for group in document["groups"]:
        assert group["name"].startswith("pcm-ops-")
        for rule in group["rules"]:
            assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule
            assert rule["alert"].startswith("PcmOps")
            assert rule["alert"] not in names
            names.add(rule["alert"])
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            assert set(rule["annotations"]) == {"summary", "description"}
    documented = OPERATIONS.read_text()
    for name in names:
        assert f"| `{name}` |" in documented, f"{name} is not in docs/operations.md"


def test_alerts_and_dashboard_use_only_documented_metrics() -> None:
    documented = {base_name(name) for name in documented_metrics()}
    documented |= {name.removesuffix("_total") for name in documented}
    expressions = [rule["expr"] for rule in alert_rules()] + dashboard_expressions()
    used = used_metrics(expressions)
    assert used
    assert used <= documented, used - documented


def test_the_dashboard_is_grafana_json_with_a_data_source_choice() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] == "pcm-ops"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return found


def test_promtool_accepts_the_rules(promtool: str) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", str(MONITORING / "alerts.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_the_rules_fire_as_their_unit_tests_expect(promtool: str) -> None:
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yaml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
