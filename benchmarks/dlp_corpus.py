"""The labelled corpus of the DLP benchmark, generated with a fixed seed.

Nothing here is a real credential: every secret is made up by `random.Random(seed)` in the
shape of its kind (so the repository holds no string a secret scanner would flag), card
numbers are random numbers of a brand's prefix and length with a valid Luhn digit (test
numbers, no account), IBANs random account numbers with valid check digits.

`positives(rng, n)`: tool arguments carrying one secret each, labelled with the profile that
must find it and the kind of secret. `benign(rng, n)`: tool arguments from ordinary use (code,
commit messages, issue text, UUIDs, hashes, base64 images, URLs, ids, timestamps, config),
including the near misses that trip naive detectors (`token = get_token()`, `max_tokens`,
`page_token`, git SHAs, 16-digit order ids, `ssh://git@host`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stdnum import iban, luhn

SECRETS = "credentials_and_secrets"
FINANCIAL = "financial_information"
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Sample:
    arguments: dict[str, Any]
    profile: str | None
    """The profile that must match (None: benign, nothing may match)."""
    kind: str


def _s(rng: random.Random, chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ----------------------------------------------------------------------- secrets by kind


def _jwt(rng: random.Random) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": str(rng.randrange(10**6)), "name": "Test User", "iat": 1700000000}
    sig = bytes(rng.randrange(256) for _ in range(32))
    return ".".join(
        [
            _b64url(json.dumps(header).encode()),
            _b64url(json.dumps(claims).encode()),
            _b64url(sig),
        ]
    )


def _private_key(rng: random.Random) -> str:
    body = "\n".join(_s(rng, B64, 64) for _ in range(6))
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


SECRET_KINDS: dict[str, Callable[[random.Random], str]] = {
    "aws_access_key_id": lambda r: "AKIA" + _s(r, UPPER + DIGITS, 16),
    "aws_secret_in_config": lambda r: f'aws_secret_access_key = "{_s(r, ALNUM + "/+", 40)}"',
    "artifactory": lambda r: "AKC" + _s(r, ALNUM, 60),
    "azure_storage_key": lambda r: "AccountKey=" + _s(r, B64, 86) + "==",
    "basic_auth_url": lambda r: f"https://deploy:{_s(r, ALNUM, 18)}@git.example.com/app.git",
    "cloudant": lambda r: f'cloudant_password = "{_s(r, HEX, 64)}"',
    "discord_bot": lambda r: (
        r.choice("MNO") + _s(r, URLSAFE, 23) + "." + _s(r, URLSAFE, 6) + "." + _s(r, URLSAFE, 27)
    ),
    "github_token": lambda r: r.choice(["ghp_", "gho_", "ghs_"]) + _s(r, ALNUM, 36),
    "ibm_cloud_iam": lambda r: f'ibm_cloud_iam_key = "{_s(r, URLSAFE, 44)}"',
    "ibm_cos_hmac": lambda r: f'cos_secret_access_key = "{_s(r, HEX, 48)}"',
    "jwt": _jwt,
    "mailchimp": lambda r: _s(r, HEX, 32) + "-us" + str(r.randrange(1, 21)),
    "npm": lambda r: "npm_" + _s(r, ALNUM, 36),
    "private_key": _private_key,
    "sendgrid": lambda r: "SG." + _s(r, URLSAFE, 22) + "." + _s(r, URLSAFE, 43),
    "slack_token": lambda r: (
        f"xoxb-{_s(r, DIGITS, 12)}-{_s(r, DIGITS, 13)}-{_s(r, LOWER + DIGITS, 24)}"
    ),
    "slack_webhook": lambda r: (
        "https://hooks.slack.com/services/T"
        + _s(r, UPPER + DIGITS, 8)
        + "/B"
        + _s(r, UPPER + DIGITS, 8)
        + "/"
        + _s(r, ALNUM, 24)
    ),
    "softlayer": lambda r: f'softlayer_api_key = "{_s(r, LOWER + DIGITS, 64)}"',
    "square_oauth": lambda r: "sq0csp-" + _s(r, URLSAFE, 43),
    "stripe": lambda r: r.choice(["sk_live_", "rk_live_"]) + _s(r, ALNUM, 24),
    "twilio": lambda r: r.choice(["SK", "AC"]) + _s(r, LOWER + DIGITS, 32),
    "password_in_code": lambda r: f'password = "{_s(r, ALNUM, 10)}!{_s(r, DIGITS, 3)}"',
}
"""One generator per detector of `credentials_and_secrets` (bc-detect-secrets' plugins, its
keyword detector); secret-looking fields are below (`_secret_field`)."""


def _secret_field(rng: random.Random) -> dict[str, Any]:
    key = rng.choice(["api_key", "password", "client_secret", "auth_token", "apiKey", "secret"])
    return {"service": "billing", key: _s(rng, ALNUM + "!#%", rng.randrange(16, 40))}


_SECRET_CONTEXTS: list[Callable[[str], dict[str, Any]]] = [
    lambda s: {"issue": {"title": "Deploy broken", "body": f"CI fails unless I use {s} — why?"}},
    lambda s: {"message": f"chore: rotate credentials\n\nold one was {s}"},
    lambda s: {"path": "config/settings.py", "content": f"DEBUG = False\n{s}\nTIMEOUT = 30\n"},
    lambda s: {"query": s},
    lambda s: {"env": {"NAME": "prod", "VALUE": s}},
    lambda s: {"text": f"here you go:\n\n```\n{s}\n```\n"},
]


# ----------------------------------------------------------------------- financial


_CARD_BRANDS = [
    ("4", 16),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("65", 16),
    ("3530", 16),
    ("36", 14),
    ("4", 13),
]


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(_CARD_BRANDS)
    body = prefix + _s(rng, DIGITS, length - len(prefix) - 1)
    digits = body + luhn.calc_check_digit(body)
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return digits
    sep = " " if style == "space" else "-"
    if length == 15:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, length, 4))


_IBAN_FORMATS = {
    "DE": lambda r: _s(r, DIGITS, 18),
    "GB": lambda r: _s(r, UPPER, 4) + _s(r, DIGITS, 14),
    "NL": lambda r: _s(r, UPPER, 4) + _s(r, DIGITS, 10),
    "CH": lambda r: _s(r, DIGITS, 5) + _s(r, DIGITS, 12),
    "AT": lambda r: _s(r, DIGITS, 16),
    "PL": lambda r: _s(r, DIGITS, 24),
    "SE": lambda r: _s(r, DIGITS, 20),
    "IE": lambda r: _s(r, UPPER, 4) + _s(r, DIGITS, 14),
}


def iban_number(rng: random.Random) -> str:
    for _ in range(1000):
        country = rng.choice(sorted(_IBAN_FORMATS))
        bban = _IBAN_FORMATS[country](rng)
        number = country + iban.calc_check_digits(country + "00" + bban) + bban
        if iban.is_valid(number):
            if rng.random() < 0.5:
                return number
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    raise RuntimeError("no valid IBAN generated")


_FIN_CONTEXTS: list[Callable[[str], dict[str, Any]]] = [
    lambda s: {"customer": {"name": "Ana Test", "card": s}},
    lambda s: {"note": f"Please refund to {s} by Friday."},
    lambda s: {"rows": [["id", "payment"], ["17", s]]},
    lambda s: {"body": f"Payment details\n----\nAccount: {s}\nReference: INV-2041\n"},
]


def positives(rng: random.Random, per_kind: int) -> list[Sample]:
    out: list[Sample] = []
    for kind, make in SECRET_KINDS.items():
        for _ in range(per_kind):
            out.append(Sample(rng.choice(_SECRET_CONTEXTS)(make(rng)), SECRETS, kind))
    out += [Sample(_secret_field(rng), SECRETS, "secret_field") for _ in range(per_kind)]
    for kind, make in (("card_number", card_number), ("iban", iban_number)):
        for _ in range(per_kind * 3):
            out.append(Sample(rng.choice(_FIN_CONTEXTS)(make(rng)), FINANCIAL, kind))
    out += [
        Sample(
            {"amount_cents": 1999, "card": int(card_number(rng).replace(" ", "").replace("-", ""))},
            FINANCIAL,
            "card_as_number",
        )
        for _ in range(per_kind)
    ]
    return out


# ----------------------------------------------------------------------- benign


_WORDS = [
    "add",
    "fix",
    "update",
    "remove",
    "refactor",
    "test",
    "docs",
    "build",
    "deploy",
    "cache",
    "user",
    "session",
    "query",
    "index",
    "parser",
    "config",
    "request",
    "handler",
    "retry",
    "timeout",
    "logging",
    "metrics",
    "router",
    "schema",
    "migration",
    "token",
    "password",
    "secret",
    "key",
    "auth",
    "login",
    "payment",
    "invoice",
    "card",
    "account",
    "balance",
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


_CODE = [
    # Each a few lines of ordinary code; several name tokens, passwords and keys without
    # holding one, as real code does.
    "def get_{w}(client, user_id):\n    token = client.get_token(user_id)\n"
    '    return client.fetch("/{w}", headers={{"Authorization": f"Bearer {{token}}"}})\n',
    'password = os.environ["DB_PASSWORD"]\nsecret_key = settings.SECRET_KEY\n'
    'api_key = config.get("{w}_api_key")\n',
    "const {w}Token = await auth.getToken();\nif (!{w}Token) throw new Error('no token');\n",
    'class {W}Config(BaseModel):\n    api_key: str = Field(..., description="the {w} API key")\n'
    "    max_tokens: int = 1024\n",
    "func (s *Server) {W}(ctx context.Context) error {{\n"
    '\treturn s.db.QueryRow(ctx, "SELECT id FROM {w} WHERE id = $1", 42).Err()\n}}\n',
    "for i in range(100):\n    total += price[i] * qty[i]  # {w}\nprint(f'{{total:.2f}}')\n",
    'if password != confirm_password:\n    raise ValueError("passwords do not match")\n',
    "SELECT id, email, created_at FROM users WHERE account_id = 4521 AND status = '{w}';\n",
    'export const config = {{ tokenEndpoint: "/oauth/token", keyName: "{w}",'
    ' secretName: "prod/{w}" }};\n',
    "git log --oneline -n 20 -- src/{w}.py\n",
]


def _code(rng: random.Random) -> dict[str, Any]:
    w = rng.choice(_WORDS)
    text = "".join(
        rng.choice(_CODE).format(w=w, W=w.capitalize()) for _ in range(rng.randrange(1, 4))
    )
    return {"path": f"src/{w}.py", "content": text}


def _commit(rng: random.Random) -> dict[str, Any]:
    sha = hashlib.sha1(str(rng.random()).encode()).hexdigest()
    return {
        "message": f"{rng.choice(['fix', 'feat', 'chore', 'docs'])}: {_sentence(rng, 6)}\n\n"
        f"{_sentence(rng, 14)} Refs #{rng.randrange(1, 9999)}; reverts {sha[:12]}.",
        "parent": sha,
    }


def _png(rng: random.Random) -> dict[str, Any]:
    raw = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(rng.randrange(300, 3000)))
    return {"image": "data:image/png;base64," + base64.b64encode(raw).decode(), "alt": "chart"}


def _url(rng: random.Random) -> dict[str, Any]:
    w = rng.choice(_WORDS)
    return {
        "url": rng.choice(
            [
                f"https://api.example.com/v2/{w}?page={rng.randrange(1, 50)}&per_page=100",
                f"https://docs.example.org/{w}/getting-started#install",
                f"ssh://git@github.com/example/{w}.git",
                f"https://user@{w}.example.net/path",
                f"https://example.com/search?q={w}+{rng.choice(_WORDS)}&sort=desc",
                f"https://cdn.example.com/assets/{hashlib.md5(w.encode()).hexdigest()}.js",
            ]
        )
    }


def _ids(rng: random.Random) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "sha256": hashlib.sha256(str(rng.random()).encode()).hexdigest(),
        "order_id": rng.randrange(10**15, 10**16),
        "snowflake": str(rng.randrange(10**18, 2 * 10**18)),
        "created_ms": rng.randrange(1_600_000_000_000, 1_800_000_000_000),
        "phone": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
    }


def _api(rng: random.Random) -> dict[str, Any]:
    return {
        "page_token": _b64url(bytes(rng.randrange(256) for _ in range(24))),
        "max_tokens": rng.choice([256, 1024, 4096]),
        "token_count": rng.randrange(1, 5000),
        "password_policy": "min 12 characters",
        "secret_name": f"prod/{rng.choice(_WORDS)}",
        "key_id": f"k-{rng.randrange(1000)}",
        "version": f"{rng.randrange(1, 9)}.{rng.randrange(0, 30)}.{rng.randrange(0, 99)}",
    }


def _issue(rng: random.Random) -> dict[str, Any]:
    return {
        "title": _sentence(rng, 5),
        "body": "\n\n".join(_sentence(rng, rng.randrange(8, 25)) for _ in range(3))
        + f"\n\nSteps: run `make test` on {rng.choice(['macOS', 'Linux'])}, see log line "
        f"{rng.randrange(100, 9999)}. Build 2024.11.{rng.randrange(1, 28)}, "
        f"IP 10.0.{rng.randrange(255)}.{rng.randrange(255)}.",
        "labels": ["bug", rng.choice(_WORDS)],
    }


def _config(rng: random.Random) -> dict[str, Any]:
    w = rng.choice(_WORDS)
    return {
        "content": f'[server]\nhost = "0.0.0.0"\nport = {rng.randrange(1024, 65535)}\n'
        f'log_level = "info"\n\n[{w}]\nenabled = true\npassword_env = "{w.upper()}_PASSWORD"\n'
        f'token_file = "/run/secrets/{w}"\n'
    }


BENIGN_KINDS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "code": _code,
    "commit_message": _commit,
    "base64_image": _png,
    "url": _url,
    "ids_hashes_numbers": _ids,
    "api_fields": _api,
    "issue_text": _issue,
    "config_file": _config,
}


def benign(rng: random.Random, n: int) -> list[Sample]:
    kinds = sorted(BENIGN_KINDS)
    return [
        Sample(BENIGN_KINDS[kinds[i % len(kinds)]](rng), None, kinds[i % len(kinds)])
        for i in range(n)
    ]


def argument_of_size(rng: random.Random, size: int) -> dict[str, Any]:
    """A benign argument of about `size` characters: a document (`content`) made of the text
    of ordinary arguments (code, issue text, commit messages, config files, URLs) one after
    another, as an agent writing a file or a long issue sends."""
    makers = [_code, _issue, _commit, _config, _url]
    parts: list[str] = []
    total = 0
    while total < size:
        sample = rng.choice(makers)(rng)
        text = "\n".join(str(v) for v in sample.values() if isinstance(v, str))
        parts.append(text)
        total += len(text) + 1
    return {"path": "notes/report.md", "content": "\n".join(parts)[:size]}
