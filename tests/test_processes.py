"""benchmarks/processes.py: CPU time, memory and the process tree, read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from benchmarks import processes


def test_cpu_ticks_read_user_and_system_time_past_an_odd_command_name():
    fields = ["S", *map(str, range(4, 14)), "700", "300", *map(str, range(16, 53))]
    assert processes.cpu_ticks(f"1234 (st (run) x) {' '.join(fields)}\n") == 1000
    assert processes.cpu_seconds(os.getpid()) > 0


def test_memory_fields_read_the_process_status():
    status = "Name:\tpython\nVmHWM:\t  812000 kB\nVmRSS:\t  700000 kB\n"
    assert processes.memory_kb(status, "VmRSS") == 700000
    assert processes.memory_kb(status, "VmHWM") == 812000
    with pytest.raises(ValueError, match="VmRSS"):
        processes.memory_kb("Name:\tpython\n", "VmRSS")
    rss, peak = processes.process_memory(os.getpid())
    assert 0 < rss <= peak


def test_a_child_and_its_child_are_descendants_and_their_cpu_is_counted():
    # A child that starts a grandchild which spins for a while: both are found, and their CPU time adds up.
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys\n"
                              f"subprocess.run([sys.executable, '-c', {spin!r}])"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = processes.descendants(os.getpid())
            grandchildren = found - {child.pid}
            if child.pid in found and grandchildren and processes.group_cpu_seconds(grandchildren) >= 0.3:
                break
            time.sleep(0.1)
        assert child.pid in found and grandchildren
        assert "time.process_time" in processes.command_line(next(iter(grandchildren)))
        assert processes.group_cpu_seconds(found) >= 0.3
        assert os.getpid() not in found
    finally:
        for pid in processes.descendants(child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()


def test_an_ended_process_counts_nothing_and_has_no_command_line():
    ended = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert ended.returncode == 0
    gone = 2**22 + 1  # above Linux's largest pid
    assert processes.group_cpu_seconds([gone]) == 0
    assert processes.command_line(gone) == ""
