"""Result sets that reach the client while they are being produced.

mysql-mimic 3.0.5 serialises a whole text result into its buffer and drains the socket once at
the end (reference/stack-measurements.md 1.6: first row at 5 s, with the last; 236 MB RSS for
1M proxied rows). Rows handed over as :class:`RowBatches` are written and drained batch by
batch instead, so the client sees the first chunk's rows at once and a slow client slows the
producer (back-pressure) rather than growing the czar's memory.

A batch that is a :class:`~qserv_py.results.text_rows.TextRows` (rows of a query without a
merge, as the workers' MariaDB sent them) is written as it is: its packets get this
connection's sequence numbers and go out in one write, with no work per value, so the client
gets MariaDB's own bytes. Other batches (merge results, the czar's own queries) are Python or
text values that mysql-mimic's ``write_text_rows`` formats with the columns' encoders.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import types
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any

import mysql_mimic.connection
from mysql_mimic import ResultSet, packets
from mysql_mimic.charset import CharacterSet
from mysql_mimic.connection import Connection
from mysql_mimic.stream import MysqlStream
from mysql_mimic.types import ColumnType

from qserv_py.czar.frontend.errors import mysql_error
from qserv_py.results.text_rows import TextRows


class RowBatches:
    """Rows produced in batches; the text protocol writes and flushes each batch as it arrives.

    Iterating it directly yields single rows, so mysql-mimic's other paths (the binary protocol
    of prepared statements) work unchanged.
    """

    def __init__(
        self,
        batches: AsyncIterator[Sequence[Sequence[Any]]],
        killed: Callable[[], bool] | None = None,
    ) -> None:
        self.batches = batches
        self.killed = killed or (lambda: False)
        """Whether a cancel of the writing task is a KILL QUERY / CANCEL of this result."""

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
    charset = connection.server_charset
    for column in result_set.columns:
        header.append(_column_definition(charset, column.name, column.type, column.character_set))
    if not connection.deprecate_eof():
        header.append(connection.eof())
    stream = connection.stream
    stream.write_many(header)  # buffered: it leaves with the first rows, in one write
    count = 0
    batches = result_set.rows.batches
    try:
        with cancelled_if_client_leaves(connection):
            async for batch in batches:
                if isinstance(batch, TextRows):
                    data, stream.seq.value = batch.wire(stream.seq.value)
                    _buffer(stream).extend(data)
                    count += batch.num_rows
                else:
                    count += stream.write_text_rows(batch, result_set.columns)
                await stream.drain()
    except asyncio.CancelledError:
        if result_set.rows.killed():
            raise interrupted() from None
        raise
    finally:
        # The client may be gone (a failed write) or the query killed: close the producer now,
        # which cancels the chunks still running, rather than whenever it is collected.
        await _close(batches)
    await connection.stream.write(connection.ok_or_eof(affected_rows=count), drain=False)
    await connection.stream.drain()


def _closed(connection: Connection) -> asyncio.Future[None]:
    """The future the connection's stream protocol resolves when the client hangs up.

    Taken from the protocol itself (``StreamWriter.wait_closed`` awaits the same future): a
    task around ``wait_closed()`` would, when cancelled, cancel that shared future too.
    """
    writer = connection.stream.writer
    closed: asyncio.Future[None] = writer._protocol._get_close_waiter(writer)
    return closed


@contextlib.contextmanager
def cancelled_if_client_leaves(connection: Connection) -> Iterator[None]:
    """Within the block, the client hanging up cancels the current (connection's) task, so
    the query's cleanup runs at once: chunks cancelled, workers' statements killed, the merge
    connection closed. Without it, a client leaving while the czar waits for the workers (a
    slow chunk, a long merge) went unnoticed until the czar next wrote to it.

    A callback on the stream protocol's close future, not a watcher task: it costs nothing
    per query or batch.
    """
    task = asyncio.current_task()
    closed = _closed(connection)

    def hung_up(_: asyncio.Future[None]) -> None:
        if task is not None and not task.done():
            task.cancel()

    closed.add_done_callback(hung_up)
    try:
        yield
    finally:
        closed.remove_done_callback(hung_up)


def interrupted() -> Exception:
    """A query stopped by KILL QUERY or CANCEL: MariaDB's 1317 for its client, whose connection
    lives on (the cancel of the connection's task is taken back)."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return mysql_error(1317, "Query execution was interrupted")


async def _close(batches: AsyncIterator[Any]) -> None:
    close = getattr(batches, "aclose", None)
    if close is not None:
        await close()


@functools.lru_cache(maxsize=4096)
def _column_definition(
    server_charset: CharacterSet, name: str, column_type: ColumnType, character_set: CharacterSet
) -> bytes:
    """One column-definition packet; the same few result shapes come back query after query
    (``SELECT *`` of a 30-column table built 30 packets per query, 0.3 ms)."""
    packet: bytes = packets.make_column_definition_41(
        server_charset=server_charset,
        name=name,
        column_type=column_type,
        character_set=character_set,
    )
    return packet


def _buffer(stream: MysqlStream) -> bytearray:
    """mysql-mimic's write buffer of ``stream``, which ``drain()`` sends in one write."""
    buffer: bytearray = stream._buffer
    return buffer


_ORIGINAL = Connection.write_text_resultset
_ORIGINAL_AITERATE = mysql_mimic.connection.aiterate


def _aiterate(iterable: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
    """mysql-mimic's ``aiterate`` iterates only async *generators* asynchronously, and a
    :class:`RowBatches` (an async iterable) would be iterated synchronously and fail: that is
    how the binary protocol (prepared statements) reads result rows."""
    if isinstance(iterable, RowBatches):
        return iterable.__aiter__()
    rows: AsyncIterator[Any] = _ORIGINAL_AITERATE(iterable)
    return rows


def enable_streaming(connection: Connection) -> None:
    """Make this one connection write :class:`RowBatches` results batch by batch (and let
    mysql-mimic's other result paths iterate them row by row)."""
    mysql_mimic.connection.aiterate = _aiterate
    connection.write_text_resultset = types.MethodType(_write_text_resultset, connection)
