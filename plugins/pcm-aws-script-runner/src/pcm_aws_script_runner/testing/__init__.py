"""Test support for plugins that build on the AWS Script Runner (and for its own tests).

Install ``pcm-aws-script-runner[testing]``; pytest then loads the fixtures of
:mod:`pcm_aws_script_runner.testing.fixtures` by itself (entry point ``pytest11``), next to
core's (``pcm_ops.testing``) and aws-common's moto fixtures (``pcm_aws_common.testing``):

``aws_sr_fleet``
    ``fleet = await aws_sr_fleet(us_east_1=3, eu_west_1=2)``: a new AWS account in the fake
    AWS with running instances in those regions, registered in aws-common (a shared
    credential source and a role), and the script runner's inventory rows written for
    them, as a sync would. The :class:`Fleet` adds scripts, starts executions through the
    API, waits for them and reads their results.
``aws_sr_run_checks``
    ``report = await aws_sr_run_checks(execution_request(...))``: every loaded plugin's
    ``aws_sr_pre_execution_checks``, as a run request calls them.

and the plain helpers :func:`execution_request` (a valid
:class:`~pcm_aws_script_runner.hooktypes.ExecutionRequest` with defaults) and
:func:`add_inventory_instances`. See the "Testing" section of the plugin's README for a
whole test module.

Nothing heavy is imported here.
"""

from __future__ import annotations

from pcm_aws_script_runner.testing.fleet import (
    FLEET_REGIONS,
    Fleet,
    add_inventory_instances,
    execution_request,
    register_fleet,
)

__all__ = [
    "FLEET_REGIONS",
    "Fleet",
    "add_inventory_instances",
    "execution_request",
    "register_fleet",
]
