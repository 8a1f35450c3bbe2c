"""The README's commands exist: every `lmstack …` line names a real command and real options."""

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lmstack.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
LINES = [line.split("#")[0].strip() for block in BLOCKS for line in block.replace("\\\n", " ").splitlines()
         if line.strip().startswith("lmstack ")]


def command_path(words: list[str]) -> list[str]:
    group, path = typer.main.get_command(app), []
    for word in words:
        if not hasattr(group, "commands") or word not in group.commands:
            break
        group = group.commands[word]
        path.append(word)
    return path


def test_readme_shows_commands():
    assert len(LINES) >= 8


@pytest.mark.parametrize("line", LINES)
def test_readme_command_exists(line):
    words = shlex.split(line)[1:]
    path = command_path([w for w in words if not w.startswith("-")])
    assert path or words[0] in ("--help", "--version"), line
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    for option in (w for w in words if w.startswith("--")):
        assert option in result.output or option in ("--help",), f"{option} not an option of {' '.join(path)}"
