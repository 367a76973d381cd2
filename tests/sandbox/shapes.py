"""Comparing a sandbox answer with a recorded real one: the same key paths, the same kinds of
value (a field the real platform left null may hold anything)."""

from __future__ import annotations

from typing import Any

__all__ = ["shape", "assert_same_shape"]


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def shape(obj: Any, path: str = "$", out: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every path in a JSON document -> the kinds of value seen there."""
    out = {} if out is None else out
    if isinstance(obj, dict):
        out.setdefault(path, set()).add("object")
        for k, v in obj.items():
            shape(v, f"{path}.{k}", out)
    elif isinstance(obj, list):
        out.setdefault(path, set()).add("array")
        for v in obj:
            shape(v, f"{path}[]", out)
    else:
        out.setdefault(path, set()).add(_kind(v=obj))
    return out


def assert_same_shape(ours: Any, recorded: Any, keys_only: bool = False,
                      extra_under: str | None = None) -> None:
    """Same key paths; same value kinds (`keys_only` for synthetic files). `extra_under`: paths
    below it may exist in ours only (data the recorded instance did not have)."""
    a, b = shape(ours), shape(recorded)
    only_ours = {p for p in set(a) - set(b) if not (extra_under and extra_under in p)}
    assert not only_ours and set(b) <= set(a), f"only ours: {only_ours}; only real: {set(b) - set(a)}"
    for path, kinds in a.items():
        if path not in b:
            continue
        if keys_only:
            continue
        if b[path] != {"null"}:
            assert kinds <= b[path], f"{path}: ours {kinds}, real {b[path]}"
