"""The README's code blocks marked "(run by tests/test_readme.py)" run as written, each in a fresh folder."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "# (run by tests/test_readme.py)"
BLOCKS = [block for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
          if block.startswith(MARK)]


def test_the_readme_has_its_tested_blocks():
    assert len(BLOCKS) >= 2


def test_the_readme_is_a_front_page():
    """At most about 250 lines: what it is, the two commands, the example, links into docs/ (issue 28)."""
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_block_runs(number, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    exec(compile(BLOCKS[number], f"README block {number}", "exec"), {"__name__": "__readme__"})
    if "runs/" in BLOCKS[number]:
        assert any(path.suffix == ".h5" for path in (tmp_path / "runs").iterdir())
