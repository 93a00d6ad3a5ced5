"""Target sources that other plugins supply, and resolving a reference with one."""

from __future__ import annotations

import pytest

from pcm_aws_script_runner.hooktypes import ResolvedTarget, UnresolvedTarget
from pcm_aws_script_runner.services.errors import InvalidInput, NotFound, TargetResolutionError
from pcm_aws_script_runner.services.executions.sources import (
    resolve_reference,
    resolve_targets,
    target_sources,
)

pytestmark = pytest.mark.parametrize("pcm_backend", ["sqlite"], indirect=True)


async def test_sources_are_listed_with_their_plugin(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    sources = await target_sources(registry)

    assert [(s.plugin, s.source.name, s.source.display_name) for s in sources] == [
        ("sr-check-passes", "static-fleet", "Static fleet")
    ]


async def test_a_taken_or_malformed_name_and_a_raising_hook_leave_only_good_sources(
    make_pcm_registry, hook_plugins, caplog
):
    registry = make_pcm_registry(
        "aws-script-runner",
        *hook_plugins("check_raises", "check_passes", "check_misbehaves"),
    )

    sources = await target_sources(registry)

    assert [(s.plugin, s.source.name) for s in sources] == [("sr-check-passes", "static-fleet")]
    logged = caplog.text
    assert "target source 'static-fleet' is already supplied by plugin 'sr-check-passes'" in logged
    assert "'Bad Name' must be lowercase" in logged
    assert "plugin 'sr-check-misbehaves': hook aws_sr_target_sources raised" in logged


async def test_a_reference_resolves_to_instances_each_listed_once(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    targets = await resolve_targets(registry, "static-fleet", " web ", None)

    assert targets == [
        ResolvedTarget("i-0123456789abcdef0", "111122223333", "eu-west-1", "web-1"),
        ResolvedTarget("i-0123456789abcdef1", "111122223333", "eu-west-1", "web-2"),
    ]


async def test_what_a_reference_names_but_cannot_resolve_is_kept_apart_with_why(
    make_pcm_registry, hook_plugins
):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    resolution = await resolve_reference(registry, "static-fleet", "partly", None)
    targets = await resolve_targets(registry, "static-fleet", "partly", None)

    assert resolution.unresolved == [UnresolvedTarget("printer-3", "it is not an EC2 instance")]
    assert [t.instance_id for t in resolution.targets] == ["i-0123456789abcdef0"]
    assert targets == resolution.targets


async def test_managed_instances_and_govcloud_regions_are_accepted(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    [target] = await resolve_targets(registry, "static-fleet", "gov", None)

    assert (target.instance_id, target.region) == ("mi-0123456789abcdef0", "us-gov-west-1")


async def test_an_unknown_source_names_the_known_ones(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(NotFound, match="no target source 'cmdb'; known: static-fleet"):
        await resolve_targets(registry, "cmdb", "web", None)


async def test_an_unknown_reference_is_the_operators_to_fix(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(InvalidInput) as raised:  # the source raised LookupError
        await resolve_targets(registry, "static-fleet", "db", None)

    assert raised.value.problems == [
        (
            "reference",
            "target source 'static-fleet' (plugin 'sr-check-passes') cannot resolve 'db': "
            "there is no fleet 'db'",
        )
    ]


async def test_a_failing_source_is_shown_with_source_and_plugin(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(TargetResolutionError) as raised:
        await resolve_targets(registry, "static-fleet", "down", None)

    assert str(raised.value) == (
        "target source 'static-fleet' (plugin 'sr-check-passes') cannot resolve 'down': "
        "the fleet database is down"
    )


async def test_a_malformed_instance_id_fails_resolution(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(TargetResolutionError, match="'server-7', which is not an SSM"):
        await resolve_targets(registry, "static-fleet", "broken", None)


async def test_a_slow_source_times_out(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(TargetResolutionError, match=r"did not answer within 0\.05 seconds"):
        await resolve_targets(registry, "static-fleet", "slow", None, time_limit=0.05)


async def test_an_empty_reference_is_refused_naming_the_field(make_pcm_registry, hook_plugins):
    registry = make_pcm_registry("aws-script-runner", *hook_plugins("check_passes"))

    with pytest.raises(InvalidInput) as raised:
        await resolve_targets(registry, "static-fleet", "  ", None)

    assert raised.value.problems == [("reference", "must not be empty")]
