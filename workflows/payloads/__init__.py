"""What crosses a Temporal boundary, defined once: the run specs (`specs`), activity requests and results and
training progress (`messages`), single-run and multirun inputs, states and results (`runs`), a ladder sweep's
input, state and result (`sweep`) and its trial and decision records (`records`), the wire names (`names`,
`activity_names`, `queues`) and the error type bad input raises (`errors`).

Workflows, activities and the runner all import these; this package imports nothing else of the project
(tests/unit/test_payload_home.py keeps it so), so it loads inside the workflow sandbox with the stdlib alone.
Temporal encodes a dataclass by its field names: a class may move, a field may not be renamed; a new field
needs a default so that running workflows keep decoding.
"""
