"""The durable workflow of an execution: ``aws-script-runner.execute``.

One workflow per execution, enqueued by :func:`pcm_aws_script_runner.services.executions.launch`.
It loops:

1. decide, from what earlier steps returned (never from the clock or the database
   directly, so that a replay after a crash takes the same path), which planned batches
   may be sent now: the execution's max concurrency counts the instances still running
   across *all* its batches, and once more instances have failed than its max errors
   allows, no further batch is sent;
2. send them, concurrently, in steps of up to ten batches, one ``SendCommand`` each (see
   :func:`send_batches` for how a crash between a call and its checkpoint never sends a
   batch twice);
3. wait (a durable sleep that grows while nothing changes), then poll every running batch
   in one step: ``ListCommandInvocations`` pages with details, ``GetCommandInvocation``
   only for output that the list truncated; changed results are written and published to
   the execution's event stream;
4. on a cancel request: mark the batches not yet sent, and ``CancelCommand`` every running
   batch, each a step.

Results and events go to the stream ``aws-script-runner:execution:<id>``: ``batch`` (sent,
failed to send, cancelled), ``instances`` (the instances of one batch whose result changed)
and ``execution`` (status and counts).

The steps and the workflow live in their own modules (the sending step in
:mod:`.sending`; :mod:`.polling`; :mod:`.lifecycle` for begin, hold, cancel and finish;
:mod:`.workflow` for the loop). Their job-engine names are recorded in its database and
never change; importing :mod:`.workflow` registers them all (it is the module the plugin's
``pcm_ops_jobs`` hook names).
"""
