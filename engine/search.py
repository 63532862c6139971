"""Ranked tool search for the `query` tool and `codemode.search`.

BM25 over a weighted bag of terms per tool: name (split on `_ - . /` and camelCase), description,
parameter names and parameter descriptions, all lowercased, stop words dropped and stemmed
(Snowball English), so "commits" finds `git_log`'s "commit". Exact-name and prefix matches rank
above every text match.

The query is read a little more carefully than the tools: values in it (file names, URLs, paths,
numbers) are replaced by what they imply ("logo.png" -> file, image; "https://..." -> url, web),
shell commands and compound words by the phrase they stand for ("mkdir" -> make directory),
and common words also search their synonyms at lower weight. The tables are general English and
shell vocabulary; their effect is measured by `python -m benchmarks.search`, tuned on the dev
half of its labelled set and reported on the held-out half.

Why our own BM25 instead of `bm25s` or `rank-bm25`: both pull in numpy (and `bm25s` scipy for
indexing) for catalogs of at most a few thousand short documents, neither supports per-field
weights (the name must count more than a parameter description) and neither is typed. The
scoring below is the textbook formula in a few lines; an index of 1,000 tools builds and
answers well within a request (see benchmarks/).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, Literal, Protocol, TypeVar

import snowballstemmer  # type: ignore[import-untyped]

K1 = 1.2
B = 0.75
WEIGHTS = {
    "name": 3.0,
    "server": 1.0,
    "param_name": 1.5,
    "description": 1.0,
    "param_description": 0.7,
}
_MAX_SCHEMA_DEPTH = 4

# Fillers of requests ("a folder called X", "likes hiking"). Not "show": tools describe
# themselves with it ("Shows the commit logs").
_STOP_TEXT = """a an and are as at be by called can could do does for from have how i in into
    is it its like me my named of on or our please should tell that the their them then there
    these this to us was we what when where which who why will with would you your"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
# People and tools name the same things differently ("folder" vs "directory"). A query word
# also searches its group, at half weight, so the tool's own word still ranks first.
_SYNONYM_GROUPS = (
    "folder directory dir",
    "delete remove erase drop forget purge discard",
    "make create new",
    "find search lookup locate look",
    "rename move",
    "download fetch retrieve",
    "web url internet website webpage",
    "history log",
    "switch checkout",
    "edit modify change update",
    "save write store",
    "remember memory",
    "clock time",
    "list ls",
    "sum add addition",
    "image picture photo screenshot",
    "link connect relation relationship",
    "note observation fact",
    "size big large space bytes",
    "compare diff difference",
    "open read view",
    "now current today",
    "repeat echo",
    "info information metadata details properties",
    "copy duplicate",
    "run execute invoke launch",
)
# One-way: a command or compound word stands for a phrase in the words tools use.
_EXPANSIONS = {
    "mkdir": "make directory",
    "rmdir": "remove directory",
    "rm": "remove file",
    "mv": "move file",
    "cp": "copy file",
    "du": "disk size",
    "grep": "search text",
    "unlink": "remove link",
    "morning": "time",
    "afternoon": "time",
    "evening": "time",
    "tonight": "time",
}
_SYNONYM_WEIGHT = 0.5
_EXPANSION_WEIGHT = 1.0
# What a file name's extension says the file is, in the words tool descriptions use.
_FILE_KIND_GROUPS = (
    ("image media", "png jpg jpeg gif svg webp bmp ico tif tiff heic"),
    ("audio media", "mp3 wav ogg flac m4a aac"),
    ("video media", "mp4 mov avi mkv webm"),
    ("archive compressed", "zip gz tgz tar bz2 xz 7z"),
    ("document", "pdf doc docx xls xlsx ppt pptx odt"),
    (
        "text",
        """txt md rst log csv tsv json yaml yml toml ini cfg conf env xml html htm css js mjs
        ts tsx jsx py rb go rs java kt c h cc cpp hpp cs php sh bash sql lock""",
    ),
)
_FILE_KINDS = {ext: kind for kind, exts in _FILE_KIND_GROUPS for ext in exts.split()}
# Words the query implies without saying them: a file name means a file, a URL the web.
_HINT_WEIGHT = 0.5
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)", re.IGNORECASE)
_FILE_NAME = re.compile(r"^[\w*~./-]*\.([A-Za-z0-9]{1,5})$")
# A number is a value to pass, not a word for the tool: it hints "number" and no more.
_NUMBER = re.compile(r"^[+-]?[0-9][0-9.,:]*$")
_STRIP = "\"'`,;:!?()[]{}<>"
# A query word also matches longer indexed words it starts ("time" finds "timezone",
# "config" finds "configuration"), at reduced weight.
_PREFIX_WEIGHT = 0.4
_MIN_PREFIX_LEN = 4
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=65536)
def _word_terms(chunk: str) -> tuple[str, ...]:
    # Words repeat across a catalog's descriptions: cached, an index builds several times faster.
    out = []
    for part in _CAMEL.findall(chunk):
        word = part.lower()
        if word not in _STOP_WORDS:
            out.append(_stem(word))
    return tuple(out)


