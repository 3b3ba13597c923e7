"""Query results between worker and czar: a schema message plus compact column-wise row batches.

See :mod:`qserv_py.results.codec` and docs/rpc.md (``query.run``).
"""
