"""Finding, choosing, checking and registering plugins (pcm_ops.discovery)."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import pytest

from pcm_ops import PLUGIN_API_VERSION
from pcm_ops.discovery import discover
from pcm_ops.errors import ConfigError, PluginError
from pcm_ops.registry import PluginState


def test_plugins_are_ordered_by_id_whatever_the_entry_point_order(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("beta", "alpha")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    assert [record.id for record in registry] == ["alpha", "beta"]


def test_call_order_lists_the_implementers_of_each_hook_in_id_order(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("beta", "alpha")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    order = registry.call_order()
    assert order["pcm_ops_api_routers"] == ["alpha", "beta"]
    assert order["pcm_ops_permissions"] == ["alpha", "beta"]
    assert order["pcm_ops_cli_commands"] == ["alpha"]


def test_a_plugin_whose_import_raises_is_failed_and_the_others_load(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "broken_import", "beta")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    broken = registry.get("broken-import")
    assert broken.state is PluginState.FAILED
    assert "RuntimeError: boom at import time" in broken.error
    assert "fixtures_plugins.broken_import" in broken.error
    assert [record.id for record in registry.loaded()] == ["alpha", "beta"]


def test_an_incompatible_plugin_names_itself_the_wanted_range_and_the_found_version(
    make_pcm_settings, fixture_plugins
):
    registry = discover(
        make_pcm_settings(plugins=None), entry_points_=fixture_plugins("incompatible")
    )

    record = registry.get("incompatible")
    assert record.state is PluginState.INCOMPATIBLE
    assert "'incompatible'" in record.error
    assert ">=2.0,<3" in record.error
    assert f"found {PLUGIN_API_VERSION}" in record.error


def test_a_plugin_without_metadata_is_failed_with_a_message_saying_what_to_declare(
    make_pcm_settings, fixture_plugins
):
    registry = discover(
        make_pcm_settings(plugins=None), entry_points_=fixture_plugins("no_metadata")
    )

    record = registry.get("no-metadata")
    assert record.state is PluginState.FAILED
    assert "no `metadata` attribute of type pcm_ops.plugin.PluginMetadata" in record.error
    assert not registry.manager.is_registered(sys.modules["fixtures_plugins.no_metadata"])


def test_invalid_metadata_is_failed_with_every_problem_named(make_pcm_settings, fixture_plugins):
    registry = discover(
        make_pcm_settings(plugins=None), entry_points_=fixture_plugins("bad_metadata")
    )

    record = registry.get("bad-metadata")
    assert record.state is PluginState.FAILED
    assert "metadata.provider 'My Cloud' must be lowercase letters, digits and dashes" in (
        record.error
    )
    assert "metadata.display_name is empty" in record.error


def test_an_entry_point_name_that_differs_from_metadata_id_is_refused(
    make_pcm_settings, fixture_plugins
):
    registry = discover(make_pcm_settings(plugins=None), entry_points_=fixture_plugins("misnamed"))

    record = registry.get("misnamed")
    assert record.state is PluginState.FAILED
    assert "metadata.id is 'something-else' but the entry point is 'misnamed'" in record.error


def test_a_second_plugin_with_the_same_provider_and_tool_is_failed_naming_the_first(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha_twin", "alpha")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    assert registry.get("alpha").state is PluginState.LOADED
    twin = registry.get("alpha-twin")
    assert twin.state is PluginState.FAILED
    assert "/api/tools/test/alpha is already taken by plugin 'alpha'" in twin.error


def test_the_allow_list_loads_only_the_plugins_it_names(make_pcm_settings, fixture_plugins):
    entry_points = fixture_plugins("alpha", "beta")

    registry = discover(make_pcm_settings(plugins=["beta"]), entry_points_=entry_points)

    assert registry.get("alpha").state is PluginState.DISABLED
    assert registry.get("beta").state is PluginState.LOADED
    assert "fixtures_plugins.alpha" not in sys.modules


def test_a_disabled_plugin_is_not_imported(make_pcm_settings, fixture_plugins):
    entry_points = fixture_plugins("alpha", "beta")

    registry = discover(
        make_pcm_settings(plugins=None, disabled_plugins=["beta"]), entry_points_=entry_points
    )

    assert registry.get("beta").state is PluginState.DISABLED
    assert "fixtures_plugins.beta" not in sys.modules
    assert "fixtures_plugins.alpha" in sys.modules


def test_an_unknown_id_in_the_allow_list_is_a_config_error_listing_the_installed_plugins(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "beta")

    with pytest.raises(ConfigError) as raised:
        discover(make_pcm_settings(plugins=["alpha", "gamma"]), entry_points_=entry_points)

    assert raised.value.problems == [("plugins", "unknown plugin 'gamma'; installed: alpha, beta")]


def test_an_unknown_id_in_disabled_plugins_is_a_config_error_listing_the_installed_plugins(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha")

    with pytest.raises(ConfigError) as raised:
        discover(
            make_pcm_settings(plugins=None, disabled_plugins=["gamma"]),
            entry_points_=entry_points,
        )

    assert raised.value.problems == [
        ("disabled_plugins", "unknown plugin 'gamma'; installed: alpha")
    ]


def test_strict_mode_turns_a_plugin_failure_into_a_plugin_error(make_pcm_settings, fixture_plugins):
    entry_points = fixture_plugins("alpha", "broken_import")

    with pytest.raises(PluginError, match=r"plugin 'broken-import': import of .* failed"):
        discover(make_pcm_settings(plugins=None, strict_plugins=True), entry_points_=entry_points)


def test_a_plugin_implementing_an_unknown_hook_without_optionalhook_is_failed(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "unknown_hook")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    record = registry.get("unknown-hook")
    assert record.state is PluginState.FAILED
    assert "pcm_ops_no_such_hook" in record.error
    assert "optionalhook=True" in record.error
    assert registry.get("alpha").state is PluginState.LOADED


def test_an_optional_implementation_of_an_absent_plugins_hook_loads(
    make_pcm_settings, fixture_plugins
):
    registry = discover(make_pcm_settings(plugins=None), entry_points_=fixture_plugins("greeted"))

    assert registry.get("greeted").state is PluginState.LOADED


def test_hooks_a_plugin_specifies_are_implemented_by_others_and_called_in_id_order(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("greeter", "greeted")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    assert [record.id for record in registry.loaded()] == ["greeted", "greeter"]
    assert registry.manager.hook.greeter_names(greeting="hi") == ["hi, greeted", "hi, greeter"]
    assert registry.call_order()["greeter_names"] == ["greeted", "greeter"]


def test_discovery_logs_how_long_each_plugin_took_at_debug_level(
    make_pcm_settings, fixture_plugins, caplog
):
    caplog.set_level(logging.DEBUG, logger="pcm_ops.plugins")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=fixture_plugins("alpha"))

    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(m.startswith("discovered plugin 'alpha'") and " ms: loaded" in m for m in messages)
    assert registry.get("alpha").discovery_seconds > 0


def test_tryfirst_and_trylast_implementations_are_called_first_and_last_whatever_their_ids(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "beta", "zz_first", "aa_last")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    called = [record.id for record, _ in registry.call_each("pcm_ops_permissions")]
    assert called == ["zz-first", "alpha", "beta", "aa-last"]
    assert registry.call_order()["pcm_ops_permissions"] == called
    assert [record.id for record in registry.implementers("pcm_ops_permissions")] == called


async def test_start_up_hooks_are_awaited_in_the_same_order(make_pcm_settings, fixture_plugins):
    entry_points = fixture_plugins("zz_first", "aa_last")
    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)
    app = SimpleNamespace(state=SimpleNamespace())

    await registry.call_each_async("pcm_ops_startup", app=app, settings=None)

    assert app.state.started == ["zz-first", "aa-last"]


def test_a_plugins_own_hooks_are_listed_in_the_same_order_by_implementations(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("greeter", "greeted", "zz_first", "aa_last")
    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    implementations = registry.implementations("greeter_names")

    assert [each.plugin.id for each in implementations] == [
        "zz-first",
        "greeted",
        "greeter",
        "aa-last",
    ]
    assert [each.call(greeting="hi") for each in implementations] == [
        "hi, zz-first",
        "hi, greeted",
        "hi, greeter",
        "hi, aa-last",
    ]


def test_a_wrapper_implementation_is_refused_naming_the_plugin_the_hook_and_the_option(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "hook_wrapper")

    registry = discover(make_pcm_settings(plugins=None), entry_points_=entry_points)

    record = registry.get("hook-wrapper")
    assert record.state is PluginState.FAILED
    assert "hook pcm_ops_permissions is marked @hookimpl(wrapper=True)" in record.error
    assert "hook pcm_ops_startup is marked @hookimpl(hookwrapper=True)" in record.error
    assert "runs no hook wrappers" in record.error
    assert not registry.manager.is_registered(sys.modules["fixtures_plugins.hook_wrapper"])
    assert registry.get("alpha").state is PluginState.LOADED
    assert registry.call_order()["pcm_ops_permissions"] == ["alpha"]


def test_in_strict_mode_a_wrapper_implementation_stops_discovery(
    make_pcm_settings, fixture_plugins
):
    entry_points = fixture_plugins("alpha", "hook_wrapper")

    refused = r"plugin 'hook-wrapper': hook pcm_ops_permissions is marked @hookimpl\(wrapper=True\)"
    with pytest.raises(PluginError, match=refused):
        discover(make_pcm_settings(plugins=None, strict_plugins=True), entry_points_=entry_points)
