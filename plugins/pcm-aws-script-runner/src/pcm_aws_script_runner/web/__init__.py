"""The plugin's web pages, mounted under ``/tools/aws/script-runner``: one router per
resource (:mod:`.scripts`, :mod:`.inventory`, :mod:`.run_form`, :mod:`.executions`), what
they share in :mod:`.common`; the ``pcm_ops_web_pages`` hook lists the routers. Pages read
and write through the same services as the JSON API. Forms carry the session's CSRF token
in a hidden ``csrf_token`` field; core checks it before a route runs.
"""
