"""Entry point: `streamlit run dashboard/app.py` opens the pages Lab (first), Train, Runs, Draw and Inspect, and Class
for an unlocked teacher.

This file is read twice. `streamlit run` finds `app` below and imports this file outside any script run: the
server is Streamlit's own, with the page shell in front (dashboard/page_shell.py: every page but the first connects
to its server without a detour). Streamlit then runs this file as the script of every page view: `main()`."""

import os
import sys
from pathlib import Path

# Streamlit puts only dashboard/ on the import path; the project root holds mnist_models and dashboard.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner import get_script_run_ctx  # noqa: E402

from dashboard import state  # noqa: E402
from dashboard.identity import is_teacher, remember_identity, teacher_ui  # noqa: E402
from dashboard.learner_ui import display_name_ui  # noqa: E402
from dashboard.presentation import presentation_ui  # noqa: E402
from dashboard.widgets import keep_controls  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="MNIST lab: neural networks without a PhD", page_icon="✍️", layout="wide")
    remember_identity()  # every page: this browser's jobs are its own, across refreshes
    keep_controls()  # the Train page's settings survive visits to the other pages
    presentation_ui()  # ?present=1 or the sidebar toggle: large text and charts for a projector
    display_name_ui()  # the name the teacher's Class page shows for this learner
    teacher_ui()
    pages = [  # every url_path but the first page's is in page_shell.PAGES
        st.Page("app_pages/lab.py", title="Lab", icon=":material/school:", default=True),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
        st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
        st.Page("app_pages/inspect.py", title="Inspect", icon=":material/troubleshoot:", url_path="inspect"),
    ]
    if is_teacher():  # only an unlocked teacher sees the class; for anybody else /class is no page at all
        pages.append(st.Page("app_pages/class_page.py", title="Class", icon=":material/groups:", url_path="class"))
    navigation = st.navigation(pages)
    navigation.run()
    state.page_drawn()  # only now may the job queue's ready worker start importing TensorFlow


if get_script_run_ctx(suppress_warning=True) is None:  # imported by `streamlit run`: the server
    from dashboard import page_shell

    app = st.App(__file__, middleware=page_shell.middleware())
else:  # a page view
    main()
