"""The tools a sysadmin runs today, run for real on the same log: fail2ban and CrowdSec.

Both come from Debian's packages (fail2ban 1.0.2, crowdsec 1.4.6), unpacked by `ensure`
into ``.venv-peers/`` (no root, no daemon, no network after the download):

* fail2ban: ``fail2ban-regex -o row LOG sshd`` lists every failure its default ``sshd``
  filter finds; its default jail bans a source at ``maxretry`` = 5 of them within
  ``findtime`` = 600 s (`fail2ban_bans`).
* CrowdSec: a private configuration (its own data, database and local API port on
  127.0.0.1, no central API) with the ``crowdsecurity/sshd`` parser and the ``ssh-bf`` and
  ``ssh-slow-bf`` scenarios (and their user-enum twins) from the package's offline hub
  snapshot; ``crowdsec -dsn file://LOG`` replays the file and reports each alert.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS_DIR = REPO / ".venv-peers"
PACKAGES = ("fail2ban", "crowdsec")
F2B_MAXRETRY, F2B_FINDTIME = 5, 600
CROWDSEC_ITEMS = ("parsers/s00-raw/crowdsecurity/syslog-logs.yaml", "parsers/s01-parse/crowdsecurity/sshd-logs.yaml",
                  "parsers/s02-enrich/crowdsecurity/dateparse-enrich.yaml",
                  "parsers/s02-enrich/crowdsecurity/whitelists.yaml",
                  "scenarios/crowdsecurity/ssh-bf.yaml", "scenarios/crowdsecurity/ssh-slow-bf.yaml")
_ALERT = re.compile(r"Ip (\S+) performed '(crowdsecurity/[^']+)'")


class PeerError(RuntimeError):
    """A peer tool could not be installed or run (the message says which and why)."""


def ensure(folder: Path = PEERS_DIR) -> Path:
    """Download the Debian packages once and unpack them into `folder` (a stamp marks it done)."""
    stamp = folder / ".installed"
    if stamp.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    debs = folder / "debs"
    debs.mkdir(exist_ok=True)
    for attempt in range(2):
        r = subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, capture_output=True, text=True)
        if r.returncode == 0:
            break
        if attempt == 0:  # stale package lists on a fresh machine
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
    else:
        raise PeerError(f"apt-get download {' '.join(PACKAGES)} failed: {r.stderr.strip().splitlines()[-1:]}")
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(folder / "root")], check=True)
    stamp.touch()
    return folder


def _root(folder: Path) -> Path:
    return ensure(folder) / "root"


# ---------------------------------------------------------------- fail2ban
def fail2ban_failures(log: Path, folder: Path = PEERS_DIR) -> list[tuple[str, float]]:
    """(address, epoch seconds) of every failure fail2ban's `sshd` filter (mode normal) finds in `log`."""
    root = _root(folder)
    cmd = ["python3", str(root / "usr/bin/fail2ban-regex"), "-o", "row", str(log),
           str(root / "etc/fail2ban/filter.d/sshd.conf")]
    env = dict(os.environ, PYTHONPATH=str(root / "usr/lib/python3/dist-packages"))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise PeerError(f"fail2ban-regex failed: {r.stderr.strip()[-300:]}")
    out = []
    for line in r.stdout.splitlines():
        line = line.strip().rstrip(",")
        if line.startswith("['") or line.startswith('["'):
            row = ast.literal_eval(line)
            out.append((row[0], float(row[1])))
    return out


def fail2ban_bans(failures: list[tuple[str, float]], maxretry: int = F2B_MAXRETRY,
                  findtime: int = F2B_FINDTIME) -> set[str]:
    """The addresses fail2ban's default jail bans: `maxretry` failures within `findtime` seconds."""
    times: dict = defaultdict(list)
    for ip, t in failures:
        times[ip].append(t)
    banned = set()
    for ip, ts in times.items():
        ts.sort()
        if any(ts[i + maxretry - 1] - ts[i] <= findtime for i in range(len(ts) - maxretry + 1)):
            banned.add(ip)
    return banned


