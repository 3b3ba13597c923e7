"""Czar-worker RPC: length-prefixed frames over TCP, authenticated with a shared secret.

A frame is a JSON header plus an optional binary body, so bulk data (ingest contributions, result
batches) crosses the wire without JSON encoding. See docs/rpc.md.
"""
