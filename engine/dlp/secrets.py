"""The predefined `credentials_and_secrets` profile, built on bc-detect-secrets' detectors.

detect-secrets is a file scanner; here its plugins are used as a library on strings:

- every regex-based plugin (AWS, Artifactory, Azure storage, basic auth in URLs, Cloudant,
  Discord, GitHub, IBM, JWT (formally valid ones only), Mailchimp, npm, SendGrid, Slack,
  SoftLayer, Square, Stripe, Twilio) on windows of a string (`engine.dlp.text.windows`), each
  match confirmed by the plugin's own checks; private keys, which span lines, on the whole;
- its `KeywordDetector` (`password = "..."` in code and config), with the false-positive
  filters its scanner applies (templates, `$VAR`, sequences, UUIDs, indirect references);
- its high-entropy check only in secret-looking fields (`"api_key": "..."`, `"password":
  "..."`): on every string it would flag every hash, UUID and base64 image.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.filters import heuristic
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.keyword import ALLOWLIST as KEYWORD_ALLOWLIST
from detect_secrets.plugins.keyword import DENYLIST, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
from detect_secrets.plugins.private_key import PrivateKeyDetector

from engine.dlp.text import NO_HITS, Hits, windows

_MIN_SECRET_CHARS: Final = 8
_MIN_FIELD_ENTROPY: Final = 3.0
"""Bits per character of a value in a secret-looking field below which it reads as a word or
a placeholder (`changeme`, `xxxxxxxx`) rather than a credential."""

_SECRET_FIELD = re.compile(
    r"(?:" + "|".join(DENYLIST) + r"|credential|auth(?:orization)?$|bearer|cookie)", re.IGNORECASE
)
_NOT_SECRET_FIELD = re.compile(
    r"(?:page|next|continuation|sync|pagination|cursor|csrf|xsrf)_?token"
    r"|tokens?_?(?:count|type|url|uri|endpoint|limit|usage|id)"
    r"|(?:max|min|num|total|input|output|prompt|completion)_?tokens?"
    r"|secret_?(?:name|id|ref|arn)|key_?(?:id|name|type)|password_?(?:policy|hint|reset)",
    re.IGNORECASE,
)
_KEYWORD_HINTS: Final = ("key", "pass", "pwd", "token", "secret", "contras")
"""Every `KeywordDetector` pattern needs one of these (lower case): skip it otherwise."""
_ANY_WORD: Final = ("key", "pw", "pass", "token")
_ASSIGNMENT_ANCHORS: Final = (_ANY_WORD, ("secret",))
_ANCHORS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    # Per plugin, per pattern of its denylist: text (lower case) a match must contain. A
    # substring test is ~100x cheaper than running a pattern, most of all a case-insensitive
    # one, and most text holds none of these. A plugin whose patterns changed in number runs
    # without this shortcut.
    "ArtifactoryDetector": (("akc",), ("artif", "jfrog", "buildkit")),
    "AWSKeyDetector": (("a3t", "abia", "acca", "akia", "asia"), ("aws",)),
    "AzureStorageKeyDetector": (("==",),),
    "BasicAuthDetector": (("://",),),
    "CloudantDetector": (_ANY_WORD, _ANY_WORD, ("cloudant.com",), ("cloudant.com",)),
    "GitHubTokenDetector": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),),
    "IbmCloudIamDetector": (_ANY_WORD,),
    "IbmCosHmacDetector": (("secret",),),
    "JwtTokenDetector": (("eyj",),),
    "MailchimpDetector": (("-us",),),
    "NpmDetector": (("npm",),),
    "SendGridDetector": (("sg.",),),
    "SlackDetector": (("xox",), ("hooks.slack.com",)),
    "SoftlayerDetector": (_ANY_WORD, ("softlayer.com",)),
    "SquareOAuthDetector": (("sq0csp-",),),
    "StripeDetector": (("k_live_",),),
}
_PLACEHOLDER = re.compile(
    r"^(?:<.*>|\{.*\}|\[.*\]|\(.*\)|%.*%|\*+|[xX]+|\.\.\.)$"
    # A reference, not a value: an environment variable's name, a path, a URL.
    r"|^[A-Z][A-Z0-9]*_[A-Z0-9_]+$|^(?:/|\./|~/|https?://)"
)


@dataclass(frozen=True)
class _Pattern:
    """One pattern of a detect-secrets plugin, with what a match must contain."""

    plugin: RegexBasedDetector
    regex: re.Pattern[str]
    anchors: tuple[str, ...]
    validates: bool
    """The plugin checks its matches further (e.g. a JWT must decode) in `analyze_string`."""
    folded: re.Pattern[str] | None = None
    """A case-insensitive pattern without the flag, for lower-cased ASCII text: the same
    matches at the same places, several times faster in Python's `re`."""

    assignment: bool = False
    """A `key = value` pattern (detect-secrets' `build_assignment_regex`): on ASCII text it
    runs only where `_ASSIGNMENT` matched, since those patterns are the slowest by far."""

    def matches(
        self, window: str, lower: str | None, assignments: list[tuple[int, int]]
    ) -> Iterable[str]:
        if self.folded is not None and lower is not None:
            folded = self.folded
            regions = assignments if self.assignment else [(0, len(lower))]
            spans = (m.span() for a, b in regions for m in folded.finditer(lower, a, b))
        else:
            spans = (m.span() for m in self.regex.finditer(window))
        for start, end in spans:
            if self.confirmed(window[start:end], window):
                yield window[start:end]

    def confirmed(self, secret: str, window: str) -> bool:
        """The plugin's own checks of a match: its `analyze_string` (a JWT must decode), and
        the context some require (an Azure key needs `AccountKey` or `azure` near it, or
        every base64 blob ending in `==` would be one)."""
        if self.validates and not any(True for _ in self.plugin.analyze_string(secret)):
            return False
        context = getattr(self.plugin, "context_keys_exists", None)
        if context is None:
            return True
        return bool(context(PotentialSecret(self.plugin.secret_type, "", secret), window))


