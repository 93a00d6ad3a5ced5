"""PCM-Ops AWS Script Runner: a versioned script library, run on EC2 fleets through SSM.

Other plugins extend it through its own hooks (:mod:`pcm_aws_script_runner.hookspecs`) with
the values in :mod:`pcm_aws_script_runner.hooktypes`.
"""
