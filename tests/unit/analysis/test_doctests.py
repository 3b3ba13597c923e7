"""The before/after examples in the passes' docstrings are doctests: they must stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import qserv_py.czar.analysis as analysis
from qserv_py.czar.analysis.pipeline import PASSES

MODULES = sorted(m.name for m in pkgutil.iter_modules(analysis.__path__))
PASS_MODULES = sorted(
    {p.__module__.rsplit(".", 1)[1] for phase in PASSES for p in phase} | {"parse"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"qserv_py.czar.analysis.{name}")
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0
    if name in PASS_MODULES:
        assert result.attempted > 0, f"{name}: a pass's docstring shows a before/after example"
