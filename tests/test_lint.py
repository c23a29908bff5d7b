"""ruff (pyflakes, pycodestyle, isort, pyupgrade, bugbear; configured in pyproject.toml) is clean on the whole tree."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    command = str(ruff) if ruff.exists() else shutil.which("ruff")
    assert command, "ruff is not installed: `make setup` installs it with the dev extra"
    done = subprocess.run([command, "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
