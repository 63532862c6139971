"""What the search benchmarks share: a ranker's shape, the metrics, and the two rankers measured.

Rankers:
- `query`: `engine.view.PortalView.search`, the ranking behind both the `query` tool and
  `codemode.search`;
- substring baseline: a tool scores one point per distinct query word (3+ letters) found as a
  substring of its name or description; ties keep catalog order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from engine.view import MAX_SEARCH_LIMIT, PortalView

Ranker = Callable[[str], list[str]]
"""A request to client-visible tool names, best first."""

QUERY = "`query` (PortalView.search)"
BASELINE = "substring baseline"
RECALL_AT = (1, 3, 5, 10)


@dataclass
class Score:
    name: str
    ranks: list[int | None] = field(default_factory=list)
    """1-based rank of the first accepted tool per request, None if not ranked."""

    def recall(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / len(self.ranks)

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / len(self.ranks)


def rank_of(ranking: Sequence[str], accepted: Collection[str]) -> int | None:
    """1-based rank of the first name in `accepted`, None if none is ranked."""
    return next((i + 1 for i, name in enumerate(ranking) if name in accepted), None)


def query_ranker(view: PortalView, limit: int = MAX_SEARCH_LIMIT) -> Ranker:
    return lambda q: [m.tool.name for m in view.search(q, limit)]


_WORD = re.compile(r"[a-z0-9]+")


def substring_ranker(view: PortalView, limit: int = MAX_SEARCH_LIMIT) -> Ranker:
    texts = [(t.name, f"{t.name} {t.description}".lower()) for t in view.tools]

    def rank(query: str) -> list[str]:
        words = {w for w in _WORD.findall(query.lower()) if len(w) >= 3}
        scored = [(sum(w in text for w in words), i, name) for i, (name, text) in enumerate(texts)]
        scored = [s for s in scored if s[0] > 0]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [name for _, _, name in scored[:limit]]

    return rank


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"
