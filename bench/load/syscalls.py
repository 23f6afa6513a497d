"""System calls of the hub per referral, counted with `strace -c -f` attached to its processes.

`/proc/<pid>/io` does not count socket calls, so the benchmark attaches Debian's `strace` to every hub
process (`-f`: their threads too) for one closed loop of its own, after the measured phases (tracing
slows the hub several times over, so that loop's rate is never reported), and divides each call's count
by the referrals it took in and pushed out. Without `strace` (or without the right to trace) it says so
and the figures are absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

WATCHED = ("sendto", "recvfrom", "epoll_wait", "sendmsg", "recvmsg", "write", "read", "writev")
_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$")


def parse_summary(text: str) -> dict[str, int]:
    """`strace -c` summary table -> {syscall: calls} (the `total` row left out)."""
    calls: dict[str, int] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match and match.group(2) != "total":
            calls[match.group(2)] = calls.get(match.group(2), 0) + int(match.group(1))
    return calls


async def count_during(pids: Sequence[int], work: Callable[[], Awaitable[int]]) -> dict[str, Any]:
    """Run `work` (it returns the referrals it took in and out) with strace attached to `pids`: per
    referral counts of the watched calls, or {"skipped": why}."""
    strace = shutil.which("strace")
    if strace is None:
        return {"skipped": "strace is not installed (Debian: apt-get install strace)"}
    with tempfile.TemporaryDirectory(prefix="hub-strace-") as tmp:
        out = Path(tmp) / "summary.txt"
        args = [strace, "-c", "-f", "-o", str(out)]
        for pid in pids:
            args += ["-p", str(pid)]
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stderr is not None
        attached = 0
        try:
            while attached < len(pids):  # "Process N attached" for each pid (then its threads)
                line = await asyncio.wait_for(proc.stderr.readline(), 10)
                if not line:
                    return {"skipped": "strace could not attach (ptrace not permitted here?)"}
                attached += b"attached" in line
            referrals = await work()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGINT)  # detach and write the summary
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.communicate(), 30)
        calls = parse_summary(out.read_text() if out.exists() else "")
    per = {name: round(calls.get(name, 0) / max(referrals, 1), 2) for name in WATCHED}
    return {
        "referrals": referrals,
        "per_referral": per,
        "send_recv_per_referral": round(per["sendto"] + per["recvfrom"] + per["sendmsg"] + per["recvmsg"], 2),
        "all_calls_per_referral": round(sum(calls.values()) / max(referrals, 1), 1),
    }