def tokens(text: str) -> list[str]:
    """Search terms of a text: split on non-alphanumerics and camelCase, stemmed, no stop words."""
    return [term for chunk in _SPLIT.split(text) for term in _word_terms(chunk)]


def _synonym_table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for group in _SYNONYM_GROUPS:
        stems = [_stem(w) for w in group.split()]
        for stem in stems:
            table[stem] = tuple(o for o in stems if o != stem)
    return table


_SYNONYMS = _synonym_table()


def _value_hints(token: str) -> list[str] | None:
    """The words a value implies (a URL the web, a file name a file of its kind, a path, a
    number), or None if the token is a plain word."""
    if _URL.match(token):
        return ["url", "web"]
    name = _FILE_NAME.match(token)
    kind = _FILE_KINDS.get(name.group(1).lower()) if name else None
    if kind is not None:
        return ["file", *kind.split(), *(["pattern"] if "*" in token else [])]
    if "/" in token.strip("/") or token.startswith("~"):
        return ["path"]
    if _NUMBER.match(token):
        return ["number"]
    return None


def split_query(query: str) -> tuple[str, list[str]]:
    """The query's words, and the words implied by its values. A value (file name, URL,
    path, number) is what to pass to a tool, not a description of one: its own letters
    ("notes" in notes.txt) would match unrelated tools, so only what it implies is kept."""
    words: list[str] = []
    implied: list[str] = []
    files = 0
    for raw in query.split():
        hint = _value_hints(raw.strip(_STRIP))
        if hint is None:
            words.append(raw)
        else:
            implied += hint
            files += "file" in hint
    if files > 1:
        implied.append("multiple")
    return " ".join(words), implied


def query_terms(query: str) -> dict[str, float]:
    """The query's terms with weights: its own words 1; their synonyms, the phrases they
    stand for, and the words its values imply, less."""
    words, implied = split_query(query)
    terms: dict[str, float] = {}
    for term in tokens(words):
        if len(term) > 1:
            terms[term] = 1.0
    for word in _SPLIT.split(words.lower()):
        for term in tokens(_EXPANSIONS.get(word, "")):
            terms.setdefault(term, _EXPANSION_WEIGHT)
    for term in tokens(" ".join(implied)):
        terms.setdefault(term, _HINT_WEIGHT)
    for term in [t for t, w in terms.items() if w == 1.0]:
        for other in _SYNONYMS.get(term, ()):
            terms.setdefault(other, _SYNONYM_WEIGHT)
    return terms


class Searchable(Protocol):
    """Anything with a tool's name, description and input schema (CuratedTool, mcp Tool).

    Optional attributes CuratedTool has: `server_id` marks the name's namespace head, and
    `upstream_name` is matched exactly like the name.
    """

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...


T = TypeVar("T", bound=Searchable)
Match = Literal["exact", "prefix", "text"]
_TIER: dict[Match, int] = {"exact": 2, "prefix": 1, "text": 0}


@dataclass(frozen=True)
class SearchHit(Generic[T]):
    item: T
    score: float
    match: Match

    @property
    def name(self) -> str:
        return self.item.name


