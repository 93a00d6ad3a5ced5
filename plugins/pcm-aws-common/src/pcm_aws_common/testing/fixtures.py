"""The ``pcm_aws_common`` pytest plugin: moto fixtures for PCM-Ops' AWS plugins.

pytest loads this module by itself where ``pcm-aws-common`` is installed (entry point
``pytest11``); install ``pcm-aws-common[testing]`` for moto. Only pytest and the standard
library are imported here; moto is imported when a fixture is first used.

``moto_server`` (session)
    The extended moto server (:class:`~pcm_aws_common.testing.server.MotoAws`) on
    127.0.0.1, started once per test session, with :data:`DEFAULT_ACCOUNTS` prepared:
    ``management`` (111111111111) and ``member`` (222222222222) in Commercial, ``govcloud``
    (333333333333) in GovCloud, each with an access key, the role ``PcmOpsAccess`` and two
    running instances.
``moto_aws``
    The same server for one test; latency, authentication, assumed-role lifetimes and SSM
    outcomes the test changed are put back afterwards. moto's data (commands, instances,
    organizations) is shared by the session: create what a test needs to own.
``moto_pcm_settings``
    Core's ``pcm_settings`` with ``[aws-common] endpoint_url`` pointing at the server. Use
    it as your ``pcm_settings``::

        @pytest.fixture
        def pcm_settings(moto_pcm_settings):
            return moto_pcm_settings
``moto_credentials_env``
    The host's default credential chain gives the ``management`` account's key, and AWS
    config files hold one profile per prepared account (named by account id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pcm_aws_common.testing.server import MotoAws

#: Variables that would change what moto or botocore do in a test.
_AWS_VARIABLES = (
    "MOTO_ACCOUNT_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoAws]:
    """The extended moto server of this test session, default accounts prepared."""
    from pcm_aws_common.testing.server import MotoAws

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MOTO_ACCOUNT_ID", raising=False)
        with MotoAws() as server:
            server.prepare_defaults()
            yield server


@pytest.fixture
def moto_aws(moto_server: MotoAws) -> Iterator[MotoAws]:
    """The session's moto server for this test; its controls are reset afterwards."""
    try:
        yield moto_server
    finally:
        moto_server.reset_controls()


@pytest.fixture
def moto_pcm_settings(
    make_pcm_settings: Callable[..., Any], moto_aws: MotoAws, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Core settings for the test, with the aws-common plugin pointed at the moto server."""
    # After core's fixture has cleared the developer's PCM_* variables, before it reads.
    monkeypatch.setenv("PCM_AWS_COMMON__ENDPOINT_URL", moto_aws.endpoint_url)
    return make_pcm_settings()


@pytest.fixture
def moto_credentials_env(
    moto_aws: MotoAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> MotoAws:
    """The default chain and profiles of the "host" point at the prepared accounts."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    management = moto_aws.account("management")
    config, credentials = moto_aws.profiles_file(tmp_path / "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", management.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", management.secret_access_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_aws
