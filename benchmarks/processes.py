"""What a process (or a group of processes) costs, read from /proc: CPU time and resident memory."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path


def cpu_ticks(stat: str) -> int:
    """utime + stime, in clock ticks, from a /proc/<pid>/stat line (its command name may hold spaces and ")")."""
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is the state, the stat's third field
    return int(fields[11]) + int(fields[12])  # the 14th and 15th fields: user and system time, all threads


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU seconds of these processes together (their threads included; one that ended meanwhile counts 0)."""
    total = 0
    for pid in pids:
        try:
            total += cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def command_line(pid: int) -> str:
    """The process's command line, its arguments separated by spaces ("" once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> set[int]:
    """The processes started by `root`, by its children, and so on (from each process's parent in /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2:].split()[1])  # the stat's fourth field
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def memory_kb(status: str, field: str) -> int:
    """A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"); ValueError if it is missing."""
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise ValueError(f"No {field} in the process status.")
    return int(match.group(1))


def process_memory(pid: int) -> tuple[int, int]:
    """A process's resident memory now and at its peak, in bytes (VmRSS, VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return memory_kb(status, "VmRSS") * 1024, memory_kb(status, "VmHWM") * 1024
