from pathlib import Path

from engine import configdoc


def test_readme_config_reference_is_generated_from_the_models() -> None:
    readme = Path(configdoc.README).read_text()
    assert configdoc.section() in readme, "run: python -m engine.configdoc --write"


def test_reference_covers_every_model_field() -> None:
    text = configdoc.markdown()
    for key in ("bearer_token_env", "allow_code_mode", "portal_alias", "output_cap_chars"):
        assert f"`{key}`" in text
