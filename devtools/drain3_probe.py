"""Drain3 over a syslog file, timed: run by `devtools.bench` with the Drain3 venv's Python.

Standalone on purpose (Drain3 lives in its own venv, without this project's packages);
`peak_mb` here is also `devtools.bench`'s reader of a process's peak memory.
Settings are Loghub's benchmark settings for OpenSSH (logparser's Drain benchmark): similarity
threshold 0.6, depth 5, and its two masks, IPv4 addresses and dotted host names. They are
masked the Drain3 way, as `<IP>` and `<HOST>`: Loghub's own Drain writes `<*>`, which Drain3
mistakes for its wildcard (measured on 1M synthetic lines: 176 templates instead of 62, and
1.6x slower). Drain3 mines the message part of each line (the syslog header is split off with
plain string operations, as Loghub's log_format does), single-threaded.
"""
from __future__ import annotations

import json
import resource
import sys
import time


def peak_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory since its last reset (VmHWM, Linux), or None if unreadable.

    For this process without /proc: ru_maxrss, which would carry the parent's over fork and exec.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else None


def main(path: str) -> None:
    from drain3 import TemplateMiner  # only in the Drain3 venv (`peak_mb` is imported elsewhere too)
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.drain_sim_th = 0.6
    config.drain_depth = 5
    config.masking_instructions = [MaskingInstruction(r"(\d+\.){3}\d+", "IP"),
                                   MaskingInstruction(r"([\w-]+\.){2,}[\w-]+", "HOST")]
    config.profiling_enabled = False
    miner = TemplateMiner(config=config)
    lines = 0
    t = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            message = line.rstrip("\r\n").split(": ", 1)[-1]
            miner.add_log_message(message)
            lines += 1
    seconds = time.perf_counter() - t
    print(json.dumps({"lines": lines, "seconds": seconds, "templates": len(miner.drain.clusters),
                      "peak_mb": peak_mb()}))


if __name__ == "__main__":
    main(sys.argv[1])
