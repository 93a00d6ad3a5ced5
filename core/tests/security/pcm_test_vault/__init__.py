"""A plugin that stores a secret through core's secrets service (security tests)."""

from pcm_ops import hookimpl
from pcm_ops.plugin import Permission, PluginMetadata

metadata = PluginMetadata(
    id="vault",
    display_name="Vault",
    provider="test",
    tool="vault",
    description="Stores one secret per name.",
    table_prefix="vault_",
)


@hookimpl
def pcm_ops_permissions():
    return [
        Permission("vault:read", "See which secrets are set", ("admin", "operator", "viewer")),
        Permission("vault:write", "Store secrets", ("admin", "operator")),
    ]


@hookimpl
def pcm_ops_models():
    from pcm_test_vault.app import VaultSecret

    return [VaultSecret]


@hookimpl
def pcm_ops_api_routers():
    from pcm_test_vault.app import router

    return [router]
