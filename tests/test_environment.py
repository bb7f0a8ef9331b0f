"""environment.yml, requirements.lock and pyproject.toml agree on versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version
    return pins


def environment_pins() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    return {canonical(name): version for name, version in (entry.split("==") for entry in pip_section)}


def test_environment_pins_match_lock():
    lock = lock_pins()
    for name, version in environment_pins().items():
        assert name in lock, f"{name} is pinned in environment.yml but missing from requirements.lock"
        assert lock[name] == version, f"{name}: environment.yml pins {version}, requirements.lock pins {lock[name]}"


def test_direct_dependencies_are_pinned_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["pipeline"]
    names = {canonical(re.split(r"[<>=!~ ]", requirement)[0]) for requirement in requirements}
    environment, lock = environment_pins(), lock_pins()
    for name in sorted(names):
        assert name in lock, f"{name} is a dependency in pyproject.toml but missing from requirements.lock"
        assert name in environment, f"{name} is a dependency in pyproject.toml but missing from environment.yml"