_AWS_SECRET = re.compile(
    r"aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?"
    r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    re.IGNORECASE,
)
"""detect-secrets' AWS secret-key pattern ends the key at `\\b`, so it misses the keys (one in
twenty) whose first or last character is `/` or `+`: this one bounds them by the key's own
alphabet instead."""
_ASSIGNMENT = re.compile(
    r"(?:key|pwd|pw|password|pass|token)[\"'\]]{0,3} *(?:=|:=?|=>|::| ) *[\"']?[a-z0-9_\-]{24}"
)
"""What every assignment pattern needs, on lower-cased text: a keyword, maybe a quote or `]`,
an assignment (or spaces), maybe a quote, then 24+ characters of a secret (IBM's 44, COS's
48, Cloudant's 24 or 64, SoftLayer's 64). One cheap pass instead of five slow ones."""
_PREFIX_CHARS: Final = 40
"""How far before its keyword an assignment pattern's match may start (`ibm_cloud_iam_api_`)."""


def _assignments(lower: str) -> list[tuple[int, int]]:
    """Stretches of `lower` where an assignment pattern could match, merged where they meet."""
    regions: list[tuple[int, int]] = []
    for m in _ASSIGNMENT.finditer(lower):
        start, end = max(0, m.start() - _PREFIX_CHARS), min(len(lower), m.end() + 48)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end))
        else:
            regions.append((start, end))
    return regions


def _folded(regex: re.Pattern[str]) -> re.Pattern[str] | None:
    """`regex` without IGNORECASE when that is the same on lower-cased text: no upper-case
    letter in it outside escapes (`\\W`) and `A-Z` ranges beside `a-z` (a literal `T`, as in
    Slack's webhook pattern, would then never match)."""
    if not regex.flags & re.IGNORECASE:
        return None
    source = re.sub(r"\\.", "", regex.pattern)
    if "a-z" in source:
        source = source.replace("A-Z", "")
    if any(c.isupper() for c in source):
        return None
    return re.compile(regex.pattern, regex.flags & ~re.IGNORECASE)


def _patterns() -> tuple[_Pattern, ...]:
    """Every pattern of every regex-based plugin detect-secrets ships, except private keys
    (which span lines: checked on whole strings)."""
    out: list[_Pattern] = []
    for cls in get_mapping_from_secret_type_to_class().values():
        if not issubclass(cls, RegexBasedDetector) or cls is PrivateKeyDetector:
            continue
        plugin = cls()
        validates = cls.analyze_string is not RegexBasedDetector.analyze_string
        regexes = list(plugin.denylist)
        anchors = _ANCHORS.get(cls.__name__, ())
        if len(anchors) != len(regexes):
            anchors = ((),) * len(regexes)
        out += [
            _Pattern(plugin, r, a, validates, _folded(r), a in _ASSIGNMENT_ANCHORS)
            for r, a in zip(regexes, anchors, strict=True)
        ]
        if cls is AWSKeyDetector:
            out.append(_Pattern(plugin, _AWS_SECRET, ("aws",), False, _folded(_AWS_SECRET)))
    return tuple(out)


_KEYWORD_LINE = re.compile(
    r"(?m)^(?=[^\n]*[\"'`])(?=[^\n]*[=:;(])[^\n]*(?:key|pass|pwd|token|secret|contras)[^\n]*"
)
"""`_keyword_candidate` as one pass over lower-cased text."""


