"""Inventory filters: what a filter may name, its validation (each problem naming its
field), and its forms as query parameters and as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pcm_aws_common.patterns import is_account_id, is_region
from pcm_aws_script_runner.domain import InstanceState, PingStatus, Platform
from pcm_aws_script_runner.services.errors import InvalidInput

if TYPE_CHECKING:
    pass

#: EC2 instance states a filter may name, platforms, SSM ping statuses (values of the
#: :mod:`pcm_aws_script_runner.domain` enums, in their order).
STATES = tuple(state.value for state in InstanceState)
PLATFORMS = tuple(platform.value for platform in Platform)
PING_STATUSES = tuple(status.value for status in PingStatus)


def _account_id(value: str) -> str:
    value = value.strip()
    if not is_account_id(value):
        raise ValueError(f"{value!r} is not an AWS account id: give its 12 digits")
    return value


def _region(value: str) -> str:
    value = value.strip().lower()
    if not is_region(value):
        raise ValueError(f"{value!r} is not an AWS region name (like us-east-1, us-gov-west-1)")
    return value


def _one_of(choices: Sequence[str], what: str) -> Any:
    by_key = {choice.casefold(): choice for choice in choices}

    def check(value: str) -> str:
        found = by_key.get(value.strip().casefold())
        if found is None:
            raise ValueError(f"{value!r} is not {what}; use one of: {', '.join(choices)}")
        return found

    return check


AccountId = Annotated[str, AfterValidator(_account_id)]
Region = Annotated[str, AfterValidator(_region)]
State = Annotated[str, AfterValidator(_one_of(STATES, "an EC2 instance state"))]
PlatformName = Annotated[str, AfterValidator(_one_of(PLATFORMS, "a platform"))]
PingStatusName = Annotated[str, AfterValidator(_one_of(PING_STATUSES, "an SSM ping status"))]


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


class TagFilter(BaseModel):
    """Instances that carry the tag ``key`` (with ``value``, when it is not ``None``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=128)
    value: str | None = Field(default=None, max_length=256)

    def text(self) -> str:
        """``key=value``, or ``key`` when any value will do (the query-string form)."""
        return self.key if self.value is None else f"{self.key}={self.value}"


