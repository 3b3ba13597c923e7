"""The one error type of the sciSQL rewrite, carrying the MySQL error code the czar should send."""

from __future__ import annotations

# MySQL/MariaDB error codes the czar maps these errors to.
ER_SP_DOES_NOT_EXIST = 1305  # "FUNCTION x does not exist"
ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT = 1582  # "Incorrect parameter count in the call to ..."
ER_NOT_SUPPORTED_YET = 1235  # "This version of ... doesn't yet support ..."
ER_ILLEGAL_VALUE_FOR_TYPE = 1367  # "Illegal double '1e999' value found during parsing"


class ScisqlError(ValueError):
    """A sciSQL call the czar cannot turn into plain SQL; ``code`` is the MySQL error number."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ScisqlBug(AssertionError):
    """The rewrite produced something it must not (a non-finite literal): a bug here."""
