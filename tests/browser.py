"""Headless Chromium (Debian's ``chromium``) on the status page, and the docs' screenshots.

One place for how Chromium is run here: the flags that work on these machines, an empty
profile per run, ``--dump-dom`` after the page's JavaScript ran (``--virtual-time-budget``) and
``--screenshot``.  ``python -m tests.browser`` (what scripts/screenshots.sh runs) regenerates
docs/images/status-*.png from real runs: the exporter serving saved outputs of the live 3-node
cluster (``--from``) with an event store written by the real alert agent from the CRM_alert_*
environments Pacemaker gave it in the same kind of drill (tests/fixtures/alert-env/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from tests.fake_tools.exporter import Exporter

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "fixtures" / "scenarios"
ALERT_ENV = ROOT / "tests" / "fixtures" / "alert-env"
IMAGES = ROOT / "docs" / "images"
ALERT_AGENT = [sys.executable, "-m", "pacemaker_exporter.alert_agent"]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium_path() -> Optional[str]:
    return shutil.which("chromium")


def _run_chromium(url: str, extra: Sequence[str], timeout: float = 90.0) -> subprocess.CompletedProcess[bytes]:
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="pcmkexp-chromium-") as profile:
        proc = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            timeout=timeout,
            env={**os.environ, "HOME": profile},
        )
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
    return proc


def dump_dom(url: str, virtual_time_ms: int = 5000) -> str:
    """The DOM after the page's scripts ran for ``virtual_time_ms`` of virtual time."""
    return _run_chromium(url, [f"--virtual-time-budget={virtual_time_ms}", "--dump-dom"]).stdout.decode()


def screenshot(url: str, out: Path, width: int = 1280, height: int = 1900) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    _run_chromium(url, [f"--window-size={width},{height}", f"--screenshot={out}", "--virtual-time-budget=2000"])
    if not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {out}")


def drill_events(step_prefix: str) -> List[Path]:
    """The alert-env files of one drill step (INDEX.txt order), e.g. 'fail-resource dummy1'."""
    files: List[Path] = []
    for line in (ALERT_ENV / "INDEX.txt").read_text().splitlines():
        if line.startswith("#") or "|" not in line:
            continue
        name = line.split("<-", 1)[0].strip()
        step = line.split("|")[1].strip()
        if step.startswith(step_prefix):
            files.append(ALERT_ENV / name)
    if not files:
        raise RuntimeError(f"no alert-env files for drill step {step_prefix!r}")
    return files


def record_events(db: Path, env_files: Sequence[Path]) -> None:
    """Run the real alert agent once per captured environment, writing to ``db``."""
    for env_file in env_files:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_alert_")}
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                env[key] = value
        env.update(
            CRM_alert_recipient=str(db),
            PACEMAKER_EXPORTER_EVENTS_DB=str(db),
            PACEMAKER_EXPORTER_NOTIFY_SOCKET=str(db.parent / "no-exporter.sock"),
            PACEMAKER_EXPORTER_EVENTS_MAX_AGE=str(100 * 365 * 86400),
        )
        proc = subprocess.run(ALERT_AGENT, env=env, capture_output=True, timeout=30, cwd=ROOT)
        if proc.returncode != 0:
            raise RuntimeError(f"alert agent on {env_file.name}: {proc.stderr.decode().strip()}")


@dataclass(frozen=True)
class Shot:
    image: str  # file name under docs/images
    scenario: str  # saved outputs under tests/fixtures/scenarios
    drill_step: str  # the alert-env drill step whose events the timeline shows


SHOTS = (
    Shot("status-healthy.png", "live-healthy-3node", "up 3"),
    Shot("status-failed-resource.png", "live-resource-failed", "fail-resource dummy1"),
    Shot("status-quorum-lost.png", "live-quorum-lost", "kill-node 3"),
)


def take(shot: Shot, out_dir: Path, work: Path) -> Path:
    db = work / f"{shot.scenario}.db"
    record_events(db, drill_events(shot.drill_step))
    args = ["--from", str(SCENARIOS / shot.scenario), "--events.db", str(db), "--refresh-interval", "60"]
    out = out_dir / shot.image
    with Exporter(args, env={"CIB_file": ""}, log_path=work / f"{shot.scenario}.log") as exp:
        screenshot(exp.url + "/", out)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else IMAGES
    if chromium_path() is None:
        print("screenshots: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pcmkexp-shots-") as tmp:
        for shot in SHOTS:
            try:
                print(take(shot, out_dir, Path(tmp)))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"screenshots: {shot.image}: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
