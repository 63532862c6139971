"""count_tokens uses a real BPE vocabulary shipped in a package: it works with no network."""

from __future__ import annotations

import os
import subprocess
import sys

from stubs import count_tokens


def test_known_counts() -> None:
    # cl100k_base: "hello world" is two tokens; an empty text none.
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0
    assert count_tokens("declare const codemode: {") > 3


def test_special_token_text_is_counted_not_rejected() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_works_offline_with_an_empty_cache(tmp_path: object) -> None:
    # A dead proxy and an empty cache: any download attempt would fail the child process.
    env = dict(os.environ)
    env.update(
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="",
        TIKTOKEN_CACHE_DIR=str(tmp_path),
    )
    code = "from stubs import count_tokens; print(count_tokens('hello world'))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"
