"""The factory's response parser: botocore's output, value for value and key for key."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import botocore.session
import pytest
from aiobotocore.parsers import AioResponseParserFactory

from pcm_aws_common.services.parsing import ResponseParserFactory, plan_for
from pcm_aws_common.services.timestamps import parse_timestamp

#: JSON-protocol services: SSM is the one PCM-Ops calls; the others bring shapes SSM has
#: not (recursive structures, maps of structures, blobs, documents, tagged unions).
SERVICES = ["ssm", "dynamodb", "logs", "kms", "secretsmanager", "ecs", "cloudtrail", "glue"]

_models = botocore.session.get_session()


def _model(service: str) -> Any:
    model = _models.get_service_model(service)
    assert model.resolved_protocol == "json", service
    return model


def _sample(shape: Any, rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of ``shape`` as a service could send it: members missing, members
    null, keys the model does not know, timestamps in each form the protocol uses."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return {"any": [1, {"thing": None}], "at": "all"}
        if depth > 4:
            return None
        members = shape.members
        if getattr(shape, "is_tagged_union", False):
            name = rng.choice(list(members))
            key = members[name].serialization.get("name", name)
            return {key: _sample(members[name], rng, depth + 1)}
        value: dict[str, Any] = {"NotInTheModel": "ignored"}
        for name, member in members.items():
            key = member.serialization.get("name", name)
            roll = rng.random()
            if roll < 0.1:
                continue
            value[key] = None if roll < 0.2 else _sample(member, rng, depth + 1)
        return value
    if kind == "list":
        return [_sample(shape.member, rng, depth + 1), None, _sample(shape.member, rng, depth + 1)]
    if kind == "map":
        return {f"k{n}": _sample(shape.value, rng, depth + 1) for n in range(2)}
    if kind == "timestamp":
        return rng.choice([1_733_390_000, 1_733_390_000.125, "1733390000.5"])
    if kind == "blob":
        return base64.b64encode(b"\x00bytes\xff").decode()
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "long"):
        return rng.randint(-5, 10**6)
    if kind in ("float", "double"):
        return rng.random() * 100
    return rng.choice(["", "text", "ünïcode"])


def _factories() -> tuple[Any, Any]:
    theirs, ours = AioResponseParserFactory(), ResponseParserFactory()
    for factory in (theirs, ours):
        factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    return theirs, ours


def _keys_in_order(value: Any) -> Any:
    """The value with every dict turned into its list of (key, value) pairs: equal only
    when the keys also come in the same order."""
    if isinstance(value, dict):
        return [(key, _keys_in_order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_keys_in_order(item) for item in value]
    return value


async def _parse(factory: Any, body: Any, shape: Any, status: int = 200) -> Any:
    response = {
        "status_code": status,
        "headers": {"x-amzn-requestid": "request-1"},
        "body": json.dumps(body).encode() if not isinstance(body, bytes) else body,
    }
    return await factory.create_parser("json").parse(response, shape)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operations_output_is_what_botocore_gives(service):
    model = _model(service)
    theirs, ours = _factories()
    rng = random.Random(service)
    compared = 0
    for name in model.operation_names:
        shape = model.operation_model(name).output_shape
        if shape is None or shape.event_stream_name:  # a stream: not a JSON body
            continue
        for _ in range(3):
            body = _sample(shape, rng)
            expected = await _parse(theirs, body, shape)
            got = await _parse(ours, body, shape)
            assert _keys_in_order(got) == _keys_in_order(expected), (service, name)
            compared += 1
    assert compared > 20


async def test_list_command_invocations_is_read_by_plan():
    shape = _model("ssm").operation_model("ListCommandInvocations").output_shape
    plan = plan_for(shape, parse_timestamp, bytes)

    assert plan is not None
    parsed = plan(
        {
            "CommandInvocations": [
                {
                    "InstanceId": "i-1",
                    "Status": "Success",
                    "Unknown": 1,
                    "CommandPlugins": [{"ResponseCode": 0, "ResponseStartDateTime": 1.5}],
                }
            ],
            "NextToken": None,
        }
    )
    (invocation,) = parsed["CommandInvocations"]
    assert list(invocation) == ["InstanceId", "Status", "CommandPlugins"]  # the model's order
    assert invocation["CommandPlugins"][0]["ResponseStartDateTime"] == parse_timestamp(1.5)
    assert "NextToken" not in parsed


def test_a_tagged_union_is_left_to_botocore():
    model = _model("glue")
    unions = [
        model.shape_for(name)
        for name in model.shape_names
        if getattr(model.shape_for(name), "is_tagged_union", False)
    ]
    if not unions:
        pytest.skip("this botocore's glue model has no tagged union")
    assert plan_for(unions[0], parse_timestamp, bytes) is None


@pytest.mark.parametrize(
    "body",
    [
        {"__type": "com.amazonaws.ssm#InvalidInstanceId", "message": "no such instance"},
        {"__type": "ThrottlingException", "Message": "Rate exceeded"},
        b"not json at all",
        b"",
        b'{"Command": {"CommandId": "c-1", "TargetCount": 123456789012345678901234567890}}',
        b'{"Command": {"CommandId": "c-1", "TargetCount": NaN}}',
        '{"Command": {"CommandId": "c-été", "Comment": "☃"}}'.encode(),
    ],
    ids=["modeled", "throttling", "not-json", "empty", "big-int", "nan", "unicode"],
)
async def test_errors_and_odd_bodies_parse_as_botocore_parses_them(body):
    shape = _model("ssm").operation_model("SendCommand").output_shape
    theirs, ours = _factories()
    for status in (200, 400):
        expected = await _parse(theirs, body, shape, status)
        got = await _parse(ours, body, shape, status)
        assert repr(got) == repr(expected)  # repr: NaN is not equal to itself
