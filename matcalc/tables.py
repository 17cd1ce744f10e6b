"""The one way an interpretation table is filled: ``rule = registrar(TABLE)``, then ``@rule("op")``."""
from __future__ import annotations

from typing import Callable


def registrar(table: dict, many: bool = False) -> Callable:
    """A decorator factory registering a function under one or more ops in ``table``
    (appending to a list per op when ``many``, as for rewrite rules)."""
    def for_ops(*ops: str):
        def register(fn):
            for op in ops:
                if many:
                    table.setdefault(op, []).append(fn)
                else:
                    table[op] = fn
            return fn
        return register
    return for_ops
