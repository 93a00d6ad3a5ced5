"""The readiness check: shared credential sources can get their caller identity; the
results are cached, not fetched on every probe."""

from __future__ import annotations

import pytest

from pcm_aws_common import runtime

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


def _check(body):
    return next(c for c in body["checks"] if c["name"] == "aws-common:credential-sources")


@SQLITE_ONLY
async def test_ready_without_shared_sources(api):
    response = await api.client.get("/readyz")

    assert response.status_code == 200, response.text
    assert _check(response.json()) == {
        "name": "aws-common:credential-sources",
        "ok": True,
        "detail": "no shared credential sources",
    }


@SQLITE_ONLY
async def test_valid_shared_sources_are_checked_once_and_then_cached(api, pcm_settings):
    await api.add_keys("org")
    await api.add_keys("gov", "govcloud")
    calls = api.aws.api_calls.calls("sts", "GetCallerIdentity")

    first = await api.client.get("/readyz")
    second = await api.client.get("/readyz")

    assert first.status_code == second.status_code == 200
    assert _check(first.json())["detail"] == "2 shared credential source(s) valid"
    assert runtime.current(pcm_settings).health.rounds == 1
    assert api.aws.api_calls.calls("sts", "GetCallerIdentity") - calls == 2


async def test_a_shared_source_aws_refuses_makes_the_platform_not_ready(api):
    from pcm_aws_common.models import AwsCredentialSource

    async with api.database.session() as session:
        session.add(
            AwsCredentialSource(
                name="revoked",
                partition_id="aws",
                kind="keys",
                created_by="test",
                access_key_id="AKIAIOSFODNN7REVOKED",
                secret_access_key="gone" * 10,
            )
        )

    response = await api.client.get("/readyz")

    assert response.status_code == 503
    check = _check(response.json())
    assert check["ok"] is False
    assert check["detail"] == (
        "revoked: invalid (InvalidClientTokenId: The security token included in the request "
        "is invalid.)"
    )