def _keyword_lines(window: str, lower: str | None) -> Iterable[str]:
    """The lines of `window` that `KeywordDetector` could match (`lower`: lower-cased ASCII)."""
    if lower is None:
        return (line for line in window.splitlines() if _keyword_candidate(line))
    return (window[m.start() : m.end()] for m in _KEYWORD_LINE.finditer(lower))


class _Keywords:
    """`KeywordDetector.analyze_string` with its default patterns (those for code and JSON,
    quotes required), each run case-sensitively on the lower-cased line where that is the same
    (`_folded`), the secret then cut from the line as written."""

    def __init__(self) -> None:
        self._patterns = [
            (regex, _folded(regex), group)
            for regex, group in QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP.items()
        ]

    def secrets(self, line: str) -> Iterable[str]:
        lower = line.lower()
        if any(allowed.lower() in lower for allowed in KEYWORD_ALLOWLIST):
            return
        fold = line.isascii()
        for regex, folded, group in self._patterns:
            match = folded.search(lower) if folded is not None and fold else regex.search(line)
            if match is not None and match.start(group) >= 0:
                yield line[match.start(group) : match.end(group)]


def _keyword_candidate(line: str) -> bool:
    """Whether `KeywordDetector`'s patterns could match `line`: each needs a secret-sounding
    word, a quote and an assignment, comparison, call or `;`. Its patterns are slow (a fifth
    of a millisecond a line), and most lines, prose above all, lack one of these."""
    if not any(q in line for q in "'\"`") or not any(c in line for c in "=:;("):
        return False
    low = line.lower()
    return any(h in low for h in _KEYWORD_HINTS)


def _entropy(text: str) -> float:
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _plausible(secret: str) -> bool:
    """detect-secrets' scanner filters, for a value a keyword pattern or field picked out."""
    return not (
        len(secret) < _MIN_SECRET_CHARS
        or heuristic.is_templated_secret(secret)
        or heuristic.is_prefixed_with_dollar_sign(secret)
        or heuristic.is_sequential_string(secret)
        or heuristic.is_potential_uuid(secret)
        or heuristic.is_not_alphanumeric_string(secret)
        or _PLACEHOLDER.match(secret) is not None
    )


class CredentialsAndSecrets:
    """`credentials_and_secrets`: see the module docstring."""

    def __init__(self) -> None:
        self._patterns = _patterns()
        self._anchors = frozenset(a for p in self._patterns for a in p.anchors)
        self._private_key = PrivateKeyDetector()
        self._keyword = _Keywords()

    def find(self, text: str, key: str | None) -> Hits:
        if len(text) < _MIN_SECRET_CHARS:
            return NO_HITS  # a field name such as `path`: nothing this profile finds fits
        found: list[str] = []
        if "PRIVATE KEY" in text or "PuTTY-User-Key" in text:
            found += self._private_key.analyze_string(text)
        for window in windows(text):
            found += self._window(window)
        if key is not None and self._secret_field(key, text):
            found.append(text)
        return Hits(tuple(dict.fromkeys(s for s in found if s))) if found else NO_HITS

    def _window(self, window: str) -> Iterable[str]:
        # The plugins' own `analyze_string` yields a pattern's first group when it has one
        # (just `ghp` of a GitHub token): redaction needs the whole match, so the patterns
        # run here and the plugin only re-checks what they matched.
        lower = window.lower()
        # Lower-casing keeps positions only for ASCII (`"İ".lower()` is two characters).
        folded = lower if window.isascii() else None
        assignments = _assignments(folded) if folded is not None else []
        present = {a for a in self._anchors if a in lower}
        for p in self._patterns:
            if p.anchors and present.isdisjoint(p.anchors):
                continue
            yield from p.matches(window, folded, assignments)
        if not any(h in lower for h in _KEYWORD_HINTS):
            return
        for line in _keyword_lines(window, folded):
            found = [s for s in self._keyword.secrets(line) if _plausible(s)]
            # Its scanner's filter for `password = get_secret("x")`: slow, so only on a find.
            if found and not heuristic.is_indirect_reference(line):
                yield from found

    @staticmethod
    def _secret_field(key: str, value: str) -> bool:
        """A whole value that is a credential because of the field it is in."""
        if _SECRET_FIELD.search(key) is None or _NOT_SECRET_FIELD.search(key) is not None:
            return False
        if any(c.isspace() for c in value) or len(value) > 4096:
            return False
        return _plausible(value) and _entropy(value) >= _MIN_FIELD_ENTROPY