# ---------------------------------------------------------------- CrowdSec
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _crowdsec_config(root: Path, work: Path) -> Path:
    import yaml

    etc = work / "etc"
    shutil.copytree(root / "etc/crowdsec", etc)
    (work / "data").mkdir()
    hub = root / "usr/share/crowdsec/hub"
    cfg = yaml.safe_load((etc / "config.yaml").read_text())
    cfg["common"].update(daemonize=False, log_media="stdout", log_dir=str(work))
    cfg["config_paths"].update(config_dir=str(etc), data_dir=str(work / "data"), hub_dir=str(hub),
                               index_path=str(hub / ".index.json"), simulation_path=str(etc / "simulation.yaml"),
                               notification_dir=str(etc / "notifications"),
                               plugin_dir=str(root / "usr/lib/crowdsec/plugins"))
    cfg["crowdsec_service"].update(acquisition_path=str(etc / "acquis.yaml"), acquisition_dir=str(etc / "acquis.d"))
    cfg["db_config"]["db_path"] = str(work / "data/crowdsec.db")
    cfg["api"]["client"]["credentials_path"] = str(etc / "local_api_credentials.yaml")
    server = cfg["api"]["server"]
    server.pop("online_client", None)  # offline: no central API
    server.update(listen_uri=f"127.0.0.1:{_free_port()}", profiles_path=str(etc / "profiles.yaml"),
                  console_path=str(etc / "console.yaml"))
    cfg["prometheus"]["enabled"] = False
    (etc / "config.yaml").write_text(yaml.safe_dump(cfg))
    for item in CROWDSEC_ITEMS:
        parts = item.split("/")
        target = etc.joinpath(*parts[:-2], parts[-1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(hub / item)
    r = subprocess.run([str(root / "usr/bin/cscli"), "-c", str(etc / "config.yaml"), "machines", "add", "-a",
                        "--force", "-f", str(etc / "local_api_credentials.yaml")], capture_output=True, text=True)
    if r.returncode != 0:
        raise PeerError(f"cscli machines add failed: {r.stderr.strip()[-300:]}")
    return etc / "config.yaml"


def crowdsec_alerts(log: Path, folder: Path = PEERS_DIR, timeout: float = 600) -> set[tuple[str, str]]:
    """(address, scenario) of every alert CrowdSec raises replaying `log`."""
    root = _root(folder)
    with tempfile.TemporaryDirectory(prefix="crowdsec-") as work:
        config = _crowdsec_config(root, Path(work))
        cmd = [str(root / "usr/bin/crowdsec"), "-c", str(config), "-dsn", f"file://{Path(log).resolve()}",
               "-type", "syslog"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        out = _read_until_done(proc, timeout)
    alerts = {(m.group(1), m.group(2)) for m in _ALERT.finditer(out)}
    if not alerts and "Acquisition is finished" not in out and "Starting processing data" not in out:
        raise PeerError(f"crowdsec did not run: {out.strip()[-300:]}")
    return alerts


def _read_until_done(proc: subprocess.Popen, timeout: float, grace: float = 20) -> str:
    """CrowdSec's output until it exits; it can stall after "Acquisition is finished" (seen here):
    `grace` seconds after that line, or at `timeout`, it is stopped (by process group) and what it
    said counts."""
    import selectors
    import time

    lines, finished_at, deadline = [], None, time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while proc.poll() is None:
        now = time.monotonic()
        if now > deadline or (finished_at and now > finished_at + grace):
            os.killpg(proc.pid, 9)
            break
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            lines.append(line)
            if finished_at is None and "Acquisition is finished" in line:
                finished_at = time.monotonic()
    lines.append(proc.stdout.read() or "")
    proc.wait()
    return "".join(lines)
