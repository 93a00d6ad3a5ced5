"""Basic, OAuth 2.0 (client credentials and password grants) and API key authentication."""

import httpx
import pytest

from pcm_servicenow_cmdb.testing.fake import DEFAULT_PASSWORD, DEFAULT_USERNAME

TABLE = "/api/now/table/change_request"


@pytest.fixture
def anonymous(servicenow, session_api):
    # The session client without its credentials (a request's auth wins over the client's).
    return session_api


def token(client, **form):
    return client.post("/oauth_token.do", data=form, auth=None)


def test_no_credentials_is_a_401_in_servicenows_shape(anonymous):
    response = anonymous.get(TABLE, auth=None)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "User Not Authenticated",
            "detail": "Required to provide Auth information",
        },
        "status": "failure",
    }


def test_the_default_user_authenticates_with_basic(anonymous):
    assert anonymous.get(TABLE, auth=(DEFAULT_USERNAME, DEFAULT_PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "auth", [(DEFAULT_USERNAME, "wrong"), ("nobody", DEFAULT_PASSWORD)], ids=["password", "user"]
)
def test_wrong_basic_credentials_are_a_401(anonymous, auth):
    assert anonymous.get(TABLE, auth=auth).status_code == 401


def test_added_users_authenticate_and_are_sys_users(anonymous, servicenow):
    sys_id = servicenow.add_user("jdoe", "pw-1", name="Jane Doe")
    assert anonymous.get(TABLE, auth=("jdoe", "pw-1")).status_code == 200
    assert servicenow.get(sys_id)["user_name"] == "jdoe"


def test_client_credentials_grant(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    response = token(
        anonymous, grant_type="client_credentials", client_id="pcm-ops", client_secret="s3cret"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert anonymous.get(TABLE, headers=bearer, auth=None).status_code == 200


def test_password_grant(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    form = {"grant_type": "password", "client_id": "pcm-ops", "client_secret": "s3cret"}
    good = token(anonymous, **form, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD)
    assert good.status_code == 200
    bad = token(anonymous, **form, username=DEFAULT_USERNAME, password="wrong")
    assert bad.status_code == 401
    assert bad.json() == {"error_description": "access_denied", "error": "server_error"}


def test_a_wrong_client_secret_is_refused(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    response = token(
        anonymous, grant_type="client_credentials", client_id="pcm-ops", client_secret="nope"
    )
    assert response.status_code == 401


def test_an_unknown_grant_type_is_a_400(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    response = token(anonymous, grant_type="implicit", client_id="pcm-ops", client_secret="s3cret")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_tokens_expire(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    servicenow.set_token_lifetime(0)
    access = token(
        anonymous, grant_type="client_credentials", client_id="pcm-ops", client_secret="s3cret"
    ).json()
    assert access["expires_in"] == 0
    bearer = {"Authorization": f"Bearer {access['access_token']}"}
    assert anonymous.get(TABLE, headers=bearer, auth=None).status_code == 401


def test_expire_tokens_invalidates_issued_tokens(anonymous, servicenow):
    servicenow.add_oauth_client("pcm-ops", "s3cret")
    access = token(
        anonymous, grant_type="client_credentials", client_id="pcm-ops", client_secret="s3cret"
    ).json()["access_token"]
    servicenow.expire_tokens()
    bearer = {"Authorization": f"Bearer {access}"}
    assert anonymous.get(TABLE, headers=bearer, auth=None).status_code == 401


def test_api_key(anonymous, servicenow):
    servicenow.add_api_key("key-123")
    assert anonymous.get(TABLE, headers={"x-sn-apikey": "key-123"}, auth=None).status_code == 200
    assert anonymous.get(TABLE, headers={"x-sn-apikey": "other"}, auth=None).status_code == 401


def test_reset_forgets_added_credentials(anonymous, servicenow):
    servicenow.add_api_key("key-123")
    servicenow.add_user("jdoe", "pw-1")
    servicenow.reset()
    assert anonymous.get(TABLE, headers={"x-sn-apikey": "key-123"}, auth=None).status_code == 401
    assert anonymous.get(TABLE, auth=("jdoe", "pw-1")).status_code == 401
    assert anonymous.get(TABLE, auth=(DEFAULT_USERNAME, DEFAULT_PASSWORD)).status_code == 200


def test_a_malformed_basic_header_is_a_401(anonymous):
    response = anonymous.get(TABLE, headers={"Authorization": "Basic !!!"}, auth=None)
    assert response.status_code == 401


def test_auth_comes_before_table_checks(anonymous):
    assert anonymous.get("/api/now/table/u_nothing", auth=None).status_code == 401


def test_a_fresh_client_gets_the_same_answers(servicenow):
    with httpx.Client(base_url=servicenow.url) as client:
        assert client.get(TABLE).status_code == 401
