"""The run form, ``/tools/aws/script-runner/executions/new``: prefilled from its address (a
script, instances or a filter from the fleet page, or an execution to clone); Preview shows
the plan, Run starts it. Secret parameter values are never written into the page: a cloned
run reuses the stored ones server-side."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pcm_aws_script_runner.config import ScriptRunnerSettings
from pcm_aws_script_runner.dependencies import Config, Registry
from pcm_aws_script_runner.domain import (
    RerunKind,
)
from pcm_aws_script_runner.ids import API_PREFIX, EXECUTE
from pcm_aws_script_runner.models import AwsSrSavedFilter
from pcm_aws_script_runner.services import executions, inventory, scripts
from pcm_aws_script_runner.services.errors import (
    InvalidInput,
    NotFound,
    ScriptRunnerError,
)
from pcm_aws_script_runner.services.executions import (
    DEFAULT_DELIVERY_TIMEOUT,
    DEFAULT_EXECUTION_TIMEOUT,
    Blocked,
    ExecutionDraft,
    Plan,
)
from pcm_aws_script_runner.services.input_problems import in_words
from pcm_aws_script_runner.web.common import BASE, form_text, form_values, page
from pcm_ops.api.deps import DbSession
from pcm_ops.api.params import parse_id
from pcm_ops.audit import Actor
from pcm_ops.context import PluginContext
from pcm_ops.security import Principal, require
from pcm_ops.web import flash

router = APIRouter()

API = API_PREFIX

#: The prefix of the fleet page's "every instance matching" filter parameters (``f_region``).
FILTER_PREFIX = "f_"
#: Sent by the Fleet page's "Run a script on the selected instances": with no
#: ``instance_id`` beside it, nothing was selected.
FLEET_SELECTION = "fleet_selection"
NO_SELECTION = (
    "no instance was selected on the Fleet page: select at least one instance there, "
    "or type instance ids here"
)
NO_TARGETS = "give at least one instance id, or choose the instances on the Fleet page"
_WHOLE_NUMBER = re.compile(r"^[+-]?\d{1,19}$")
_PARAMETER_FIELD = "p_"


# -------------------------------------------------------------------------------------------
# The run form
# -------------------------------------------------------------------------------------------


@dataclass
class FixedTargets:
    """Targets chosen before the form (on the fleet page, or by the execution cloned),
    carried through the form in hidden fields.

    Attributes:
        targets: ``ExecutionDraft.targets``.
        hidden: the hidden fields (name, value) that choose them again on submit.
        summary: what the form says about them.
        instance_ids: the instances, when they are listed.
    """

    targets: dict[str, Any]
    hidden: list[tuple[str, str]]
    summary: str
    instance_ids: list[str] = field(default_factory=list)


def describe_filter(fields: Mapping[str, Any]) -> str:
    """``accounts 1234…; regions us-east-1; tag Team=web; search "web"``."""
    parts = []
    for name, label in (
        ("account_ids", "accounts"),
        ("regions", "regions"),
        ("states", "states"),
        ("platforms", "platforms"),
        ("ping_statuses", "SSM ping statuses"),
    ):
        if fields.get(name):
            parts.append(f"{label} {', '.join(map(str, fields[name]))}")
    for tag in fields.get("tags") or ():
        if isinstance(tag, Mapping):
            value = tag.get("value")
            parts.append(f"tag {tag.get('key', '')}" + ("" if value is None else f"={value}"))
    if fields.get("search"):
        parts.append(f"search “{fields['search']}”")
    return "; ".join(parts) or "no condition (every instance of the inventory)"


def describe_targets(targets: Mapping[str, Any], saved_name: str = "") -> str:
    """One sentence about ``ExecutionDraft.targets`` (or an execution's ``target_spec``)."""
    if targets.get("instance_ids"):
        count = len(targets["instance_ids"])
        return f"{count} instance{'s' if count != 1 else ''} chosen by id"
    if targets.get("instances"):
        count = len(targets["instances"])
        return f"{count} instance{'s' if count != 1 else ''} with their account and region"
    if targets.get("saved_filter_id"):
        name = saved_name or targets.get("name") or ""
        label = f"saved filter “{name}”" if name else f"saved filter #{targets['saved_filter_id']}"
        return f"Every instance matching the {label}, resolved when the run starts"
    if "filter" in targets:
        return (
            f"Every instance matching: {describe_filter(targets['filter'] or {})}; "
            "resolved when the run starts"
        )
    if targets.get("source"):
        source = targets["source"]
        if isinstance(source, Mapping):
            return f"Target source {source.get('name')}: {source.get('reference', '')}"
        return f"Target source {source}: {targets.get('reference', '')}"
    return "no targets"


async def _fixed_targets(
    session: Any, data: Any, clone: ExecutionDraft | None, problems: list[tuple[str, str]]
) -> FixedTargets | None:
    """The targets chosen by the page's address or the form's hidden fields, if any
    (problems with them are added to ``problems``)."""
    ids = list(dict.fromkeys(form_values(data, "instance_id")))
    if ids:
        return FixedTargets(
            {"instance_ids": ids},
            [("instance_id", i) for i in ids],
            describe_targets({"instance_ids": ids}),
            ids,
        )
    source = form_text(data, "target_source")
    if source:
        # Another plugin's target source (a ServiceNow change, say), resolved by the
        # preview and again when the run starts; what it cannot resolve is listed there.
        reference = form_text(data, "reference")
        by_source: dict[str, Any] = {"source": {"name": source, "reference": reference}}
        return FixedTargets(
            by_source,
            [("target_source", source), ("reference", reference)],
            describe_targets(by_source),
        )
    saved = form_text(data, "saved_filter")
    if saved:
        number = parse_id(saved)
        row = await session.get(AwsSrSavedFilter, number) if number else None
        return FixedTargets(
            {"saved_filter_id": number if number else saved},
            [("saved_filter", saved)],
            describe_targets({"saved_filter_id": saved}, row.name if row else ""),
        )
    prefixed = {
        key: data.getlist(key)
        for key in dict.fromkeys(data.keys())
        if key.startswith(FILTER_PREFIX) and any(v.strip() for v in data.getlist(key))
    }
    if prefixed:
        # ``f_search`` reads as the inventory's ``q``.
        if "f_search" in prefixed:
            prefixed.setdefault(f"{FILTER_PREFIX}q", prefixed.pop("f_search"))
        try:
            flt = inventory.filter_from_query(prefixed, prefix=FILTER_PREFIX)
        except InvalidInput as exc:
            problems.extend(
                ("targets.filter", f"{where}: {in_words(message)}")
                for where, message in exc.problems
            )
            hidden = [(key, value) for key, values in prefixed.items() for value in values]
            # No targets: an empty filter would mean every instance of the inventory.
            return FixedTargets({}, hidden, "an inventory filter that is not valid")
        fields = flt.model_dump(mode="json", exclude_defaults=True)
        hidden = inventory.filter_to_query(flt, prefix=FILTER_PREFIX)
        return FixedTargets({"filter": fields}, hidden, describe_targets({"filter": fields}))
    if clone is not None:
        targets = dict(clone.targets)
        listed = targets.get("instance_ids") or [
            t.get("instance_id", "") for t in targets.get("instances") or ()
        ]
        return FixedTargets(targets, [], describe_targets(targets), list(listed))
    return None


@dataclass
class RunForm:
    """The run form's values as typed, and the problems found with them."""

    script_id: int | None = None
    version: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    instance_ids: str = ""
    max_concurrency: str = ""
    max_errors: str = ""
    delivery_timeout_seconds: str = ""
    execution_timeout_seconds: str = ""
    output_s3_bucket: str = ""
    output_s3_prefix: str = ""
    cloudwatch_log_group: str = ""
    comment: str = ""
    change_reference: str = ""
    clone_of: int | None = None
    fixed: FixedTargets | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: The chosen version's parameter declarations (to say what a typed value should be).
    specs: list[dict[str, Any]] = field(default_factory=list)

    OPTIONS = (
        "max_concurrency",
        "max_errors",
        "delivery_timeout_seconds",
        "execution_timeout_seconds",
        "output_s3_bucket",
        "output_s3_prefix",
        "cloudwatch_log_group",
        "comment",
        "change_reference",
    )

    @classmethod
    def of(cls, data: Any) -> RunForm:
        script_id = parse_id(form_text(data, "script_id"))
        version = parse_id(form_text(data, "version"))
        # The version select belongs to the script it was filled for: after the script
        # changes, the new script's current version is the default.
        version_of = form_text(data, "version_of")
        if version_of and parse_id(version_of) != script_id:
            version = None
        form = cls(
            script_id=script_id,
            version=version,
            values={
                key[len(_PARAMETER_FIELD) :]: value
                for key, value in data.items()
                if key.startswith(_PARAMETER_FIELD) and isinstance(value, str)
            },
            instance_ids=form_text(data, "instance_ids"),
            clone_of=parse_id(form_text(data, "clone")),
        )
        for name in cls.OPTIONS:
            setattr(form, name, form_text(data, name))
        return form

    def prefill(self, draft: ExecutionDraft, secret_names: set[str]) -> None:
        """Take the values of an execution to clone (its secret values stay server-side)."""
        self.script_id = draft.script_id
        self.version = draft.script_version
        self.values = {
            name: _asform_text(value)
            for name, value in draft.parameters.items()
            if name not in secret_names
        }
        for name in self.OPTIONS:
            value = getattr(draft, name)
            setattr(self, name, "" if value is None else str(value))

    def draft(self, specs: list[dict[str, Any]], clone: ExecutionDraft | None) -> ExecutionDraft:
        """The draft the services take: parameter text converted by the parameter's type
        where it can be (what cannot stays text, and validation says what is wrong)."""
        parameters: dict[str, Any] = {}
        for spec in specs:
            name = spec["name"]
            text = self.values.get(name, "")
            if text == "" and spec.get("secret") and clone is not None:
                if clone.script_id == self.script_id and name in clone.parameters:
                    parameters[name] = clone.parameters[name]
                continue
            if text != "":
                parameters[name] = _typed(spec.get("type", "string"), text)
        if self.fixed is not None:
            targets = self.fixed.targets
        else:
            ids = self.instance_ids_list()
            targets = {"instance_ids": ids} if ids else {}
        return ExecutionDraft(
            script_id=self.script_id or 0,
            script_version=self.version,
            parameters=parameters,
            targets=targets,
            max_concurrency=self.max_concurrency or None,
            max_errors=self.max_errors or None,
            delivery_timeout_seconds=_number(self.delivery_timeout_seconds),
            execution_timeout_seconds=_number(self.execution_timeout_seconds),
            output_s3_bucket=self.output_s3_bucket or None,
            output_s3_prefix=self.output_s3_prefix or None,
            cloudwatch_log_group=self.cloudwatch_log_group or None,
            comment=self.comment,
            change_reference=self.change_reference or None,
        )

    def instance_ids_list(self) -> list[str]:
        return [item for item in re.split(r"[\s,;]+", self.instance_ids) if item]

    def errors_for(self, name: str) -> list[str]:
        """The messages about a field of the form (the services name the API's fields);
        ``parameters`` is about them all (``parameters.<name>`` is next to its field)."""
        wanted = {
            "version": ("script_version",),
            "instance_ids": ("targets",),
        }.get(name, (name,))
        if name == "parameters":
            return [message for where, message in self.problems if where == name]
        return [
            message
            for where, message in self.problems
            if any(where == w or where.startswith((f"{w}.", f"{w}[")) for w in wanted)
        ]

    def field_id(self, where: str) -> str:
        """The id of the form's element a problem is about (the summary links to it)."""
        if where.startswith("parameters."):
            return _PARAMETER_FIELD + where.split(".", 1)[1]
        if where.startswith("targets"):
            return "run-targets" if self.fixed is not None else "instance_ids"
        if where == "parameters":
            return "run-parameters"
        return {"script_version": "version"}.get(where, where)

    def explain(self, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The services' problems as an operator of this form reads them: about the text
        typed into a field rather than the JSON types of the API."""
        types = {spec["name"]: spec.get("type", "string") for spec in self.specs}
        explained = []
        for where, message in problems:
            if where.startswith("parameters."):
                name = where.split(".", 1)[1]
                text = self.values.get(name, "")
                if types.get(name) == "integer" and text and not _WHOLE_NUMBER.match(text):
                    message = f"“{text}” is not a whole number: type digits only, like 3 or -12"
            elif where == "targets" and self.fixed is None and not self.instance_ids_list():
                message = NO_TARGETS
            elif where.startswith("targets") and self.fixed is None:
                # The API's way out; the form has only instance ids.
                message = message.replace(
                    ", or give targets.instances with their account and region",
                    " (Fleet page, Sync now)",
                )
            explained.append((where, in_words(message)))
        return explained

    def label(self, where: str) -> str:
        """A problem's field as the form names it."""
        if where.startswith("parameters."):
            return f"parameter {where.split('.', 1)[1]}"
        if where.startswith("targets"):
            return "targets"
        return {
            "script_id": "script",
            "script_version": "version",
        }.get(where, where.replace("_", " "))


def _asform_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _typed(kind: str, text: str) -> Any:
    if kind == "integer" and _WHOLE_NUMBER.match(text.strip()):
        return int(text.strip())
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def _number(text: str) -> Any:
    """A whole number of seconds, or the text as typed (validation explains it)."""
    if not text:
        return None
    return int(text) if _WHOLE_NUMBER.match(text) else text


async def _clone_source(session: Any, form: RunForm) -> ExecutionDraft | None:
    if form.clone_of is None:
        return None
    return await executions.clone_draft(session, form.clone_of)


async def _run_page(
    request: Request,
    session: Any,
    config: ScriptRunnerSettings,
    form: RunForm,
    *,
    plan: Plan | None = None,
    blocked: Blocked | None = None,
    status: int = 200,
    submitted: bool = False,
) -> Any:
    runnable = await scripts.list_scripts(session, limit=10_000)
    script = next((s for s in runnable if s.id == form.script_id), None)
    versions: list[Any] = []
    version = None
    if script is not None:
        versions = await scripts.list_versions(session, script.id or 0)
        version = next((v for v in versions if v.number == form.version), None)
        if version is None:
            version = next(v for v in versions if v.number == script.current_version)
    if form.script_id is not None and script is None and not form.errors_for("script_id"):
        form.problems.append(
            ("script_id", f"script {form.script_id} does not exist or is archived; choose another")
        )
    checks = plan.checks.results if plan is not None and plan.checks is not None else ()
    if blocked is not None:
        checks = blocked.report.results
    return page(
        request,
        "execution_new.html",
        {
            "form": form,
            "scripts": runnable,
            "script": script,
            "versions": versions,
            "version": version,
            "plan": plan,
            "checks": checks,
            "blocked": blocked is not None
            or (plan is not None and plan.checks is not None and not plan.checks.passed),
            "submitted": submitted,
            "defaults": {
                "max_concurrency": config.default_max_concurrency,
                "max_errors": config.default_max_errors,
                "delivery_timeout_seconds": DEFAULT_DELIVERY_TIMEOUT,
                "execution_timeout_seconds": DEFAULT_EXECUTION_TIMEOUT,
            },
        },
        # htmx swaps 2xx responses only: it gets the problems with a 200.
        status=200 if _is_htmx(request) else status,
    )


@router.get("/executions/new", response_class=HTMLResponse, dependencies=[require(EXECUTE)])
async def new_execution(request: Request, session: DbSession, config: Config) -> Any:
    data = request.query_params
    form = RunForm.of(data)
    clone = await _clone_source(session, form)
    if clone is not None and "script_id" not in data:
        version = await scripts.get_version(session, clone.script_id, clone.script_version or 1)
        form.prefill(clone, {s["name"] for s in version.parameters if s.get("secret")})
    form.fixed = await _fixed_targets(session, data, clone, form.problems)
    status = 200
    if form.fixed is None and FLEET_SELECTION in data:
        form.problems.append(("targets", NO_SELECTION))
        status = 422
    if form.script_id is None and "script_id" not in data:
        # The first script of the list is what the select shows: fill its parameters.
        first = await scripts.list_scripts(session, limit=1)
        form.script_id = first[0].id if first else None
    return await _run_page(request, session, config, form, status=status)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _go(request: Request, url: str) -> Response:
    """Redirect; htmx requests get ``HX-Redirect`` to leave the form for the new page."""
    if _is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.post("/executions/new", response_class=HTMLResponse)
async def submit_execution(
    request: Request,
    session: DbSession,
    config: Config,
    registry: Registry,
    principal: Annotated[Principal, require(EXECUTE)],
) -> Any:
    data = await request.form()
    form = RunForm.of(data)
    clone = await _clone_source(session, form)
    form.fixed = await _fixed_targets(session, data, clone, form.problems)
    # Problems with the targets carried from the Fleet page: nothing may start, but the
    # services still check the rest, so that the operator sees every problem at once.
    carried = list(form.problems)
    if form.script_id is not None:
        try:
            script = await scripts.get_script(session, form.script_id)
            number = form.version or script.current_version
            form.specs = list(
                (await scripts.get_version(session, script.id or 0, number)).parameters
            )
        except NotFound:
            form.specs = []
    draft = form.draft(form.specs, clone)
    actor = Actor.from_principal(principal, request)
    action = form_text(data, "action")
    try:
        if action == "run" and not carried:
            execution = await executions.start_execution(
                session,
                draft,
                config,
                actor,
                registry=registry,
                contexts=PluginContext.request_factory(request),
                rerun_of=form.clone_of,
                rerun_kind=RerunKind.CLONE if form.clone_of else None,
            )
            await executions.launch(session, execution)
            flash(request, f"Execution #{execution.id} started.", "success")
            return _go(request, f"{BASE}/executions/{execution.id}")
        plan = await executions.plan_execution(
            session,
            draft,
            config,
            registry=registry,
            actor=actor,
            contexts=PluginContext.request_factory(request),
        )
    except InvalidInput as exc:
        # With carried problems the draft has no targets; the services' word on that is
        # not news.
        found = [p for p in exc.problems if not (carried and p[0] == "targets")]
        form.problems = carried + form.explain(found)
        return await _run_page(request, session, config, form, status=422, submitted=True)
    except Blocked as exc:
        return await _run_page(
            request, session, config, form, blocked=exc, status=409, submitted=True
        )
    except ScriptRunnerError as exc:
        # A target source that failed or that no plugin supplies.
        form.problems = [*carried, ("targets", str(exc))]
        return await _run_page(request, session, config, form, status=422, submitted=True)
    if carried:
        return await _run_page(request, session, config, form, status=422, submitted=True)
    return await _run_page(request, session, config, form, plan=plan, submitted=True)
