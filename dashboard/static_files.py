"""Files put where Streamlit serves static files (dashboard/static/, at app/static/), so browsers can cache them.

Streamlit serves a Components v2 element's own script without a validator or an age the browser could reuse,
so every new tab would fetch and compile it again; its static file serving answers with Last-Modified and an
ETag, which lets the browser keep a file. dashboard/static/ is git-ignored and filled when the dashboard runs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"


def copy_once(source: Path, target: Path) -> None:
    """Copy `source` to `target` unless it is there already; raises OSError where it cannot be written.

    The copy keeps the source's modification time: browsers keep a file in their cache for a while in
    proportion to its age, so every tab after the first takes it from the cache instead of fetching and
    compiling it again. It is written beside the target and renamed, so that no browser is ever served half a
    file, and each process writes its own partial file, so that two servers starting at once do not mix theirs.
    """
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        shutil.copy2(source, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
