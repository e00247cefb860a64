"""A Jupyter notebook of a network's Keras code: a Markdown cell explaining each part of `code_out`, then its code."""

from __future__ import annotations

from pathlib import Path

from mnist_models.code_out import sections
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.files import write_atomic

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def notebook(model: ModelConfig, train: TrainConfig, **options):
    """An nbformat 4 notebook (options as `code_out.sections`), runnable as it is in Jupyter or Colab."""
    import nbformat
    from nbformat import v4

    cells = []
    for index, section in enumerate(sections(model, train, **options)):
        # The first section's text opens with the notebook's title; the others get a heading of their own.
        text = section.text if index == 0 else f"## {section.title}\n\n{section.text}"
        cells.append(v4.new_markdown_cell(text))
        cells.append(v4.new_code_cell(section.code.rstrip("\n")))
    book = v4.new_notebook(cells=cells, metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    nbformat.validate(book)
    return book


def notebook_text(model: ModelConfig, train: TrainConfig, **options) -> str:
    """The notebook as the JSON text of an .ipynb file."""
    import nbformat

    return nbformat.writes(notebook(model, train, **options))


def write_notebook(path: str | Path, model: ModelConfig, train: TrainConfig, **options) -> int:
    """Write the notebook to `path` atomically (a reader sees the old file or the new one); return its cell count.

    Raises ValueError when `path` does not end in .ipynb, OSError when it cannot be written.
    """
    import nbformat

    path = Path(path)
    if path.suffix != ".ipynb":
        raise ValueError(f"A notebook's file name ends in .ipynb (got {path.name!r}).")
    book = notebook(model, train, **options)
    write_atomic(path, nbformat.writes(book).encode("utf-8"))
    return len(book.cells)
