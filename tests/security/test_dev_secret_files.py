"""The development environment's secret files (SECRET_KEY, the token pepper, the key that encrypts
every cluster credential) are readable by their owner only, and put back to 0600 when found wider."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / ".dev"
SECRETS = ("secret-key", "token-pepper", "credentials-key")

pytestmark = pytest.mark.skipif(not (DEV / "venv").is_dir(), reason="runs in the project's dev environment")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_secret_files_and_their_folder_are_private():
    assert mode(DEV) == 0o700
    for name in SECRETS:
        assert mode(DEV / name) == 0o600, name


def test_a_secret_file_found_readable_by_others_is_made_private_again_unchanged():
    path = DEV / "credentials-key"
    before = path.read_bytes()
    os.chmod(path, 0o644)
    try:
        subprocess.run([str(ROOT / "scripts/dev.sh"), "config"], check=True, capture_output=True, timeout=120)
    finally:
        if mode(path) != 0o600:
            os.chmod(path, 0o600)
            pytest.fail("scripts/dev.sh config left the credentials key readable by others")
    assert path.read_bytes() == before
