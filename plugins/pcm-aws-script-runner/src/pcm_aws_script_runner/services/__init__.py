"""The script runner's logic, with no FastAPI in it: used by the API, the pages and the CLI.

- :mod:`~pcm_aws_script_runner.services.validation`: the rules a script must follow, and
  the content hash of a version;
- :mod:`~pcm_aws_script_runner.services.parameters`: the parameters a script declares;
- :mod:`~pcm_aws_script_runner.services.run_parameters`: the values a run gives them
  (:func:`~pcm_aws_script_runner.services.run_parameters.validate_run_parameters`), masked;
- :mod:`~pcm_aws_script_runner.services.input_problems`: every wrong field of an input,
  collected and raised together.
- :mod:`~pcm_aws_script_runner.services.scripts`: the script library and its versions.
- :mod:`~pcm_aws_script_runner.services.diff`: what changed between two versions.
- :mod:`~pcm_aws_script_runner.services.inventory`: the fleet inventory, filters, syncs.
- :mod:`~pcm_aws_script_runner.services.executions`: planning, starting, following and
  cancelling runs; other plugins' target sources and pre-execution checks.
- :mod:`~pcm_aws_script_runner.services.errors`: what all of them raise.
"""
