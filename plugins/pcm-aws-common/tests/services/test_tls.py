"""Every AWS client of a process shares one TLS context (and one load of the CA bundle)."""

from __future__ import annotations

import pytest

from pcm_aws_common.config import AwsCommonSettings
from pcm_aws_common.services.clients import AwsClients
from pcm_aws_common.services.tls import SharedTlsSession, shared_contexts_built

SQLITE_ONLY = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


@pytest.fixture
async def accounts(api):
    keys = await api.add_keys("org")
    response = await api.add_account(
        account_id="222222222222",
        name="Member",
        partition="aws",
        regions=["us-east-1", "us-west-2"],
        credential_source_id=keys["id"],
        role_arn="arn:aws:iam::222222222222:role/PcmOpsAccess",
    )
    assert response.status_code == 201, response.text


@SQLITE_ONLY
async def test_clients_of_different_regions_services_and_retries_share_one_tls_context(
    api, accounts
):
    aws = AwsClients(api.database, AwsCommonSettings(endpoint_url=api.moto.endpoint_url))
    sessions = []
    async with aws:
        for service, region, idempotent in (
            ("ssm", "us-east-1", True),
            ("ssm", "us-west-2", True),
            ("ssm", "us-west-2", False),
            ("ec2", "us-east-1", True),
        ):
            async with aws.client(
                service, account="222222222222", region=region, idempotent=idempotent
            ) as client:
                sessions.append(client._endpoint.http_session)
        built = shared_contexts_built()
        contexts = [session._build_ssl_contexts(None)[0] for session in sessions]

        assert all(isinstance(session, SharedTlsSession) for session in sessions)
        assert len({id(session) for session in sessions}) == 4  # four clients...
        assert len({id(context) for context in contexts}) == 1  # ...one TLS context
        assert shared_contexts_built() == built  # asking again builds none
