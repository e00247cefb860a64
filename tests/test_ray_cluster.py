"""The README's Ray cluster, set up as a new user would: `ray start --head` (token authentication on, as Ray makes
it by default), a second node joined with `ray start --address`, then trainings through the command line and
through the dashboard's executor (Stop included), and the messages a refused connection gives.

The cluster lives in a temporary home (its token) and a temporary directory (its sessions); only its own processes,
found by that directory and its port, are ended afterwards, never any other Ray on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from mnist_models.store.runs import RunStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cluster_processes(marks: list[str]) -> set[int]:
    """The processes whose command line names one of `marks` (the cluster's directory or port), and theirs."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (parent, command)
    found = {pid for pid, (_, command) in table.items() if any(mark in command for mark in marks)}
    found.discard(os.getpid())
    grown = True
    while grown:
        children = {pid for pid, (parent, _) in table.items() if parent in found} - found
        found |= children
        grown = bool(children)
    return found


class Cluster:
    """A Ray head and a second node started with the README's commands, in their own home and directory."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="ray-home-"))
        self.sessions = Path(tempfile.mkdtemp(prefix="rt-", dir="/tmp"))  # short: Ray's socket paths are bounded
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
        return {**env, "HOME": str(self.home), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}

    def ray_start(self, *args: str, **env: str) -> None:
        done = subprocess.run([RAY, "start", *args, "--node-ip-address=127.0.0.1", "--disable-usage-stats"],
                              env=self.env(**env), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def start(self) -> None:
        # Ray's own advice when it starts without a token: generate one; `ray start` then turns authentication on.
        made = subprocess.run([RAY, "get-auth-token", "--generate"], env=self.env(), capture_output=True, text=True,
                              timeout=120)
        assert made.returncode == 0 and self.token, made.stderr[-2000:]
        self.ray_start("--head", f"--port={self.port}", f"--temp-dir={self.sessions}", "--num-cpus=2",
                       "--include-dashboard=false")
        # The second machine gets the head's token as the README says, and joins.
        self.ray_start(f"--address={self.address}", "--num-cpus=1", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)

    @property
    def token(self) -> str:
        return (self.home / ".ray" / "auth_token").read_text().strip()

    def stop(self) -> None:
        for _ in range(3):
            pids = cluster_processes([str(self.sessions), f":{self.port}"])
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if not pids:
                return
            time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster():
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.stop()


def cli(cluster: Cluster, runs: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=cluster.env(MNIST_RUNS_DIR=str(runs), **env))


def test_the_command_line_joins_a_default_cluster_with_the_token_it_finds(cluster, tmp_path):
    # Nothing but the head's own ~/.ray/auth_token (the head machine): no RAY_AUTH_MODE to set by hand.
    done = cli(cluster, tmp_path, "train", "--preset", "softmax", "--epochs", "1", "--train-size", "1000",
               "--ray", cluster.address)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["executor"], summary["status"]) == ("ray", "completed")
    info = RunStore(tmp_path).get(summary["run_id"])
    assert info.has_model and info.executor == "ray" and info.test_accuracy > 0.5
    assert any((info.path / "tensorboard").iterdir()), "the task's TensorBoard events came back"


DASHBOARD_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from mnist_models.jobs import JobQueue, make_executor
    from mnist_models.presets import get_preset
    from mnist_models.store.runs import RunStore

    choice = make_executor(sys.argv[1])  # what the dashboard does with MNIST_RAY_ADDRESS
    store = RunStore(sys.argv[2])
    queue = JobQueue(store, executor=choice.executor, max_running=choice.max_running, threads=choice.threads)
    model, train = get_preset("softmax").configs()
    train.train_size, train.validation_size, train.epochs = 1000, 100, 1
    done = queue.submit(model, train, owner="ann", name="done")
    train.epochs = 200
    stopped = queue.submit(model, train, owner="bob", name="stopped")
    deadline = time.monotonic() + 240
    while store.progress(stopped).step < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    queue.stop(stopped, "bob")
    queue.wait_idle(240)
    queue.shutdown()
    print(json.dumps({"max_running": choice.max_running, "done": done, "stopped": stopped}))
""")


def test_the_dashboard_s_executor_trains_and_stops_on_the_two_node_cluster(cluster, tmp_path):
    done = subprocess.run([sys.executable, "-c", DASHBOARD_SCRIPT, cluster.address, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=cluster.env())
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["max_running"] == 1, "three CPUs on two nodes hold one two-CPU job"
    store = RunStore(tmp_path)
    finished, halted = store.get(result["done"]), store.get(result["stopped"])
    assert finished.status == "completed" and finished.has_model and finished.executor == "ray"
    assert halted.status == "stopped" and halted.has_model and 0 < halted.epochs_completed < 200


def test_without_the_token_the_refusal_says_so_and_what_to_run(cluster, tmp_path):
    elsewhere = Path(tempfile.mkdtemp(prefix="ray-other-home-"))  # a machine that never saw the token
    started = time.monotonic()
    done = cli(cluster, tmp_path, "train", "--preset", "softmax", "--ray", cluster.address, HOME=str(elsewhere))
    seconds = time.monotonic() - started
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()[-1:]
    assert "requires token authentication and this machine has no token" in line
    assert "ray get-auth-token" in line and "RAY_AUTH_TOKEN" in line
    print(f"refused without a token in {seconds:.1f} s")
    wrong = cli(cluster, tmp_path, "train", "--preset", "softmax", "--ray", cluster.address, HOME=str(elsewhere),
                RAY_AUTH_TOKEN="not-the-token")
    assert wrong.returncode == 2 and "its token was refused" in wrong.stderr
    assert RunStore(tmp_path).list() == [], "nothing is created for a training that could not start"
