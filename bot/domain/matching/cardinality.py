"""Maximum cardinality, proven: Edmonds' augmenting-path search (blossoms contracted) from every
member left alone, first on the sparse candidate graph, then on the FULL allowed graph whose
rows are scored on demand. When no search finds a path, Berge's theorem says no matching of the
allowed graph pairs more members; a search that fails leaves a Hungarian tree whose members no
later search can use, so the full-graph phase looks at each member's row at most once.

The state is numpy arrays over the pool, reset only where a search touched them; a dequeued
member's neighbours are filtered as arrays (only blossom contractions are one at a time)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
Neighbours = Callable[[int], I64]


class Search:
    """Augmenting-path searches over one matching `mate` (-1: alone), changed in place."""

    def __init__(self, mate: I64) -> None:
        n = len(mate)
        self.mate = mate
        self.base = np.arange(n, dtype=np.int64)
        self.parent = np.full(n, -1, dtype=np.int64)
        self.even = np.zeros(n, dtype=bool)
        self.dead = np.zeros(n, dtype=bool)
        """Members of a Hungarian tree: no augmenting path can pass through them any more."""
        self.touched: list[int] = []

    def _lca(self, a: int, b: int) -> int:
        mate, parent, base = self.mate, self.parent, self.base
        seen = set()
        while True:
            a = int(base[a])
            seen.add(a)
            if mate[a] < 0:
                break
            a = int(parent[mate[a]])
        while True:
            b = int(base[b])
            if b in seen:
                return b
            b = int(parent[mate[b]])

    def _mark(self, v: int, top: int, child: int, blossom: set[int]) -> None:
        mate, parent, base = self.mate, self.parent, self.base
        while base[v] != top:
            blossom.add(int(base[v]))
            blossom.add(int(base[mate[v]]))
            parent[v] = child
            child = int(mate[v])
            v = int(parent[mate[v]])

    def _reset(self) -> None:
        t = np.array(self.touched, dtype=np.int64)
        self.base[t] = t
        self.parent[t] = -1
        self.even[t] = False
        self.touched = []

    def augment_from(self, root: int, neighbours: Neighbours) -> list[int] | None:
        """Search from the lone member `root`; on success augment `mate` and return the members
        whose partner changed, else mark the Hungarian tree dead and return None."""
        mate, parent, base, even = self.mate, self.parent, self.base, self.even
        even[root] = True
        self.touched = [root]
        queue = deque([root])
        found = -1
        while queue and found < 0:
            v = queue.popleft()
            nb = neighbours(v)
            nb = nb[(base[nb] != base[v]) & (nb != mate[v]) & ~self.dead[nb]]
            if not len(nb):
                continue
            alone = nb[(mate[nb] < 0) & (nb != root)]
            if len(alone):
                parent[alone[0]] = v
                self.touched.append(int(alone[0]))
                found = int(alone[0])
                break
            grow = nb[(parent[nb] < 0) & ~even[nb]]
            if len(grow):
                grow = np.unique(grow)
                parent[grow] = v
                partners = mate[grow]
                even[partners] = True
                self.touched.extend(grow.tolist())
                self.touched.extend(partners.tolist())
                queue.extend(partners.tolist())
            while True:
                hits = nb[even[nb] & (base[nb] != base[v])]
                if not len(hits):
                    break
                to = int(hits[0])
                top = self._lca(v, to)
                blossom: set[int] = set()
                self._mark(v, top, to, blossom)
                self._mark(to, top, v, blossom)
                tree = np.unique(np.array(self.touched, dtype=np.int64))
                inside = tree[np.isin(base[tree], np.fromiter(blossom, dtype=np.int64))]
                base[inside] = top
                new = inside[~even[inside]]
                even[new] = True
                queue.extend(new.tolist())
        if found < 0:
            self.dead[np.array(self.touched, dtype=np.int64)] = True
            self._reset()
            return None
        changed = []
        v = found
        while v >= 0:
            pv = int(parent[v])
            nxt = int(mate[pv])
            mate[v], mate[pv] = pv, v
            changed += [v, pv]
            v = nxt
        self._reset()
        return changed


def csr_neighbours(n: int, edges: I64) -> Neighbours:
    """Neighbours in a graph given as (m, 2) edges."""
    ends = np.concatenate([edges[:, 0], edges[:, 1]])
    others = np.concatenate([edges[:, 1], edges[:, 0]])
    order = np.argsort(ends, kind="stable")
    others = others[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=indptr[1:])

    def neighbours(v: int) -> I64:
        return others[indptr[v]: indptr[v + 1]]

    return neighbours


def maximise(mate: I64, roots: list[int], neighbours: Neighbours) -> tuple[list[int], list[int]]:
    """Augment from each root while a path exists: (members whose partner changed, roots no
    path reaches: provably left alone in this graph)."""
    search = Search(mate)
    changed: list[int] = []
    stuck: list[int] = []
    for r in roots:
        if mate[r] >= 0:
            continue  # paired by an earlier augmentation
        if search.dead[r]:
            stuck.append(r)
            continue
        got = search.augment_from(r, neighbours)
        if got is None:
            stuck.append(r)
        else:
            changed += got
    return changed, stuck