def _parameters(schema: Any, depth: int = 0) -> Iterable[tuple[str, str]]:
    """(name, description) of every property in a JSON schema, nested ones included."""
    if not isinstance(schema, dict) or depth > _MAX_SCHEMA_DEPTH:
        return
    props = schema.get("properties")
    if isinstance(props, dict):
        for pname, sub in props.items():
            text = ""
            if isinstance(sub, dict):
                text = " ".join(str(sub.get(k, "")) for k in ("title", "description"))
            yield str(pname), text
            yield from _parameters(sub, depth + 1)
    for key in ("items", "additionalProperties"):
        yield from _parameters(schema.get(key), depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            yield from _parameters(sub, depth + 1)


def _bag(item: Searchable) -> dict[str, float]:
    """Weighted term frequencies: a term in the name counts more than one in a description."""
    bag: dict[str, float] = {}

    def add(text: str, weight: float) -> None:
        for term in tokens(text):
            bag[term] = bag.get(term, 0.0) + weight

    # The `<server_id>_` head is shared by all of a server's tools: a category, not a name.
    server_id = getattr(item, "server_id", None)
    name = item.name
    if isinstance(server_id, str) and name.startswith(server_id + "_"):
        add(server_id, WEIGHTS["server"])
        name = name[len(server_id) + 1 :]
    add(name, WEIGHTS["name"])
    add(item.description or "", WEIGHTS["description"])
    for pname, pdesc in _parameters(item.input_schema):
        add(pname, WEIGHTS["param_name"])
        add(pdesc, WEIGHTS["param_description"])
    return bag


def _names_of(item: Searchable) -> tuple[str, ...]:
    """The names a user may type for a tool: the client-visible one and the upstream one."""
    names = [item.name.lower()]
    upstream = getattr(item, "upstream_name", None)
    if isinstance(upstream, str) and upstream.lower() not in names:
        names.append(upstream.lower())
    return tuple(names)


def _name_match(query: str, names: tuple[str, ...]) -> Match:
    if query in names:
        return "exact"
    if " " not in query and any(n.startswith(query) for n in names):
        return "prefix"
    return "text"


class ToolIndex(Generic[T]):
    """An immutable BM25 index over a fixed list of tools."""

    def __init__(self, items: Sequence[T]) -> None:
        self.items = list(items)
        bags = [_bag(item) for item in self.items]
        self._lengths = [sum(bag.values()) for bag in bags]
        self._avg_length = (sum(self._lengths) / len(bags)) if bags else 1.0
        self._postings: dict[str, list[tuple[int, float]]] = {}
        for doc, bag in enumerate(bags):
            for term, tf in bag.items():
                self._postings.setdefault(term, []).append((doc, tf))
        n = len(bags)
        self._idf = {
            term: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5))
            for term, p in self._postings.items()
        }
        self._names = [_names_of(item) for item in self.items]
        self._vocabulary = sorted(self._postings)

    def __len__(self) -> int:
        return len(self.items)

    def search(self, query: str, limit: int = 10) -> list[SearchHit[T]]:
        """Best matches first: exact names, then name prefixes, then by BM25 score."""
        query = query.strip()
        if not query or limit <= 0:
            return []
        scores = self._bm25(self._with_prefixes(query_terms(query)))
        hits = []
        for doc, item in enumerate(self.items):
            match = _name_match(query.lower(), self._names[doc])
            score = scores.get(doc, 0.0)
            if match != "text" or score > 0:
                hits.append(SearchHit(item=item, score=round(score, 4), match=match))
        hits.sort(key=lambda h: (-_TIER[h.match], -h.score, h.item.name))
        return hits[:limit]

    def _with_prefixes(self, terms: dict[str, float]) -> dict[str, float]:
        out = dict(terms)
        for term, weight in terms.items():
            if len(term) < _MIN_PREFIX_LEN:
                continue
            # The vocabulary is sorted: the words `term` starts follow it in one run.
            vocabulary = self._vocabulary
            for i in range(bisect.bisect_right(vocabulary, term), len(vocabulary)):
                word = vocabulary[i]
                if not word.startswith(term):
                    break
                out[word] = max(out.get(word, 0.0), weight * _PREFIX_WEIGHT)
        return out

    def _bm25(self, terms: dict[str, float]) -> dict[int, float]:
        scores: dict[int, float] = {}
        for term, weight in terms.items():
            idf = self._idf.get(term)
            if idf is None:
                continue
            for doc, tf in self._postings[term]:
                norm = tf + K1 * (1 - B + B * self._lengths[doc] / self._avg_length)
                scores[doc] = scores.get(doc, 0.0) + weight * idf * tf * (K1 + 1) / norm
        return scores