class InventoryFilter(BaseModel):
    """Which instances to show or target. Every list is "any of these" and an empty one
    does not filter; the fields together are "all of these" (tags too: every tag listed).

    ``search`` is a case-insensitive substring of the instance's name or id.
    """

    model_config = ConfigDict(extra="forbid")

    account_ids: list[AccountId] = Field(default_factory=list, max_length=1000)
    regions: list[Region] = Field(default_factory=list, max_length=100)
    states: list[State] = Field(default_factory=list, max_length=len(STATES))
    platforms: list[PlatformName] = Field(default_factory=list, max_length=len(PLATFORMS))
    ping_statuses: list[PingStatusName] = Field(default_factory=list, max_length=len(PING_STATUSES))
    tags: list[TagFilter] = Field(default_factory=list, max_length=20)
    search: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _normalised(self) -> InventoryFilter:
        # Without repeats, so that equal filters compare and serialise equal.
        for name in ("account_ids", "regions", "states", "platforms", "ping_statuses", "tags"):
            setattr(self, name, _unique(getattr(self, name)))
        self.search = self.search.strip()
        return self

    @property
    def is_empty(self) -> bool:
        """Whether it matches every instance."""
        return not any(
            (
                self.account_ids,
                self.regions,
                self.states,
                self.platforms,
                self.ping_statuses,
                self.tags,
                self.search,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """The filter as plain data (what saved filters and executions store)."""
        return self.model_dump(mode="json")


#: Query-string parameter → filter field. Lists repeat the parameter
#: (``?state=running&state=stopped``); a tag is ``tag=key=value`` or ``tag=key``.
QUERY_PARAMETERS: dict[str, str] = {
    "account_id": "account_ids",
    "region": "regions",
    "state": "states",
    "platform": "platforms",
    "ping_status": "ping_statuses",
    "tag": "tags",
    "q": "search",
}
_FIELD_PARAMETERS = {field: parameter for parameter, field in QUERY_PARAMETERS.items()}


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def _path(location: Sequence[Any]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_filter(data: Any, *, field: str = "") -> InventoryFilter:
    """An :class:`InventoryFilter` from plain data (a JSON object).

    :param field: prefix of the field names in errors (``filter`` gives
        ``filter.account_ids[0]``).
    :raises InvalidInput: naming each bad field.
    """
    if isinstance(data, InventoryFilter):
        return data
    try:
        return InventoryFilter.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = _path(error["loc"])
            full = f"{field}.{path}" if field and path else (field or path or "filter")
            problems.append((full, _message(error)))
        raise InvalidInput(problems) from None


def split_tag(text: str) -> dict[str, str | None]:
    """``key=value`` (or ``key``: any value), as the ``tag`` query parameter takes it, in
    the form of :class:`TagFilter`'s fields."""
    key, separator, value = text.partition("=")
    return {"key": key.strip(), "value": value if separator else None}


def filter_from_query(params: Mapping[str, Sequence[str]], *, prefix: str = "") -> InventoryFilter:
    """An :class:`InventoryFilter` from query-string parameters (:data:`QUERY_PARAMETERS`),
    each possibly repeated, optionally prefixed (``f_state=running`` with ``prefix="f_"``).
    Empty values are ignored.

    :raises InvalidInput: naming the parameter (``state``, ``f_tag``...) and the bad value.
    """
    data: dict[str, Any] = {}
    for parameter, field in QUERY_PARAMETERS.items():
        values = [v for v in params.get(prefix + parameter, ()) if v is not None and v.strip()]
        if not values:
            continue
        if field == "search":
            data[field] = values[-1]
        elif field == "tags":
            data[field] = [split_tag(value) for value in values]
        else:
            data[field] = values
    try:
        return InventoryFilter.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = error["loc"]
            parameter = prefix + _FIELD_PARAMETERS.get(str(location[0]), str(location[0]))
            message = _message(error)
            if location[0] == "tags" and len(location) > 2 and location[2] == "key":
                message = f"a tag filter is 'key=value' or 'key'; the key {message}"
            problems.append((parameter, message))
        raise InvalidInput(problems) from None


def filter_to_query(flt: InventoryFilter, *, prefix: str = "") -> list[tuple[str, str]]:
    """The query-string parameters that :func:`filter_from_query` reads back as ``flt``."""
    pairs: list[tuple[str, str]] = []
    for parameter, field in QUERY_PARAMETERS.items():
        value = getattr(flt, field)
        if field == "search":
            if value:
                pairs.append((prefix + parameter, value))
        elif field == "tags":
            pairs += [(prefix + parameter, tag.text()) for tag in value]
        else:
            pairs += [(prefix + parameter, item) for item in value]
    return pairs


def clean_account_regions(
    pairs: Iterable[Sequence[str]], *, field: str = "account_regions"
) -> list[tuple[str, str]]:
    """Account-region pairs checked (12-digit account, region name) and without repeats.

    :raises InvalidInput: naming ``account_regions[i]`` for each bad pair.
    """
    cleaned: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    for index, pair in enumerate(pairs):
        if isinstance(pair, str) or len(pair) != 2:
            problems.append((f"{field}[{index}]", "give an account id and a region"))
            continue
        for part, check in ((0, _account_id), (1, _region)):
            try:
                check(str(pair[part]))
            except ValueError as exc:
                name = "account_id" if part == 0 else "region"
                problems.append((f"{field}[{index}].{name}", str(exc)))
        cleaned.append((str(pair[0]).strip(), str(pair[1]).strip().lower()))
    if problems:
        raise InvalidInput(problems)
    return list(dict.fromkeys(cleaned))
