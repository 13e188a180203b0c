"""The layers contract in pyproject.toml names every package and top-level module of simkeep, each once, and
nothing that no longer exists: a new domain has to be placed in a layer before `make lint` passes (import-linter's
`exhaustive` catches a missing name; this test catches a stale or repeated one as well, without running the linter)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "simkeep"


def layers_contract() -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["type"] == "layers" and c.get("containers") == ["simkeep"]]
    return contract


def children() -> set[str]:
    """What import-linter sees as the container's children: packages (with their __init__.py) and modules."""
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return packages | modules


def test_the_layers_contract_is_exhaustive():
    assert layers_contract()["exhaustive"] is True


def test_every_package_and_module_is_in_exactly_one_layer():
    names = [name for layer in layers_contract()["layers"] for name in re.split(r"[|:]", layer)]
    names = [name.strip() for name in names]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
    assert set(names) - children() == set(), "stale names in the layers contract"
    assert children() - set(names) == set(), "packages or modules missing from the layers contract"


def test_the_children_found_are_the_real_ones():
    """A guard on the test itself: the glob finds the domains and the entry points, not an empty folder."""
    assert {"core", "line", "ledger", "payment", "web", "admin", "portal", "main", "cli", "worker"} <= children()
