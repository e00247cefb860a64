"""The command line's code verbs: `code` prints a network's Keras code (or writes it as a notebook) and
`read-code` reads a Keras file back into config JSON without running it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_models import config as configs
from mnist_models.architecture import count_params
from mnist_models.config import ConfigError
from mnist_models.presets import PRESETS

COMMANDS = ("code", "read-code")
EXIT_USAGE = 2


def add_parsers(commands) -> None:
    """Add the `code` and `read-code` verbs to the command line's subparsers."""
    code = commands.add_parser("code", help="print the Keras code of a preset or a config (or write a notebook)",
                               description="Print the Keras code of a network and its training, in the codelab's "
                                           "style, then one JSON line; with --notebook, write a Jupyter notebook.")
    source = code.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help="one of: " + ", ".join(PRESETS))
    source.add_argument("--config", metavar="FILE", help="a run's config.json ({\"model\": {...}, \"train\": {...}})")
    code.add_argument("--notebook", metavar="FILE.ipynb", help="write the code as a notebook there instead")
    read = commands.add_parser("read-code", help="read a Keras file into config JSON (never runs it)",
                               description="Read the Keras code in FILE (never running it) and print the configs "
                                           "as one line of config.json, which `train --config` trains.")
    read.add_argument("file", metavar="FILE.py", help="Python code with a keras.Sequential, compile and fit")


def main(args: argparse.Namespace) -> int:
    """Run the `code` or `read-code` verb; 0 on success, 2 with a one-line message on bad input."""
    if args.command == "read-code":
        return _read_code(args.file)
    return _code(args)


def _fail(command: str, message: str) -> int:
    print(f"python -m mnist_models {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def _code(args: argparse.Namespace) -> int:
    from mnist_models import code_out

    try:
        if args.preset:
            model, train = PRESETS[args.preset].configs()
            options = code_out.preset_options(args.preset)
        else:
            try:
                text = Path(args.config).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError([f"Cannot read it: {getattr(error, 'strerror', None) or error}."]) from error
            model, train = configs.loads(text)
            path = Path(args.config)
            options = {"name": (path.parent.name if path.stem == "config" else path.stem) or "custom"}
        model.validate()
        train.validate()
    except ConfigError as error:
        return _fail("code", (f"{args.config}: " if args.config else "") + str(error))
    summary = {"preset": args.preset or "custom", "params": count_params(model)}
    if args.notebook:
        from mnist_models.code_notebook import write_notebook

        try:
            cells = write_notebook(args.notebook, model, train, **options)
        except ValueError as error:
            return _fail("code", str(error))
        except OSError as error:
            return _fail("code", f"Cannot write {args.notebook}: {error.strerror or error}.")
        print(f"Wrote the notebook {args.notebook} ({cells} cells)", flush=True)
        summary.update(notebook=str(args.notebook), cells=cells)
    else:
        code = code_out.keras_code(model, train, **options)
        print(code, flush=True)
        summary["lines"] = code.count("\n")
    # The last line is JSON and, with no true, false or null in it, also a harmless Python line: the printed
    # code saved to a file still runs, and `read-code` reads it.
    print(json.dumps(summary), flush=True)
    return 0


def _read_code(file: str) -> int:
    from mnist_models.code_in import MAX_SOURCE_CHARS, CodeError, read_code

    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_SOURCE_CHARS + 1)
    except OSError as error:
        return _fail("read-code", f"Cannot read {file}: {error.strerror or error}.")
    if len(data) > MAX_SOURCE_CHARS:
        return _fail("read-code", f"{file} is larger than {MAX_SOURCE_CHARS:,} bytes, far longer than a network's "
                                  "code: keep only the imports, the model, compile and fit.")
    try:
        model, train = read_code(data)
    except CodeError as error:
        where = f"{file}, line {error.line}" if error.line else file
        return _fail("read-code", f"{where}: {error.reason}")
    print(json.dumps({"model": configs.to_dict(model), "train": configs.to_dict(train)}), flush=True)
    return 0
