"""The plugin's JSON API, mounted under ``/api/tools/aws/script-runner``: one router per
resource (:mod:`.scripts`, :mod:`.targets`, :mod:`.inventory`, :mod:`.executions`), their
request and response models in :mod:`.schemas`. Every route declares the permission it
needs and its response model; the ``pcm_ops_api_routers`` hook lists the routers."""
