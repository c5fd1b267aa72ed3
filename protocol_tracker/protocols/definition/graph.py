"""The stage graph of a definition: a dependency cycle, if any, and a topological order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(keys: Sequence[str], depends_on: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One dependency cycle as ``[a, b, ..., a]`` (a depends on b ...), or None for a DAG."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(keys, white)
    for start in keys:
        if colour[start] != white:
            continue
        path: list[str] = [start]
        colour[start] = grey
        stack = [iter(sorted(depends_on.get(start, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                colour[path.pop()] = black
                continue
            if child not in colour:
                continue
            if colour[child] == grey:
                return [*path[path.index(child) :], child]
            if colour[child] == white:
                colour[child] = grey
                path.append(child)
                stack.append(iter(sorted(depends_on.get(child, ()))))
    return None


def topological_order(keys: Sequence[str], depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    """``keys`` with every stage after the stages it depends on; ties keep the given order.

    Stages caught in a cycle (only possible in a draft) are appended in the given order.
    """
    position = {key: i for i, key in enumerate(keys)}
    pending = {
        key: {d for d in depends_on.get(key, ()) if d in position and d != key} for key in keys
    }
    dependants: dict[str, list[str]] = {key: [] for key in keys}
    for key, deps in pending.items():
        for dep in deps:
            dependants[dep].append(key)
    ready = sorted((k for k, deps in pending.items() if not deps), key=position.__getitem__)
    order: list[str] = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for child in dependants[key]:
            pending[child].discard(key)
            if not pending[child]:
                ready.append(child)
        ready.sort(key=position.__getitem__)
    if len(order) < len(keys):
        done = set(order)
        order += [k for k in keys if k not in done]
    return order
