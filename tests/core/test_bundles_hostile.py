"""Hostile or broken archives given to `--from`: each is refused with one line (exit 1 for
pacemaker-exporter, UNKNOWN exit 3 for check_pacemaker), and nothing is written anywhere but
under a private temporary directory. The archives are made here with tarfile."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable, List

import pytest
from click.testing import CliRunner, Result

from pacemaker_exporter.bundles import BundleError, Limits, read_archive
from pacemaker_exporter.cli import main
from tests.nagios.golden import run as nagios_run

ROOT = Path(__file__).resolve().parents[2]
CIB = b"<cib><configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>"


def _file(tar: tarfile.TarFile, name: str, data: bytes = CIB) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _device(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("pcmk/n1/cib.xml.live")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    tar.addfile(info)


def _node(tar: tarfile.TarFile) -> None:
    _file(tar, "pcmk/n1/RUNNING", b"")


HOSTILE: dict[str, tuple[Callable[[tarfile.TarFile], None], str]] = {
    "absolute": (lambda t: (_node(t), _file(t, "/tmp/pcmkexp-owned")), "absolute path"),
    "traversal": (lambda t: (_node(t), _file(t, "pcmk/../../pcmkexp-owned")), "outside the archive ('..')"),
    "symlink-absolute": (lambda t: (_node(t), _link(t, "pcmk/n1/cib.xml.live", "/etc/shadow")), "points outside"),
    "symlink-up": (lambda t: (_node(t), _link(t, "pcmk/n1/cib.xml.live", "../../../etc/shadow")), "points outside"),
    "hardlink-out": (
        lambda t: (_node(t), _link(t, "pcmk/n1/cib.xml.live", "../etc/shadow", tarfile.LNKTYPE)),
        "outside the archive",
    ),
    "device": (lambda t: (_node(t), _device(t)), "device or fifo"),
}


def _archive(path: Path, build: Callable[[tarfile.TarFile], None], mode: str = "w:bz2") -> Path:
    with tarfile.open(path, mode) as tar:
        build(tar)
    return path


def _huge_member(path: Path, size: int) -> Path:
    """A tar whose header claims a member of SIZE bytes (no data follows: it is never read)."""
    info = tarfile.TarInfo("pcmk/n1/cib.xml.live")
    info.size = size
    path.write_bytes(info.tobuf(format=tarfile.GNU_FORMAT))
    return path


def _run(argv: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in its own process, in CWD, with a temporary directory of its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(cwd / "private-tmp")}
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def _status(archive: Path) -> Result:
    return CliRunner().invoke(main, ["status", "--from", str(archive)])


def _written(root: Path) -> List[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_archive_is_refused_with_one_line(name: str, tmp_path: Path) -> None:
    build, why = HOSTILE[name]
    archive = _archive(tmp_path / f"{name}.tar.bz2", build)
    r = _status(archive)
    assert r.exit_code == 1, r.output
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and why in lines[0], r.stderr


def test_hostile_archive_writes_nothing_outside_its_temporary_directory(tmp_path: Path) -> None:
    """The real process, in a directory of its own: the only thing there afterwards is the archive
    (and the empty private TMPDIR), and the traversal's target does not exist."""
    archive = _archive(tmp_path / "traversal.tar.bz2", HOSTILE["traversal"][0])
    (tmp_path / "private-tmp").mkdir()
    r = _run(["-m", "pacemaker_exporter.cli", "status", "--from", archive.name], tmp_path)
    assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r
    assert "Traceback" not in r.stderr
    assert _written(tmp_path) == ["private-tmp", "traversal.tar.bz2"]
    assert not (tmp_path.parent / "pcmkexp-owned").exists()


def test_hostile_archive_is_unknown_for_the_nagios_check(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "traversal.tar.gz", HOSTILE["traversal"][0], "w:gz")
    code, out = nagios_run(["cluster", "--from", str(archive)])
    assert code == 3, out
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("PACEMAKER UNKNOWN - ") and "refused" in lines[0], out


def test_huge_member_is_refused_before_it_is_read(tmp_path: Path) -> None:
    archive = _huge_member(tmp_path / "huge.tar", 300 * 1024 * 1024)
    r = _status(archive)
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1
    assert "is 314572800 bytes (limit 268435456)" in r.stderr


def test_decompression_bomb_stops_at_the_total_limit(tmp_path: Path) -> None:
    # 64 members of 1 MiB of zeros: 64 MiB uncompressed from a few KiB of xz
    def build(tar: tarfile.TarFile) -> None:
        for i in range(64):
            _file(tar, f"pcmk/filler-{i}", bytes(1024 * 1024))

    archive = _archive(tmp_path / "bomb.tar.xz", build, "w:xz")
    assert archive.stat().st_size < 100_000
    with pytest.raises(BundleError, match="more than 16777216 bytes uncompressed"):
        read_archive(str(archive), Limits(total_bytes=16 * 1024 * 1024))


def test_too_many_members_is_refused(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "many.tar.gz", lambda t: [_file(t, f"pcmk/f{i}", b"") for i in range(50)], "w:gz")
    with pytest.raises(BundleError, match="more than 20 members"):
        read_archive(str(archive), Limits(members=20))


def test_a_file_that_is_no_archive_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.tar.bz2").write_bytes(b"this is not bzip2\n" * 10)
    r = _status(tmp_path / "notes.tar.bz2")
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1
    assert "not a readable .tar.bz2/.tar.gz/.tar.xz archive" in r.stderr


def test_an_archive_of_something_else_says_what_it_looked_for(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "other.tar.gz", lambda t: _file(t, "photos/cat.jpg", b"\xff\xd8"), "w:gz")
    r = _status(archive)
    assert r.exit_code == 1 and len(r.stderr.splitlines()) == 1
    assert "not a crm_report, crm report or sosreport" in r.stderr


def test_a_directory_link_out_of_the_bundle_is_not_followed(tmp_path: Path) -> None:
    """An unpacked bundle may hold links out of it (crmsh -d links pe-inputs to /var/lib/pacemaker):
    they are never read; here the only CIB is such a link, so there is no status to show."""
    from pacemaker_exporter.bundles import open_bundle

    secret = tmp_path / "secret.xml"
    secret.write_bytes(CIB)
    node = tmp_path / "bundle" / "n1"
    node.mkdir(parents=True)
    (node / "RUNNING").write_text("")
    (node / "cib.xml.live").symlink_to(secret)
    bundle = open_bundle(str(tmp_path / "bundle"))
    assert [n.name for n in bundle.nodes] == ["n1"] and bundle.nodes[0].cib is None
