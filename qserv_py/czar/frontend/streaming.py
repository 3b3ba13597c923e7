"""Result sets that reach the client while they are being produced.

mysql-mimic 3.0.5 serialises a whole text result into its buffer and drains the socket once at
the end (reference/stack-measurements.md 1.6: first row at 5 s, with the last; 236 MB RSS for
1M proxied rows). Rows handed over as :class:`RowBatches` are written and drained batch by
batch instead, so the client sees the first chunk's rows at once and a slow client slows the
producer (back-pressure) rather than growing the czar's memory.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mysql_mimic import ResultSet, packets
from mysql_mimic.connection import Connection


class RowBatches:
    """Rows produced in batches; the text protocol writes and flushes each batch as it arrives.

    Iterating it directly yields single rows, so mysql-mimic's other paths (the binary protocol
    of prepared statements) work unchanged.
    """

    def __init__(self, batches: AsyncIterator[Sequence[Sequence[Any]]]) -> None:
        self.batches = batches

    def __aiter__(self) -> AsyncIterator[Sequence[Any]]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[Sequence[Any]]:
        async for batch in self.batches:
            for row in batch:
                yield row


async def _write_text_resultset(connection: Connection, result_set: ResultSet) -> None:
    if not isinstance(result_set.rows, RowBatches):
        await _ORIGINAL(connection, result_set)
        return
    header = [
        packets.make_column_count(
            capabilities=connection.capabilities, column_count=len(result_set.columns)
        )
    ]
    for column in result_set.columns:
        header.append(
            packets.make_column_definition_41(
                server_charset=connection.server_charset,
                name=column.name,
                column_type=column.type,
                character_set=column.character_set,
            )
        )
    if not connection.deprecate_eof():
        header.append(connection.eof())
    connection.stream.write_many(header)
    await connection.stream.drain()
    count = 0
    async for batch in result_set.rows.batches:
        count += connection.stream.write_text_rows(batch, result_set.columns)
        await connection.stream.drain()
    await connection.stream.write(connection.ok_or_eof(affected_rows=count), drain=False)
    await connection.stream.drain()


_ORIGINAL = Connection.write_text_resultset


def enable_streaming(connection: Connection) -> None:
    """Make this one connection write :class:`RowBatches` results batch by batch."""
    connection.write_text_resultset = types.MethodType(_write_text_resultset, connection)
