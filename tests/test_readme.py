"""The README is where a newcomer looks first: every setting, every CLI command and every back-office page in it.

A setting, command or page added without a line in the README fails here, so the README cannot fall behind."""

from __future__ import annotations

from pathlib import Path

import typer

from simkeep.cli import app
from simkeep.config import Settings
from tests.web.test_page_fuzz import page_routes

README = (Path(__file__).parents[1] / "README.md").read_text("utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def commands(group, prefix: str = "") -> list[str]:
    """"staff reset-totp": every command that runs something, with its groups."""
    found = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        found += commands(command, f"{full} ") if hasattr(command, "commands") else [full]
    return found


def test_every_setting_is_in_the_readme():
    configuration = section("Configuration")
    missing = [name.upper() for name in Settings.model_fields
               if f"`{name.upper()}`" not in configuration and f"SIMKEEP_{name.upper()}" not in configuration]
    assert missing == []


def test_every_cli_command_is_in_the_readme():
    cli = section("CLI")
    every = commands(typer.main.get_command(app))
    assert len(every) > 25 and "staff reset-totp" in every
    assert [c for c in every if f"`{c}" not in cli] == []


def test_every_back_office_page_is_in_the_readme():
    urls = section("What a newcomer sees")
    pages = {path for method, path in page_routes() if method == "GET" and path.startswith("/admin")}
    assert "/admin/bank/review" in pages
    assert sorted(p for p in pages if f"`{p}`" not in urls) == []
