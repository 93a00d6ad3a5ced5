"""``pcm-ops script-runner ...``: one command group per resource (:mod:`.scripts`,
:mod:`.inventory`, :mod:`.executions`), gathered in :mod:`.main`, what they share in
:mod:`.common`."""
