"""The script runner's logic, with no FastAPI in it: used by the API, the pages and the CLI.

- :mod:`~pcm_aws_script_runner.services.validation`: the rules for scripts and parameters,
  the content hash, and :func:`~pcm_aws_script_runner.services.validation.validate_run_parameters`.
- :mod:`~pcm_aws_script_runner.services.scripts`: the script library and its versions.
- :mod:`~pcm_aws_script_runner.services.diff`: what changed between two versions.
- :mod:`~pcm_aws_script_runner.services.inventory`: the fleet inventory, filters, syncs.
- :mod:`~pcm_aws_script_runner.services.executions`: planning, starting, following and
  cancelling runs; other plugins' target sources and pre-execution checks.
- :mod:`~pcm_aws_script_runner.services.errors`: what all of them raise.
"""
