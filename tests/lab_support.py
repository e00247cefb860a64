"""What the Lab's AppTests share: a job queue whose jobs are accepted and never started, a fresh store, and the Lab
opened as a learner."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from mnist_models.store.runs import HOST

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 60  # the first run imports pandas, plotly and the core package on a loaded 2-core machine
LEARNER = "learner-in-test"


class ParkedWorker:
    pid = None
    host = HOST

    def poll(self):
        return None  # "still running", for as long as the test lasts

    def kill(self):
        pass

    def exit_reason(self, code):
        return "parked"


class ParkedExecutor:
    """Accepts every job and starts nothing: what the queue did is all the test looks at."""

    name = "local"

    def start(self, store, run_id, threads):
        return ParkedWorker()

    def prepare(self):
        pass

    def close(self):
        pass


def open_lab(step: str | None = None, identity: str = LEARNER, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = identity
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if step is not None:
        at.selectbox(key="lab_step").select(step).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


