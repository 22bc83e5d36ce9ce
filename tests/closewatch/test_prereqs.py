"""scripts/prereqs.sh: what `make demo` and `make test` check (and install) before anything runs.

The real check runs on this machine's PATH (where `make test` has already put everything), and
the real refusal as an unprivileged user. The install paths run the script with a PATH of its
own: real coreutils, and stand-ins for
``id``, ``sudo`` and ``apt-get`` (apt must not really install anything from a test) that
record how they were called and "install" a piece by creating it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "prereqs.sh"
BASH = shutil.which("bash") or "/bin/bash"
ALL = ["python", "npm", "chromium", "java", "maven"]
TOOLS = ["sed", "awk", "head", "readlink", "ln", "cat", "chmod", "touch", "dirname", "env"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_everything_present_here_prints_nothing() -> None:
    """The real check on this machine: every piece is there, nothing to say, nothing to install."""
    proc = _run(["--check", "--for", "make test", *ALL], dict(os.environ))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_real_user_without_root_or_sudo_gets_one_line(tmp_path: Path) -> None:
    """The real `id`, `sudo` and apt-get, as an unprivileged user (root switches to nobody with
    setpriv): a missing Chromium stops with one line, exit 1, and nothing is installed.

    The script is given on standard input and run from ``/``: the clone may sit in a folder that
    user cannot enter (``mktemp -d`` makes them 0700)."""
    cmd = [BASH, "-s", "--", "--for", "make test", "chromium"]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    elif subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        cmd.insert(3, "--check")  # this user could install: only check
    env = {**os.environ, "CLOSEWATCH_CHROMIUM": str(tmp_path / "no-chromium")}
    proc = subprocess.run(cmd, input=SCRIPT.read_text(), capture_output=True, text=True, env=env, cwd="/", timeout=60)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"make test: missing Chromium ({tmp_path / 'no-chromium'} not found; CLOSEWATCH_CHROMIUM may point "
        "elsewhere): install with: sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium"
    ]


class FakeSystem:
    """A PATH of its own: real text tools, chosen real pieces, stand-ins for id/sudo/apt-get."""

    def __init__(self, root: Path, *, uid: int, sudo: bool, present: list[str]) -> None:
        self.bin = root / "bin"
        self.installed = root / "installed"  # where the stand-in apt-get "installs"
        self.calls = root / "calls.log"
        self.chromium = root / "opt" / "chromium"
        for d in (self.bin, self.installed, self.chromium.parent):
            d.mkdir(parents=True)
        for tool in TOOLS:
            real = shutil.which(tool)
            assert real, tool
            (self.bin / tool).symlink_to(real)
        real = {"python": sys.executable, "npm": shutil.which("npm"), "java": shutil.which("java"),
                "maven": shutil.which("mvn")}
        names = {"python": "python3", "npm": "npm", "java": "java", "maven": "mvn"}
        for piece in present:
            if piece == "chromium":
                self._script(self.chromium, "exit 0")
            else:
                assert real[piece], f"{piece} is needed on this machine for the test"
                (self.bin / names[piece]).symlink_to(real[piece])
        self._script(self.bin / "id", f"echo {uid}")
        if sudo:
            self._script(self.bin / "sudo", f'echo "sudo $*" >> {self.calls}\n[ "$1" = -n ] && exit 0\nexec env "$@"')
        self._script(self.bin / "apt-cache", "exit 1")
        installs = "\n".join(
            f'    *" {pkg} "*) {action} ;;'
            for pkg, action in [
                ("python3-venv", f"ln -sf {sys.executable} {self.installed}/python3"),
                ("npm", f"ln -sf {real['npm']} {self.installed}/npm"),
                ("chromium", f"printf '#!/bin/sh\\n' > {self.chromium}; chmod +x {self.chromium}"),
                ("openjdk-17-jre-headless", f"ln -sf {real['java']} {self.installed}/java"),
                ("maven", f"ln -sf {real['maven']} {self.installed}/mvn"),
            ]
        )
        self._script(
            self.bin / "apt-get",
            f'echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> {self.calls}\n'
            f'case " $* " in *" install "*) ;; *) exit 0 ;; esac\n'
            f'for pkg in "$@"; do case " $pkg " in\n{installs}\n  esac; done',
        )

    @staticmethod
    def _script(path: Path, body: str) -> None:
        path.write_text(f"#!{BASH}\n{body}\n")
        path.chmod(0o755)

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}:{self.installed}", "CLOSEWATCH_CHROMIUM": str(self.chromium),
                "PYTHON": "python3", "HOME": str(self.bin.parent)}

    def log(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


def test_nothing_missing_installs_nothing(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=0, sudo=False, present=ALL)
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert (proc.returncode, proc.stderr) == (0, "")
    assert fake.log() == []  # not even `apt-get update`


def test_as_root_installs_what_is_missing_with_one_update(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=0, sudo=False, present=["python", "npm"])
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert proc.returncode == 0, proc.stderr
    assert fake.log() == [
        "apt-get update -qq DEBIAN_FRONTEND=noninteractive",
        "apt-get install -y -qq --no-install-recommends chromium openjdk-17-jre-headless maven "
        "DEBIAN_FRONTEND=noninteractive",
    ]
    assert proc.stderr.splitlines() == [
        "make test: missing Chromium (" + str(fake.chromium) + " not found; CLOSEWATCH_CHROMIUM may point "
        "elsewhere), Java 17+ (java not found, for the Kafka broker), Maven (mvn not found, for the Kafka jars): "
        "installing with apt-get: chromium openjdk-17-jre-headless maven"
    ]
    # Installed: the next check finds everything and does nothing.
    again = _run(["--for", "make test", *ALL], fake.env())
    assert (again.returncode, again.stderr, len(fake.log())) == (0, "", 2)


def test_with_passwordless_sudo_installs_through_sudo(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=1000, sudo=True, present=["npm", "chromium", "java", "maven"])
    proc = _run(["--for", "make demo", "python", "npm"], fake.env())
    assert proc.returncode == 0, proc.stderr
    log = fake.log()
    assert log[0] == "sudo -n true"
    assert "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv" in log


def test_without_root_or_sudo_one_line_and_no_install(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=1000, sudo=False, present=["python", "npm", "maven"])
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "make test: missing Chromium (" + str(fake.chromium) + " not found; CLOSEWATCH_CHROMIUM may point "
        "elsewhere), Java 17+ (java not found, for the Kafka broker): install with: sudo apt-get update && "
        "sudo apt-get install -y --no-install-recommends chromium openjdk-17-jre-headless"
    ]
    assert fake.log() == []


def test_sudo_that_asks_for_a_password_counts_as_no_sudo(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=1000, sudo=False, present=["python", "npm", "chromium", "java"])
    (fake.bin / "sudo").write_text(f"#!{BASH}\necho \"sudo $*\" >> {fake.calls}\nexit 1\n")
    (fake.bin / "sudo").chmod(0o755)
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "make test: missing Maven (mvn not found, for the Kafka jars): install with: sudo apt-get update && "
        "sudo apt-get install -y --no-install-recommends maven"
    ]
    assert fake.log() == ["sudo -n true"]


def test_an_install_that_does_not_help_fails_naming_what_is_still_missing(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=0, sudo=False, present=["python", "npm", "chromium", "java", "maven"])
    (fake.bin / "npm").unlink()
    (fake.bin / "apt-get").write_text(f"#!{BASH}\necho \"apt-get $*\" >> {fake.calls}\n")  # installs nothing
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "make test: still missing after apt-get install npm: npm (for the map's JavaScript libraries)"
    )


def test_java_older_than_17_is_missing(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=1000, sudo=False, present=["python", "npm", "chromium", "maven"])
    FakeSystem._script(fake.bin / "java", 'echo \'openjdk version "11.0.24" 2024-07-16\' >&2')
    proc = _run(["--check", "--for", "make test", "java"], fake.env())
    assert proc.returncode == 1
    assert "Java 17+ (java is version 11, for the Kafka broker)" in proc.stderr
    FakeSystem._script(fake.bin / "java", 'echo \'java version "1.8.0_412"\' >&2')
    assert "java is version 8" in _run(["--check", "java"], fake.env()).stderr


def test_python_older_than_311_is_not_for_apt(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path, uid=0, sudo=False, present=["npm", "chromium", "java", "maven"])
    # A Python 3.9: prints its version, fails the "3.11 or newer" test.
    FakeSystem._script(fake.bin / "python3", 'case "$2" in *exit*) exit 1 ;; *) echo 3.9 ;; esac')
    proc = _run(["--for", "make test", *ALL], fake.env())
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1
    assert "needs Python 3.11+" in proc.stderr and "PYTHON=" in proc.stderr
    assert fake.log() == []


def test_unknown_piece_is_a_usage_error() -> None:
    proc = _run(["--check", "python", "nonsense"], dict(os.environ))
    assert (proc.returncode, proc.stderr.strip()) == (
        2, "scripts/prereqs.sh: unknown piece 'nonsense' (python npm chromium java maven)")
