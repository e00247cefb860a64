"""The learner's own record for the teacher's Class page: the shared learner book and the sidebar box where a
learner chooses the name the class sees."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.identity import owner
from dashboard.widgets import plain
from mnist_models import course
from mnist_models.store.learners import MAX_NAME_LENGTH, LearnerBook

KEY = "learner_name"
ERROR_KEY = "learner_name_error"


@st.cache_resource(show_spinner=False)
def learner_book() -> LearnerBook:
    """The learners of the server's run store: names, Lab steps and guesses (only the course's steps)."""
    return LearnerBook(state.run_store(), step_ids=[step.id for step in course.steps()])


def _save() -> None:
    try:
        st.session_state[KEY] = learner_book().set_name(owner(), st.session_state.get(KEY, ""))
        st.session_state.pop(ERROR_KEY, None)
    except (ValueError, OSError) as error:
        st.session_state[ERROR_KEY] = str(error)


def display_name_ui() -> None:
    """A sidebar box "Your name (optional)": what the teacher's Class page shows for this learner, kept on the
    server per browser; left empty, the class sees "Learner N"."""
    if KEY not in st.session_state:
        try:
            learner = learner_book().get(owner())
        except (ValueError, OSError):
            learner = None
        st.session_state[KEY] = learner.name if learner else ""
    st.sidebar.text_input("Your name (optional)", key=KEY, max_chars=MAX_NAME_LENGTH, on_change=_save,
                          placeholder="Learner", help="How the teacher's class view lists you, with your results. "
                                                      "Leave it empty to be shown as “Learner” and a number.")
    if ERROR_KEY in st.session_state:
        st.sidebar.warning(plain(st.session_state[ERROR_KEY]))
