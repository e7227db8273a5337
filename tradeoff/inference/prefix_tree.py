"""Which token prefixes a set of prompts share, as a tree (the plan for computing each prefix's KV once).

Spider prompts share the system prompt; those on one database also share its schema; 4-shot
prompts share the whole few-shot block above both. Working on token ids (not text) makes the
plan exact: a prefix's KV cache is what the full prompt's forward pass computes for those
positions, whatever the tokenizer does at a text boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class PrefixNode:
    """A prefix of `length` tokens shared by every prompt below it; `parent` holds its first part."""

    length: int
    parent: int | None
    members: list[int] = field(default_factory=list)  # prompts whose longest shared prefix this is


def common_prefix_length(a: Sequence[int], b: Sequence[int], start: int = 0) -> int:
    """How many leading tokens a and b share (counting from `start`, known to be shared)."""
    n = min(len(a), len(b))
    i = start
    while i < n and a[i] == b[i]:
        i += 1
    return i


def prefix_tree(ids: Sequence[Sequence[int]], min_shared: int = 32) -> tuple[list[PrefixNode], list[int]]:
    """Nodes (parents before children) and each prompt's node.

    A node splits into children where at least two prompts share `min_shared` more tokens than
    the node: below that, a separate prefix saves less prefill than it costs to compute. Every
    prompt keeps at least one token of its own, so its first new token has a position to come
    from. Deterministic: the same prompts give the same tree.
    """
    nodes: list[PrefixNode] = []
    node_of = [-1] * len(ids)
    if not ids:
        return nodes, node_of
    if any(len(i) == 0 for i in ids):
        raise ValueError("a prompt with no tokens has nothing to continue from")
    order = sorted(range(len(ids)), key=lambda i: (tuple(ids[i]), i))

    def build(members: list[int], start: int, parent: int | None) -> None:
        shortest = min(len(ids[m]) for m in members) - 1
        length = common_prefix_length(ids[members[0]], ids[members[-1]], start) if len(members) > 1 else start  # sorted
        length = max(start, min(length, shortest))
        here = len(nodes)
        nodes.append(PrefixNode(length, parent))
        runs: list[list[int]] = [[members[0]]]
        for a, b in zip(members, members[1:]):
            if common_prefix_length(ids[a], ids[b], length) >= length + min_shared:
                runs[-1].append(b)
            else:
                runs.append([b])
        for run in runs:
            if len(run) > 1 and min(len(ids[m]) for m in run) - 1 >= length + min_shared:
                build(run, length, here)
            else:
                nodes[here].members.extend(run)
                for m in run:
                    node_of[m] = here

    build(order, 0, None)
    return nodes, node_of
