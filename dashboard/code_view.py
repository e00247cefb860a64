"""The Keras code behind a network: shown (with a copy button), and downloadable as a script and as a notebook."""

from __future__ import annotations

import functools
import re

import streamlit as st

from mnist_models.code_out import keras_code
from mnist_models.config import ConfigError, ModelConfig, TrainConfig


def _notebook(model: ModelConfig, train: TrainConfig, name: str, about: str) -> str:
    from mnist_models.code_notebook import notebook_text  # nbformat is loaded only when a learner downloads

    return notebook_text(model, train, name=name, about=about)


def code_ui(model: ModelConfig, train: TrainConfig, *, name: str, about: str = "", key: str) -> None:
    """A folded box with the Keras code of this network and its training, in the codelab's style, to copy or
    download (`.py`, or `.ipynb` for Jupyter and Colab). What the settings cannot be is said, not shown."""
    # A toggle, not an expander: the box may sit inside a folded section, and expanders cannot nest.
    if st.toggle("Show the Keras code", key=f"{key}_show",
                 help="The code you would write in the codelab to build and train exactly this network."):
        try:
            code = keras_code(model, train, name=name, about=about)
        except (ConfigError, ValueError) as error:
            st.caption(f"The code appears once the settings are valid ({type(error).__name__}).")
            return
        st.caption("What you would write in the codelab's TO DO cells to build and train this network yourself. "
                   "`python -m mnist_models read-code FILE.py` reads such code back into these settings.")
        st.code(code, language="python", line_numbers=True)
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:60] or "network"
        columns = st.columns(2)
        columns[0].download_button("Download .py", data=code, file_name=f"{stem}.py", mime="text/x-python",
                                   on_click="ignore", icon=":material/download:", key=f"{key}_py")
        columns[1].download_button("Download notebook (.ipynb)",
                                   data=functools.partial(_notebook, model, train, name, about),
                                   file_name=f"{stem}.ipynb", mime="application/x-ipynb+json", on_click="ignore",
                                   icon=":material/download:", key=f"{key}_ipynb")
