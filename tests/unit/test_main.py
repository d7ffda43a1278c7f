"""`python -m bot`: every command is in the help and in the README."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from bot.settings import Settings
from tests.support import ROOT
from tests.support.cli import run_process


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = run_process(tmp_path, "--help")
    assert done.returncode == 0
    for command in ("serve", "links", "check"):
        assert command in done.stdout
    links = run_process(tmp_path, "links", "--help")
    for command in ("add", "remove", "list", "import", "export"):
        assert command in links.stdout


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("links add", "links remove", "links list", "links import", "links export",
                    "check", "serve"):
        assert f"python -m bot {command}" in readme, command


def test_readme_documents_every_environment_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias  # the variable's name when it differs from the field's
        variable = str(alias.choices[0] if isinstance(alias, AliasChoices) else alias or name)
        assert f"`{variable.upper()}`" in readme, variable.upper()
