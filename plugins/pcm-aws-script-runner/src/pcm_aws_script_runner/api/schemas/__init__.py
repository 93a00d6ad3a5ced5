"""What the JSON API accepts and returns, one module per resource, separate from the table
models (:mod:`pcm_aws_script_runner.models`), with the conversions from table rows."""
