"""A synthetic, labeled sshd log: the embedded default input and the model's ground truth.

`generate` writes a realistic auth log of one bastion host in classic syslog
format, with the message formats of current OpenSSH releases: benign users
logging in (keys mostly, passwords sometimes, with the odd typo), background
scanners, and injected attack sessions of five kinds:

* ``brute_force``  one source, hundreds of password guesses, seconds apart;
* ``spraying``     one source, many different (mostly invalid) user names, one or two
  guesses each, tens of seconds to minutes apart;
* ``low_and_slow`` one source, a guess every few minutes for hours: never 5 in 10 minutes;
* ``scanner``      banner grabs and algorithm probes from one source, many connections;
* ``compromise``   a burst of failures on a real account, then a successful login — or a
  distributed campaign's guesses at real accounts, then a login from one of its addresses;
* ``credential_stuffing`` one source, many real account names, one guess each;
* ``distributed``  a campaign: a hundred to four hundred addresses, one or two guesses each,
  at the same few accounts within an hour or two (per-source rules never see one).

Benign traffic includes what fools detectors: typos then success, a forgotten password
(four to eight failures in three minutes, then success), a CI bot logging in with a key
every couple of minutes, a monitoring probe opening and closing a connection every minute,
and an office of users behind one NAT address.

Every attack session is written to ``<log>.labels.csv`` with its source, time span,
line count, how it was injected and its campaign (the addresses of one distributed campaign
share it). The output is a pure function of the seed.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ATTACK_KINDS = ("brute_force", "spraying", "low_and_slow", "scanner", "compromise", "credential_stuffing",
                "distributed")
# Attack sessions started per hour, per kind (times `attack_share`); a distributed campaign is
# many sessions, and one in three ends in a compromise from one of its addresses.
ATTACK_RATES = (0.12, 0.15, 0.1, 0.3, 0.05, 0.04, 0.02)
DEFAULT_START = datetime(2026, 3, 2, tzinfo=timezone.utc)
DEFAULT_LINES = 20_000
DEFAULT_SEED = 7

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yves",
         "zoe", "amir", "bea", "chen", "dmitri", "eva", "farid", "gita", "hiro", "ines",
         "deploy", "backup", "ci-runner", "ansible", "monitoring", "git-sync")
GUESSED = ("root", "admin", "test", "user", "oracle", "postgres", "ubuntu", "pi", "git", "ftpuser",
           "guest", "mysql", "support", "nagios", "www-data", "hadoop", "tomcat", "jenkins", "minecraft",
           "teamspeak", "steam", "dev", "demo", "odoo", "zabbix", "es", "elastic", "kafka", "redis",
           "admin1", "administrator", "test1", "user1", "server", "info", "sales", "office", "webmaster",
           "ubnt", "vagrant", "centos", "debian", "azureuser", "ec2-user", "monitor", "backup", "ftp",
           "apache", "nginx", "web", "student", "temp", "default", "operator", "sysadmin", "manager")
KEY_TYPES = ("ED25519", "RSA", "ECDSA")
DISCONNECT_REASONS = ("Bye Bye", "Normal Shutdown, Thank you for playing", "disconnected by user")


@dataclass
class Session:
    """One connection sequence of one source; attack sessions carry a kind."""
    kind: str
    src_ip: str
    how: str
    events: list = field(default_factory=list)  # (epoch seconds, pid, message)
    campaign: str = ""


class _Writer:
    def __init__(self, rng: random.Random, host: str):
        self.rng, self.host = rng, host
        self.pid = rng.randrange(2000, 20000)

    def next_pid(self) -> int:
        self.pid = self.pid + self.rng.randrange(1, 9)
        if self.pid > 4_000_000:
            self.pid = 2000
        return self.pid

    def port(self) -> int:
        return self.rng.randrange(1024, 65536)

    def fingerprint(self) -> str:
        raw = hashlib.sha256(str(self.rng.random()).encode()).digest()
        return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")


def _public_ip(rng: random.Random) -> str:
    while True:
        a = rng.randrange(1, 224)
        if a not in (10, 127, 172, 192, 100, 169):
            return f"{a}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _attempt_lines(w: _Writer, s: Session, t: float, pid: int, user: str, ip: str, port: int,
                   invalid: bool) -> None:
    if invalid:
        s.events.append((t, pid, f"Invalid user {user} from {ip} port {port}"))
        s.events.append((t + 0.3, pid, "pam_unix(sshd:auth): check pass; user unknown"))
        s.events.append((t + 0.3, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                                       f"tty=ssh ruser= rhost={ip}"))
        s.events.append((t + 2.1, pid, f"Failed password for invalid user {user} from {ip} port {port} ssh2"))
    else:
        s.events.append((t + 0.3, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                                       f"tty=ssh ruser= rhost={ip}  user={user}"))
        s.events.append((t + 2.1, pid, f"Failed password for {user} from {ip} port {port} ssh2"))


def _guessing(w: _Writer, s: Session, t: float, users: list[str], gaps, per_conn: int) -> float:
    """A source guessing passwords: connections of up to `per_conn` attempts."""
    ip, rng = s.src_ip, w.rng
    i = 0
    while i < len(users):
        pid, port = w.next_pid(), w.port()
        n = min(per_conn, len(users) - i)
        for j in range(n):
            user = users[i + j]
            _attempt_lines(w, s, t, pid, user, ip, port, invalid=user not in ("root",) + USERS)
            t += gaps()
        i += n
        if n >= 6 and rng.random() < 0.5:
            s.events.append((t, pid, f"error: maximum authentication attempts exceeded for {users[i - 1]} "
                                     f"from {ip} port {port} ssh2 [preauth]"))
            s.events.append((t, pid, f"Disconnecting authenticating user {users[i - 1]} {ip} port {port}: "
                                     "Too many authentication failures [preauth]"))
        else:
            s.events.append((t + 0.5, pid, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"))
            s.events.append((t + 0.5, pid, f"Disconnected from authenticating user {users[i - 1]} {ip} "
                                           f"port {port} [preauth]"))
    return t


def _benign(w: _Writer, t: float, user: str, ip: str, forgot: bool = False) -> Session:
    """A user's login: a key mostly, a password sometimes with the odd typo; `forgot`: four to
    eight wrong passwords within three minutes first."""
    rng = w.rng
    s = Session("benign", ip, f"login by {user}" + (" after a forgotten password" if forgot else ""))
    pid, port = w.next_pid(), w.port()
    if forgot:
        for _ in range(rng.randrange(4, 9)):
            s.events.append((t, pid, f"Failed password for {user} from {ip} port {port} ssh2"))
            t += rng.uniform(10, 25)
            if rng.random() < 0.3:  # three tries per connection: a new one
                pid, port = w.next_pid(), w.port()
        s.events.append((t, pid, f"Accepted password for {user} from {ip} port {port} ssh2"))
    elif rng.random() < 0.7:
        s.events.append((t, pid, f"Accepted publickey for {user} from {ip} port {port} ssh2: "
                                 f"{rng.choice(KEY_TYPES)} {w.fingerprint()}"))
    else:
        for _ in range(rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 1, 2))):  # the odd typo
            s.events.append((t, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
                                     f"tty=ssh ruser= rhost={ip}  user={user}"))
            s.events.append((t + 1.8, pid, f"Failed password for {user} from {ip} port {port} ssh2"))
            t += rng.uniform(3, 12)
        s.events.append((t, pid, f"Accepted password for {user} from {ip} port {port} ssh2"))
    s.events.append((t + 0.1, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)"))
    end = t + rng.expovariate(1 / 1800)
    s.events.append((end, pid, f"Received disconnect from {ip} port {port}:11: disconnected by user"))
    s.events.append((end, pid, f"Disconnected from user {user} {ip} port {port}"))
    s.events.append((end + 0.1, pid, f"pam_unix(sshd:session): session closed for user {user}"))
    return s


def _scanner(w: _Writer, t: float, ip: str) -> Session:
    rng = w.rng
    n = rng.randrange(4, 30)
    s = Session("scanner", ip, f"{n} probing connections")
    for _ in range(n):
        pid, port = w.next_pid(), w.port()
        s.events.append((t, pid, rng.choice((
            f"Did not receive identification string from {ip} port {port}",
            f"banner exchange: Connection from {ip} port {port}: invalid format",
            f"Unable to negotiate with {ip} port {port}: no matching key exchange method found. "
            "Their offer: diffie-hellman-group1-sha1,diffie-hellman-group14-sha1 [preauth]",
            f"Connection closed by {ip} port {port} [preauth]",
            f"Bad protocol version identification 'GET / HTTP/1.1' from {ip} port {port}",
        ))))
        t += rng.uniform(0.5, 40)
    return s


def _ci_bot(w: _Writer, t: float, ip: str) -> Session:
    """Automation: a key login, a command, a disconnect (every few minutes, all day)."""
    s = Session("benign", ip, "CI bot key login")
    pid, port = w.next_pid(), w.port()
    s.events.append((t, pid, f"Accepted publickey for ci-runner from {ip} port {port} ssh2: ED25519 {w.fingerprint()}"))
    s.events.append((t + 0.1, pid, "pam_unix(sshd:session): session opened for user ci-runner(uid=1050) by (uid=0)"))
    s.events.append((t + 8, pid, f"Received disconnect from {ip} port {port}:11: disconnected by user"))
    s.events.append((t + 8, pid, f"Disconnected from user ci-runner {ip} port {port}"))
    return s


def _probe(w: _Writer, t: float, ip: str) -> Session:
    """A monitoring check: a TCP connection that closes without a banner."""
    s = Session("benign", ip, "monitoring probe")
    pid, port = w.next_pid(), w.port()
    s.events.append((t, pid, "error: kex_exchange_identification: Connection closed by remote host"))
    s.events.append((t, pid, f"Connection closed by {ip} port {port}"))
    return s


def _campaign(w: _Writer, t: float, name: str) -> list[Session]:
    """A distributed campaign: 100-400 addresses, one or two guesses each at a few accounts within
    one to three hours; one campaign in three guesses real accounts and then logs in as one of
    them from an address of its own (a compromise, labelled with the campaign)."""
    rng = w.rng
    hits = rng.random() < 1 / 3
    users = rng.sample(USERS[:30], 3) if hits else rng.sample(GUESSED[:12], rng.randrange(2, 5))
    n, span = rng.randrange(100, 400), rng.uniform(3600, 3 * 3600)
    out = []
    for _ in range(n):
        ip = _public_ip(rng)
        s = Session("distributed", ip, f"one of {n} addresses guessing {', '.join(users)}", campaign=name)
        start = t + rng.uniform(0, span)
        guesses = [rng.choice(users) for _ in range(rng.choice((1, 1, 2)))]
        _guessing(w, s, start, guesses, lambda: rng.uniform(2, 8), per_conn=2)
        out.append(s)
    if hits:
        ip, user = _public_ip(rng), users[0]
        s = Session("compromise", ip, f"login as {user} after campaign {name} guessed it", campaign=name)
        pid, port = w.next_pid(), w.port()
        at = t + span + rng.uniform(60, 1800)
        s.events.append((at, pid, f"Accepted password for {user} from {ip} port {port} ssh2"))
        s.events.append((at + 0.1, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)"))
        s.events.append((at + 300, pid, f"Disconnected from user {user} {ip} port {port}"))
        out.append(s)
    return out


def _attack(w: _Writer, kind: str, t: float, ip: str, campaign: str = "") -> list[Session]:
    rng = w.rng
    if kind == "distributed":
        return _campaign(w, t, campaign)
    if kind == "credential_stuffing":
        users = rng.sample(USERS, rng.randrange(10, 30))
        s = Session(kind, ip, f"{len(users)} real account names, one guess each")
        _guessing(w, s, t, users, lambda: rng.uniform(2, 10), per_conn=rng.choice((1, 3)))
        return [s]
    if kind == "brute_force":
        n, gap = rng.randrange(80, 600), rng.uniform(1.0, 6.0)
        users = [rng.choice(("root", "root", "admin", "test")) for _ in range(n)]
        s = Session(kind, ip, f"{n} password guesses about every {gap:.1f} s")
        _guessing(w, s, t, users, lambda: rng.uniform(0.5, 1.5) * gap, per_conn=6)
        if rng.random() < 0.3:  # syslog folds identical consecutive lines
            e = s.events[-3]
            s.events.insert(-2, (e[0] + 1, e[1], f"message repeated {rng.randrange(2, 6)} times: [ {e[2]}]"))
    elif kind == "spraying":
        n, gap = rng.randrange(20, 120), rng.choice((rng.uniform(15, 60), rng.uniform(120, 400)))
        users = rng.sample(GUESSED, min(n, len(GUESSED)))
        s = Session(kind, ip, f"{len(users)} user names, one guess each about every {gap:.0f} s")
        _guessing(w, s, t, users, lambda: rng.uniform(0.6, 1.4) * gap, per_conn=rng.choice((1, 2, 3)))
    elif kind == "low_and_slow":
        gap = rng.uniform(180, 900)
        n = rng.randrange(15, 80)
        users = [rng.choice(("root", "admin", "oracle", "postgres")) for _ in range(n)]
        s = Session(kind, ip, f"{n} guesses about every {gap / 60:.1f} min")
        _guessing(w, s, t, users, lambda: rng.uniform(0.7, 1.3) * gap, per_conn=1)
    elif kind == "scanner":
        s = _scanner(w, t, ip)
    else:  # compromise: a burst on a real account, then it works
        user = rng.choice(USERS)
        n = rng.randrange(10, 60)
        s = Session(kind, ip, f"{n} failures on {user}, then a successful password login")
        t = _guessing(w, s, t, [user] * n, lambda: rng.uniform(1, 5), per_conn=6)
        pid, port = w.next_pid(), w.port()
        s.events.append((t + 3, pid, f"Accepted password for {user} from {ip} port {port} ssh2"))
        s.events.append((t + 3.1, pid, f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)"))
        s.events.append((t + 600, pid, f"Disconnected from user {user} {ip} port {port}"))
    return [s]


def _noise(rng: random.Random, t: float) -> tuple:
    pid = rng.randrange(1000, 99999)
    return rng.choice((
        (t, pid, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
        (t, pid, "CRON", "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
        (t, None, "systemd-logind", f"New session {pid} of user {rng.choice(USERS)}."),
        (t, pid, "sudo", f"{rng.choice(USERS)} : TTY=pts/0 ; PWD=/home ; USER=root ; COMMAND=/usr/bin/systemctl status"),
    ))


def generate(lines: int = DEFAULT_LINES, seed: int = DEFAULT_SEED, start: datetime = DEFAULT_START,
             host: str = "bastion-01", attack_share: float = 1.0) -> tuple[list[str], list[dict]]:
    """`lines` log lines in time order and one label row per attack session.

    `attack_share` scales how many attack sessions are injected (1.0: the default
    mix, in which attacks write about half of the lines, as on an Internet-facing
    host, and about one source-hour in ten is an attack).
    """
    rng = random.Random(seed)
    w = _Writer(rng, host)
    t0 = start.timestamp()
    sessions: list[Session] = []
    homes = {u: (f"10.{rng.randrange(1, 8)}.{rng.randrange(256)}.{rng.randrange(2, 250)}"
                 if rng.random() < 0.7 else _public_ip(rng)) for u in USERS}
    office = _public_ip(rng)  # an office behind one NAT address: a fifth of the users
    homes.update({u: office for u in USERS[:30:5]})
    ci_bot, monitor = "10.9.0.12", "10.9.0.2"
    written, hours, counted, campaigns = 0, 0, 0, 0
    while written < lines * 1.02 + 200:  # an hour at a time until there is enough to cut from
        base = t0 + hours * 3600
        working = 7 <= (hours % 24) <= 19
        for _ in range(rng.randrange(20, 34) if working else rng.randrange(3, 8)):
            user = rng.choice(USERS)
            roaming = rng.random() < 0.15  # laptops on hotel and home networks
            sessions.append(_benign(w, base + rng.uniform(0, 3600), user, _public_ip(rng) if roaming else homes[user],
                                    forgot=rng.random() < 0.02))
        for m in range(0, 60, 6):  # automation and monitoring, all day
            sessions.append(_ci_bot(w, base + m * 60 + rng.uniform(0, 30), ci_bot))
            sessions.append(_probe(w, base + m * 60 + 17, monitor))
        for _ in range(rng.randrange(1, 4)):  # Internet background: single probes
            ip = _public_ip(rng)
            s = Session("benign", ip, "single probe")
            s.events.append((base + rng.uniform(0, 3600), w.next_pid(),
                             f"Connection closed by {ip} port {w.port()} [preauth]"))
            sessions.append(s)
        for kind, rate in zip(ATTACK_KINDS, ATTACK_RATES):
            if rng.random() < rate * attack_share:
                campaigns += kind == "distributed"
                sessions += _attack(w, kind, base + rng.uniform(0, 3600), _public_ip(rng), f"c{campaigns}")
        written += sum(len(s.events) for s in sessions[counted:])
        counted = len(sessions)
        hours += 1
    noise = [_noise(rng, t0 + rng.uniform(0, hours * 3600)) for _ in range(int(lines * 0.02))]
    events = [(t, pid, "sshd", msg, i) for i, s in enumerate(sessions) for t, pid, msg in s.events]
    events += [(t, pid, proc, msg, -1) for t, pid, proc, msg in noise]
    events.sort(key=lambda e: e[0])
    events = events[:lines]
    out, spans = [], {}
    for t, pid, proc, msg, sid in events:
        ts = datetime.fromtimestamp(t, timezone.utc)
        tag = f"{proc}[{pid}]" if pid is not None else proc
        out.append(f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} {host} {tag}: {msg}")
        if sid >= 0 and sessions[sid].kind != "benign":
            first, last, n = spans.get(sid, (t, t, 0))
            spans[sid] = (min(first, t), max(last, t), n + 1)
    labels = [{"session_id": sid, "kind": sessions[sid].kind, "src_ip": sessions[sid].src_ip,
               "start": _iso(first), "end": _iso(last), "lines": n, "how": sessions[sid].how,
               "campaign": sessions[sid].campaign}
              for sid, (first, last, n) in sorted(spans.items())]
    return out, labels


def _iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), timezone.utc).isoformat().replace("+00:00", "Z")


LABEL_FIELDS = ("session_id", "kind", "src_ip", "start", "end", "lines", "how", "campaign")


def labels_path(log_path: str | Path) -> Path:
    return Path(str(log_path) + ".labels.csv")


def write(path: str | Path, lines: int = DEFAULT_LINES, seed: int = DEFAULT_SEED,
          start: datetime = DEFAULT_START, attack_share: float = 1.0) -> tuple[Path, Path]:
    """Write the log (LF endings) and its labels beside it; return both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log, labels = generate(lines, seed, start, attack_share=attack_share)
    path.write_text("\n".join(log) + "\n", encoding="utf-8")
    with open(labels_path(path), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=LABEL_FIELDS)
        writer.writeheader()
        writer.writerows(labels)
    return path, labels_path(path)


def read_labels(path: str | Path) -> list[dict]:
    with open(labels_path(path), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
