"""Errors that cross the RPC boundary as values (code + message), never as pickled exceptions."""

from __future__ import annotations


class RpcError(Exception):
    """A failure reported by the remote side, or of the channel itself.

    ``code`` is a short machine-readable word (``"auth"``, ``"timeout"``, ``"bad_request"``,
    ``"sql"``, ``"internal"``, ``"connection"``); ``retryable`` tells the caller whether the same
    request may succeed on another replica or a fresh connection.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_wire(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "details": self.details,
        }

    @classmethod
    def from_wire(cls, payload: dict[str, object]) -> RpcError:
        return cls(
            str(payload.get("code", "internal")),
            str(payload.get("message", "unknown error")),
            retryable=bool(payload.get("retryable", False)),
            details=dict(details) if isinstance(details := payload.get("details"), dict) else None,
        )


class ChannelClosed(RpcError):
    """The peer went away (connection reset, EOF mid-frame, worker died)."""

    def __init__(self, message: str) -> None:
        super().__init__("connection", message, retryable=True)
