import importlib


def test_packages_import() -> None:
    for name in ("engine", "sandbox", "stubs"):
        assert importlib.import_module(name) is not None
