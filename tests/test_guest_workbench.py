"""Which workbench the guest runs (``build --workbench-version``) and the wheelhouse it needs:
the spec's forms, their keys and requirements, the split cache, and the guest install script."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import UsageError
from workbench.lifecycle import guest_workbench, wheelhouse
from workbench.lifecycle.guest_workbench import from_revision, from_tree, from_wheel, resolve
from workbench.lifecycle.source_wheel import write_wheel

PYPROJECT = """[project]
name = "workbench"
version = "{version}"
[project.optional-dependencies]
guest = ["craft-parts>={parts}"]
"""


def make_tree(root: Path, *, version: str = "9.9", parts: str = "2.1") -> Path:
    (root / "workbench").mkdir(parents=True)
    (root / "workbench" / "__init__.py").write_text("x = 1\n")
    (root / "pyproject.toml").write_text(PYPROJECT.format(version=version, parts=parts))
    return root


def make_wheel(path: Path, *, name: str = "workbench", version: str = "0.0.7") -> Path:
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Requires-Dist: pyyaml>=6\n"
        'Requires-Dist: craft-parts>=2.20; extra == "guest"\n'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
        archive.writestr("workbench/__init__.py", "")
    return path


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_the_default_is_the_running_source_tree() -> None:
    for spec in ("", "source", "."):
        guest = resolve(spec)
        assert guest.running
        assert guest.tree == guest_workbench.source_root()
        assert any(req.startswith("craft-parts") for req in guest.requirements)
    assert resolve(None, {"WORKBENCH_GUEST_VERSION": ""}).running


def test_a_tree_key_follows_its_sources_and_reads_its_own_extra(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "wb")
    first = from_tree(tree, label="t")
    assert first.key.startswith("9.9-")
    assert first.requirements == ("craft-parts>=2.1",)
    assert not first.running
    assert from_tree(tree, label="t").key == first.key
    (tree / "workbench" / "__init__.py").write_text("x = 2\n")
    assert from_tree(tree, label="t").key != first.key
    assert resolve(str(tree)).tree == tree.resolve()


def test_a_wheel_is_keyed_by_its_content(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "workbench-0.0.7-py3-none-any.whl")
    guest = from_wheel(wheel)
    assert guest.key.startswith("0.0.7-w")
    assert guest.requirements == ("craft-parts>=2.20",)
    assert resolve(None, {"WORKBENCH_GUEST_VERSION": str(wheel)}).key == guest.key
    other = make_wheel(tmp_path / "workbench-0.0.8-py3-none-any.whl", version="0.0.8")
    assert from_wheel(other).key != guest.key
    with pytest.raises(UsageError, match="a wheel of 'other', not of workbench"):
        from_wheel(make_wheel(tmp_path / "other-1-py3-none-any.whl", name="other"))
    (tmp_path / "broken.whl").write_text("not a zip")
    with pytest.raises(UsageError, match=r"broken\.whl: --workbench-version: not a readable wheel"):
        resolve(str(tmp_path / "broken.whl"))


def test_a_git_revision_is_read_from_the_repository_not_the_work_tree(tmp_path: Path) -> None:
    repo = make_tree(tmp_path / "repo", version="1.0", parts="2.5")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    git(repo, "tag", "v1.0")
    (repo / "pyproject.toml").write_text(PYPROJECT.format(version="2.0", parts="3.0"))
    guest = from_revision(repo, "v1.0")
    commit = git(repo, "rev-parse", "v1.0")
    assert guest.key == f"1.0-g{commit[:12]}"
    assert guest.requirements == ("craft-parts>=2.5",)  # the tagged release's own extra
    assert guest.revision == commit
    assert guest.label == f"git v1.0 ({commit[:12]})"
    with pytest.raises(UsageError, match=r"'nope': not a \.whl file, a source directory or a git"):
        from_revision(repo, "nope")


def test_options_are_not_revisions() -> None:
    with pytest.raises(UsageError, match="cannot start with '-'"):
        resolve("--output=/tmp/x")


def test_the_cli_refuses_an_unknown_version_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "build" / "c-make", project)
    argv = ["build", str(project), "--workbench-version", str(tmp_path / "missing.whl"), "--plan"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "missing.whl: --workbench-version: not a readable wheel" in err
    assert "Traceback" not in err


def test_the_plan_names_the_chosen_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "p"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "build" / "c-make", project)
    wheel = make_wheel(tmp_path / "workbench-0.0.7-py3-none-any.whl")
    env_free = ["build", str(project), "--plan", "--workbench-version", str(wheel)]
    assert main(env_free) == 0
    assert f"install workbench {from_wheel(wheel).key} offline" in capsys.readouterr().out


def test_dependencies_and_workbench_are_cached_apart(
    fake_wheelhouse: wheelhouse.Wheelhouse,
) -> None:
    house = fake_wheelhouse
    assert house.deps.parent.name == "deps"
    assert house.deps.name == wheelhouse.deps_key(("craft-parts>=2.37",))
    assert house.workbench.name == "0.1.0-k"
    assert wheelhouse.deps_key(("craft-parts>=2.38",)) != house.deps_key


def test_the_install_script_reinstalls_only_the_workbench_when_deps_are_there(
    fake_wheelhouse: wheelhouse.Wheelhouse,
) -> None:
    house = fake_wheelhouse
    argv = wheelhouse.download_argv(("craft-parts>=2.37",), house.deps)
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert "--only-binary=:all:" in argv
    assert argv[-2:] == ["pip", "craft-parts>=2.37"]
    arm64 = wheelhouse.download_argv(("craft-parts>=2.37",), house.deps, "arm64", "3.10")
    assert arm64[arm64.index("--python-version") + 1] == "3.10"
    assert "manylinux2014_aarch64" in arm64
    assert "manylinux2014_x86_64" not in arm64
    keys = {
        wheelhouse.deps_key(("c",), arch, py)
        for arch in ("amd64", "arm64")
        for py in ("3.10", "3.11")
    }
    assert len(keys) == 4  # one dependency set per platform
    script = wheelhouse.install_script(house)
    deps = f"/mnt/wheelhouse/deps/{house.deps_key}"
    assert "mount -t 9p -o ro,trans=virtio" in script  # the read-only share, not SFTP
    assert "trap 'umount /mnt/wheelhouse' EXIT" in script
    guard = f'if [ "$(cat /opt/workbench/deps.key 2>/dev/null)" != {house.deps_key} ]; then'
    assert guard in script
    body = script[script.index(guard) : script.index("\nfi\n")]
    assert "venv --system-site-packages --without-pip /opt/workbench/venv" in body
    assert f"{deps}/pip-25.0-py3-none-any.whl/pip install --no-index" in body
    assert "craft-parts>=2.37" in body
    after = script[script.index("\nfi\n") :]
    wheel = "/mnt/wheelhouse/workbench/0.1.0-k/workbench-0.1.0-py3-none-any.whl"
    unpack = shlex.join(["/opt/workbench/venv/bin/python", "-c", wheelhouse.UNPACK_WHEEL, wheel])
    assert unpack in after
    assert after.index(unpack) < after.index("echo 0.1.0-k > /opt/workbench")


def test_unpacking_the_wheel_installs_it_and_removes_the_previous_release(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    tree = make_tree(tmp_path / "one", version="1.0")
    (tree / "workbench" / "lifecycle").mkdir()
    (tree / "workbench" / "lifecycle" / "__init__.py").write_text("")
    (tree / "workbench" / "old.py").write_text("GONE = False\n")
    first = write_wheel(tree, tmp_path)
    subprocess.run([python, "-c", wheelhouse.UNPACK_WHEEL, str(first)], check=True)
    (tree / "workbench" / "old.py").unlink()
    (tree / "pyproject.toml").write_text(
        (tree / "pyproject.toml").read_text().replace('"1.0"', '"2.0"')
    )
    (tmp_path / "two").mkdir()
    second = write_wheel(tree, tmp_path / "two")
    subprocess.run([python, "-c", wheelhouse.UNPACK_WHEEL, str(second)], check=True)
    probe = (
        "import importlib.metadata as m, importlib.util as u, workbench;"
        "print(m.version('workbench'), u.find_spec('workbench.old') is None, workbench.__file__)"
    )
    ran = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=True)
    version, gone, where = ran.stdout.split()
    assert (version, gone) == ("2.0", "True")  # one release's metadata, no stale module
    assert where.startswith(str(venv))
    assert list((venv / "lib").glob("python3*/site-packages/workbench/__pycache__/*.pyc"))


def test_a_revision_is_built_into_a_wheel_of_that_revision(tmp_path: Path) -> None:
    repo = make_tree(tmp_path / "repo", version="1.0")
    (repo / "workbench" / "probe.py").write_text("RELEASE = 'one'\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "one")
    (repo / "workbench" / "probe.py").write_text("RELEASE = 'two'\n")  # not committed
    guest = from_revision(repo, "HEAD")
    out = tmp_path / "out"
    out.mkdir()
    wheelhouse._make_wheel(guest, out)
    (built,) = out.glob("workbench-1.0-*.whl")
    with zipfile.ZipFile(built) as archive:
        assert archive.read("workbench/probe.py") == b"RELEASE = 'one'\n"
