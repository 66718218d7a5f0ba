"""The type checker covers the whole tree: a new package is checked from its first commit."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mypy_files() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"])


class TestMypyConfiguration:
    def test_every_package_of_the_tree_is_checked(self):
        packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
        assert packages
        assert packages - mypy_files() == set()

    def test_nothing_of_ours_is_excused(self):
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
        assert config["check_untyped_defs"] is True
        assert config["warn_unused_ignores"] is True
        ours = {*mypy_files(), *(name.removesuffix(".py") for name in mypy_files())}
        for override in config.get("overrides", []):
            modules = override["module"] if isinstance(override["module"], list) else [override["module"]]
            assert not {module.split(".")[0] for module in modules} & ours, override
            assert not override.get("ignore_errors"), override
