"""Ordering libraries for a single-pass linker: a topological order of the dependency graph,
with each strongly connected component (a cycle) kept together as a group."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Set

__all__ = ["link_order", "strongly_connected"]


def strongly_connected(graph: Mapping[str, Set[str]]) -> list[tuple[str, ...]]:
    """Tarjan's strongly connected components, each sorted; dependencies come out first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            out.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def link_order(graph: Mapping[str, Set[str]]) -> list[tuple[str, ...]]:
    """Groups in link order: every library before the libraries it needs.

    ``graph[a]`` holds the libraries ``a`` takes symbols from (every node must be a key). A
    group of one is a plain library; a larger group is a cycle, to be wrapped in
    ``--start-group``/``--end-group``. Ties are broken by name, so the order is stable.
    """
    components = strongly_connected(graph)
    owner = {node: i for i, comp in enumerate(components) for node in comp}
    needs: dict[int, set[int]] = {i: set() for i in range(len(components))}
    waiting = dict.fromkeys(range(len(components)), 0)
    for node, succs in graph.items():
        for succ in succs:
            a, b = owner[node], owner[succ]
            if a != b and b not in needs[a]:
                needs[a].add(b)
                waiting[b] += 1
    ready = [(components[i], i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[tuple[str, ...]] = []
    while ready:
        comp, i = heapq.heappop(ready)
        order.append(comp)
        for j in needs[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (components[j], j))
    return order
