"""The `oauth` keys of a `[[servers]]` entry: checked together, each problem naming its key;
the static client's secret read from where the entry points, never from the config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config import Config, ConfigError
from engine.credentials import CredentialError
from engine.upstream_oauth import oauth_client_settings

URL = "https://mcp.example/mcp"


def server(**values: Any) -> dict[str, Any]:
    return {"servers": [{"id": "s", "url": URL, "auth_type": "oauth", **values}]}


@pytest.mark.parametrize(
    ("entry", "key", "fragment"),
    [
        (
            {"auth_type": "bearer", "bearer_token_env": "T", "oauth_client_id": "x"},
            "oauth_client_id",
            'needs auth_type = "oauth"',
        ),
        ({"oauth_client_secret_env": "SECRET"}, "oauth_client_secret_env", "needs oauth_client_id"),
        (
            {
                "oauth_client_id": "x",
                "oauth_client_secret_env": "A",
                "oauth_client_secret_file": "f",
            },
            "oauth_client_secret_env",
            "not both",
        ),
        (
            {"oauth_client_id": "x", "oauth_client_secret_env": "not a name!"},
            "oauth_client_secret_env",
            "NAME of an environment variable",
        ),
        ({"oauth_client_secret": "s3cr3t-literal-value"}, "oauth_client_secret", ""),
    ],
)
def test_bad_oauth_entries_name_their_key(entry: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Config.from_dict(server(**entry))
    assert key in str(raised.value) and fragment in str(raised.value)


def test_the_secret_comes_from_the_variable_or_the_file(tmp_path: Path) -> None:
    by_env = Config.from_dict(server(oauth_client_id="c", oauth_client_secret_env="SECRET_VAR"))
    settings = oauth_client_settings(by_env.servers[0], {"SECRET_VAR": " from-env \n"})
    assert (settings.client_id, settings.client_secret) == ("c", "from-env")
    assert "from-env" not in repr(settings)
    with pytest.raises(CredentialError, match=r"SECRET_VAR .* is not set"):
        oauth_client_settings(by_env.servers[0], {})
    (tmp_path / "secret.txt").write_text("from-file\n")
    entry = server(oauth_client_id="c", oauth_client_secret_file="secret.txt", oauth_scopes="a b")
    by_file = Config.from_dict(entry, base_dir=tmp_path)
    settings = oauth_client_settings(by_file.servers[0], {})
    assert (settings.client_secret, settings.scopes) == ("from-file", "a b")
    dynamic = oauth_client_settings(Config.from_dict(server()).servers[0], {})
    assert dynamic.client_id is None and dynamic.client_secret is None
