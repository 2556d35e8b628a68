"""The message pipeline: intake, then ingest -> classify -> draft -> check -> deliver.

Each step is a plain function over a message id: it loads the message, does
nothing if the message has moved on, does its work, then commits the new state
and its audit events together (optimistic locking on a version column) and
names the next step. Celery tasks in `tasks/` only call `runner.execute` and
enqueue what it returns.
"""
