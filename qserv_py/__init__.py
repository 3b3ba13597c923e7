"""qserv-py: a Python re-implementation of Qserv, the Rubin Observatory catalog database."""

__version__ = "0.1.0"
