"""The plugin's wheel holds the plugin and nothing of its test support.

The emulated Kubernetes API server the tests and the demo use is a package of its own
(emulator/, hedgehog_kube_emulator, built on kmock): the wheel must carry none of it.
"""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built from a copy of the checkout: a build in place leaves build/ behind, whose stale files a
# later build would pack again.
NOT_SOURCE = shutil.ignore_patterns(
    ".dev", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)
TEST_SUPPORT_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:kmock|hedgehog_kube_emulator)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> dict[str, bytes]:
    """The files of a wheel built from the repository: {path in the wheel: content}."""
    source = tmp_path_factory.mktemp("source") / "netbox-hedgehog"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("netbox_hedgehog-*.whl")
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_holds_the_plugin(wheel):
    assert "netbox_hedgehog/__init__.py" in wheel
    assert any(name.startswith("netbox_hedgehog/migrations/0001") for name in wheel)
    assert any(name.startswith("netbox_hedgehog/templates/") for name in wheel)


def test_the_wheel_holds_no_test_support(wheel):
    support = [
        name
        for name in wheel
        if "/testing/" in name
        or "hedgehog_kube_emulator" in name
        or name.startswith(("tests/", "emulator/", "bench/"))
        or name.endswith("demo_fabric.yaml")
    ]
    assert support == []


def test_no_module_of_the_wheel_imports_kmock_or_the_emulator(wheel):
    importing = [
        name
        for name, content in wheel.items()
        if name.endswith(".py") and TEST_SUPPORT_IMPORT.search(content.decode("utf-8"))
    ]
    assert importing == []
