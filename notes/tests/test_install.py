"""The install takes exactly the lock, whatever newer releases the package index holds."""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = sorted(ROOT.glob("requirements*.txt"))
INSTALL = ROOT / "deploy" / "install-locked.sh"
# pytest-cov asks for `coverage[toml]`: a requirement with extras, the kind pip 23 resolved
# against the index even when the lock pinned it. These are it and what it needs.
SMALL_LOCK = ["pytest-cov", "coverage", "pytest", "pluggy", "iniconfig", "packaging", "pygments"]
NEWER = "99.0"
# The pip that Python 3.11.7 bundles, which met the failure: pinned with its hash and
# installed in the reproduction's own virtualenv, whatever pip this Python bundles.
OLD_PIP = "pip==23.2.1"
OLD_PIP_HASH = "sha256:7ccf472345f20d35bdc9d1841ff5f313260c2c33fe417f48c30ac46cccabf5be"


def lock_entries(lock):
    """{name: (version, the entry's lines)} of a lock compiled by `make lock`."""
    entries, name = {}, None
    for line in lock.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            name = match[1].lower()
            entries[name] = (match[2], [line])
        elif name and line.startswith("    "):
            entries[name][1].append(line)
        else:
            name = None
    return entries


def wheel(directory, name, version):
    """A tiny, valid wheel of `name` `version`, as the index would offer a new release."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [f"{path},sha256={_digest(text)},{len(text)}" for path, text in files.items()]
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def _digest(text):
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def index_with_a_newer_release(tmp_path_factory):
    """A small lock from the real one, and a package directory holding coverage 99.0."""
    tmp = tmp_path_factory.mktemp("install")
    entries = lock_entries(ROOT / "requirements-dev.txt")
    small = tmp / "requirements-small.txt"
    small.write_text("".join("\n".join(entries[name][1]) + "\n" for name in SMALL_LOCK))
    newer = tmp / "newer"
    newer.mkdir()
    wheel(newer, "coverage", NEWER)
    # Offered beside the index to both installers, as a new release would be.
    find_links = " ".join(filter(None, [str(newer), os.environ.get("PIP_FIND_LINKS")]))
    env = {**os.environ, "PIP_FIND_LINKS": find_links, "UV_FIND_LINKS": str(newer)}
    return tmp, small, env, entries["coverage"][0]


def installed_version(venv, package):
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    return subprocess.check_output([venv / "bin" / "python", "-c", code], text=True).strip()


def test_the_install_takes_the_locked_version_when_the_index_holds_a_newer_one(
    index_with_a_newer_release,
):
    tmp, small, env, locked = index_with_a_newer_release
    venv = tmp / "venv"
    done = subprocess.run(
        ["bash", INSTALL, venv, small], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "All installed packages are compatible" in done.stdout + done.stderr
    assert installed_version(venv, "coverage") == locked != NEWER


def test_the_old_install_command_fails_on_the_same_index(index_with_a_newer_release):
    # The reproduction: pip's own resolution of `coverage[toml]` reaches for 99.0.
    tmp, small, env, _ = index_with_a_newer_release
    venv = tmp / "old-venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    old_pip = tmp / "old-pip.txt"
    old_pip.write_text(f"{OLD_PIP} --hash={OLD_PIP_HASH}\n")
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-q", "--require-hashes", "-r", old_pip], check=True)
    version = subprocess.check_output([*pip, "--version"], text=True)
    assert version.startswith(f"pip {OLD_PIP.split('==')[1]} ")
    done = subprocess.run(
        [*pip, "install", "--require-hashes", "-r", small],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert f"coverage-{NEWER}" in done.stderr
    assert "must have their versions pinned with ==" in done.stderr


def test_the_install_refuses_a_broken_set(tmp_path, index_with_a_newer_release):
    # pytest-cov without the coverage it needs: installed, then the check says no.
    _, small, env, _ = index_with_a_newer_release
    broken = tmp_path / "broken.txt"
    entries = lock_entries(small)
    broken.write_text("\n".join(entries["pytest-cov"][1]) + "\n")
    done = subprocess.run(
        ["bash", INSTALL, tmp_path / "venv", broken], env=env, capture_output=True, text=True
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "pytest-cov" in output
    assert "coverage" in output


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.name)
def test_every_line_of_every_lock_is_pinned_and_hashed(lock):
    entries = lock_entries(lock)
    requirement_lines = [
        line
        for line in lock.read_text().splitlines()
        if line and not line.startswith((" ", "#", "-"))
    ]
    assert len(requirement_lines) == len(entries) >= 1
    for name, (version, lines) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!]*", version), name
        assert any("--hash=sha256:" in line for line in lines), name


def test_make_lock_leaves_no_diff(tmp_path):
    for name in ["Makefile", "deploy/install-locked.sh", *ROOT.glob("requirements*.*")]:
        source = ROOT / name
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    venv = Path(sys.prefix)
    installed = venv / ".installed"
    # -o: the project's virtualenv is taken as it is, not reinstalled from these copies.
    done = subprocess.run(
        ["make", "-s", "-C", tmp_path, f"VENV={venv}", "-o", installed, "lock"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for lock in LOCKS:
        assert (tmp_path / lock.name).read_text() == lock.read_text(), lock.name
