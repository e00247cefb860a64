"""Read a learner's Keras code into (ModelConfig, TrainConfig) from its syntax tree alone, never running it.

What is read: imports of keras, tensorflow and numpy; names given plain values (`BATCH_SIZE = 100`); a
`keras.Sequential([...])` (or `tf.keras.Sequential`, or `model.add(...)` one layer at a time); `model.compile`
with an optimiser (a name like "adam" or `keras.optimizers.Adam(learning_rate=...)`) and a schedule the configs
know; `model.fit(..., batch_size=..., epochs=...)`; `keras.utils.set_random_seed(...)`; the MNIST loading and the
schedule classes exactly as `code_out` writes them; `print`, `model.summary()` and `model.evaluate(...)`.
Anything else (other imports, other functions, loops, lambdas, `__class__`, huge numbers, deep nesting,
non-UTF-8 bytes, a file far longer than any network's code) is refused with a `CodeError` naming the line and
what would work instead. Python's `ast` module parses the text; nothing in it is ever executed or imported.
"""

from __future__ import annotations

import ast
from typing import Any

from mnist_models import code_templates
from mnist_models.code_eval import ROOT_MODULES, Scope
from mnist_models.code_network import read_network
from mnist_models.code_training import blame, read_compile, read_fit
from mnist_models.code_values import DATA, Call, CodeError, Model, arithmetic, check_name
from mnist_models.config import ModelConfig, TrainConfig

__all__ = ["CodeError", "read_code"]

MAX_SOURCE_CHARS = 200_000  # about thirty times the longest code the dashboard writes
MAX_DEPTH = 50  # levels of nesting in the syntax tree; the dashboard's code needs about 12
_STATEMENTS = {"If": "`if`", "For": "`for` loops", "While": "`while` loops", "With": "`with` blocks",
               "Try": "`try` blocks", "Return": "`return`", "Delete": "`del`", "Global": "`global`",
               "Nonlocal": "`nonlocal`", "Raise": "`raise`", "Assert": "`assert`", "Match": "`match`",
               "AsyncFunctionDef": "async functions", "AsyncFor": "`async for`", "AsyncWith": "`async with`"}


def read_code(source: str | bytes) -> tuple[ModelConfig, TrainConfig]:
    """The configs `source` builds and trains, valid; CodeError (a ValueError) with the line and reason otherwise."""
    tree = _parse(_text(source))
    _check_depth(tree)
    reader = _Reader()
    for statement in tree.body:
        reader.statement(statement)
    return reader.configs()


def _text(source: str | bytes) -> str:
    if not isinstance(source, str | bytes | bytearray):
        raise CodeError(None, f"Code is text, not {type(source).__name__}.")
    if len(source) > MAX_SOURCE_CHARS:
        raise CodeError(None, f"The code is {len(source):,} characters long, far longer than a network's code (a "
                              "few thousand): keep only the imports, the model, compile and fit.")
    if isinstance(source, bytes | bytearray):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as error:
            line = source[:error.start].count(b"\n") + 1
            raise CodeError(line, f"Byte 0x{source[error.start]:02x} is not UTF-8 text: save the file as UTF-8."
                            ) from None
    if "\x00" in source:
        raise CodeError(source[:source.index("\x00")].count("\n") + 1, "A NUL character is not code.")
    return source.removeprefix("\ufeff")


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as error:
        raise CodeError(error.lineno, f"Python cannot read this: {error.msg}.") from None
    except (RecursionError, MemoryError):
        raise CodeError(None, "The code is nested too deeply to read: write it flatter.") from None
    except ValueError as error:
        raise CodeError(None, f"Python cannot read this: {error}.") from None


def _check_depth(tree: ast.AST) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH, walking it without recursion."""
    stack = [(tree, 0, None)]
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > MAX_DEPTH:
            raise CodeError(line, f"The code is nested more than {MAX_DEPTH} levels deep here: write it flatter.")
        stack.extend((child, depth + 1, line) for child in ast.iter_child_nodes(node))


def _is_literal(node: ast.expr) -> bool:
    """A value written out (a number, a text, or a list or dict of them): a statement of one does nothing."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return all(_is_literal(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None and _is_literal(key) for key in node.keys) and all(map(_is_literal, node.values))
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and _is_literal(node.operand)


class _Reader(Scope):
    """Reads statement after statement, remembering the names, the model, its compile and fit, and the seed."""

    def __init__(self):
        super().__init__()
        self.model: Model | None = None
        self.seed: Call | None = None

    def statement(self, node: ast.stmt) -> None:
        kind = type(node).__name__
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            self._definition(node)
        elif isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Call):
                result = self.value(node.value)
                if isinstance(result, Call) and result.kind == "set_random_seed":
                    self.seed = result
                elif isinstance(result, Call | Model):
                    raise CodeError(node.lineno, "This makes a Keras object and drops it: give it a name, or put "
                                                 "the layer in the model (model.add(...)).")
            elif not _is_literal(node.value):
                self.value(node.value)  # says first what is wrong inside it
                raise CodeError(node.lineno, "A value on its own line does nothing: give it a name, like x = ....")
        elif isinstance(node, ast.Assign):
            value = self.value(node.value)
            for target in node.targets:
                self._bind(target, value, node.lineno)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._bind(node.target, self.value(node.value), node.lineno)
        elif isinstance(node, ast.AugAssign):
            current, change = self.value(node.target), self.value(node.value)
            result = DATA if DATA in (current, change) else arithmetic(node.op, current, change, node.lineno)
            self._bind(node.target, result, node.lineno)
        elif not isinstance(node, ast.Pass):
            what = _STATEMENTS.get(kind, f"`{kind}` statements")
            raise CodeError(node.lineno, f"{what} are not read here: write the model, compile and fit at the top "
                                         "level, each layer written out.")

    def call(self, node: ast.Call) -> Any:
        result = super().call(node)
        if isinstance(result, Call) and result.kind == "Sequential":
            bound = result.bind(("layers", "name"), 1, label="keras.Sequential")
            layers = bound.get("layers") or []
            if not isinstance(layers, list | tuple):
                raise CodeError(result.line, "keras.Sequential takes a list of layers: keras.Sequential([...]).")
            return Model(list(layers), result.line)
        return result

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            if full.split(".")[0] not in ROOT_MODULES or getattr(node, "level", 0):
                raise CodeError(node.lineno, f"Importing {full} is not read here: only keras, tensorflow and numpy "
                                             "can be imported, e.g. `import keras` and `from keras import layers`.")
            if alias.name == "*":
                raise CodeError(node.lineno, "`import *` is not read here: import the names you use.")
            for part in [*full.split("."), alias.asname or ""]:
                if part:
                    check_name(part, node.lineno)
            bound = alias.asname or (alias.name if module else alias.name.split(".")[0])
            path = full if (alias.asname or module) else bound
            self.modules[bound] = "keras" + path[len("tensorflow.keras"):] if path.startswith("tensorflow.keras") \
                else path
            self.names.pop(bound, None)

    def _definition(self, node: ast.FunctionDef | ast.ClassDef) -> None:
        if code_templates.is_template(node):
            (self.functions if node.name in code_templates.DATA_FUNCTIONS else self.classes).add(node.name)
            self.names.pop(node.name, None)
            return
        if node.name in code_templates.TEMPLATES:
            raise CodeError(node.lineno, f"This `{node.name}` differs from the one the dashboard writes; only that "
                                         "one is read here: copy it unchanged, or leave it out.")
        raise CodeError(node.lineno, f"Defining `{node.name}` is not read here: functions and classes are code to "
                                     "run. Learning-rate schedules are objects here: keras.optimizers.schedules."
                                     "InverseTimeDecay, FlooredExponentialDecay or OneCycle.")

    def _bind(self, target: ast.expr, value: Any, line: int) -> None:
        if isinstance(target, ast.Name):
            check_name(target.id, line)
            if isinstance(value, Model) and self.model is not None and value is not self.model:
                raise CodeError(line, "This is a second model: the code should build one keras.Sequential.")
            if isinstance(value, Model):
                self.model = value
            self.names[target.id] = value
            self.lines[target.id] = line
            self.modules.pop(target.id, None)
        elif isinstance(target, ast.Tuple | ast.List):
            if value is DATA:
                values = [DATA] * len(target.elts)
            elif isinstance(value, tuple | list) and len(value) == len(target.elts):
                values = value
            else:
                raise CodeError(line, "The names on the left do not match the values on the right.")
            for item, part in zip(target.elts, values, strict=True):
                self._bind(item, part, line)
        else:
            raise CodeError(line, "Only names can be given values here (not `x[...]`, `x.y` or `*x`).")

    def on_model_method(self, model: Model, method: str, node: ast.Call) -> Any:
        line = node.lineno
        if method in ("fit", "evaluate", "predict"):
            self._arrays_from_earlier_cells(node)
        call = self.make_call(method, node)
        args, kwargs = call.args, call.kwargs
        if method == "add":
            if len(args) != 1 or kwargs:
                raise CodeError(line, "model.add takes one layer: model.add(layers.Dense(100, activation=\"relu\")).")
            model.layers.append(args[0])
            return None
        if method in ("compile", "fit"):
            if method in model.calls:
                raise CodeError(line, f"model.{method} is called a second time: the dashboard trains a model once, so "
                                      f"the code should {'compile' if method == 'compile' else 'fit'} it once.")
            if method == "fit" and "compile" not in model.calls:
                raise CodeError(line, "Call model.compile(...) before model.fit(...).")
            model.calls[method] = call
            return DATA
        if method in ("summary", "evaluate", "predict"):
            return DATA
        raise CodeError(line, f"model.{method}(...) is not read here: the model's methods read are add, compile, fit, "
                              "summary, evaluate and predict.")

    def _arrays_from_earlier_cells(self, node: ast.Call) -> None:
        """A practical's TO DO cell fits the arrays its earlier cells made: in the arguments of fit, evaluate and
        predict, a name not defined here stands for such an array (a name that is called still has to be known)."""
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        nodes = [child for argument in arguments for child in ast.walk(argument)]
        called = {child.func.id for child in nodes if isinstance(child, ast.Call) and isinstance(child.func, ast.Name)}
        for child in nodes:
            if isinstance(child, ast.Name) and child.id not in called and not child.id.startswith("_") \
                    and not self._callable(child.id):
                self.names[child.id] = DATA
                self.lines[child.id] = child.lineno

    def configs(self) -> tuple[ModelConfig, TrainConfig]:
        if self.model is None:
            raise CodeError(None, "No keras.Sequential model found: write model = keras.Sequential([...]) with the "
                                  "layers in the list.")
        model = read_network(self.model)
        blame(model, self._constants(model, code_templates.unused_model_fields(model)), self.model.line)
        train, said, cycle = TrainConfig(), {}, None
        if "compile" in self.model.calls:
            cycle = read_compile(self.model.calls["compile"], train, said)
        if "fit" in self.model.calls:
            read_fit(self.model.calls["fit"], train, said)
        if self.seed is not None:
            bound = self.seed.bind(("seed",), 1, label="keras.utils.set_random_seed")
            train.seed, said["seed"] = bound.get("seed"), self.seed.origin("seed", ("seed",))
        said.update(self._constants(train, {"train_size", "validation_size", "fine_tune_from"}))
        said.update(self._constants(train, code_templates.unused_train_fields(train)))
        last = self.model.calls.get("fit") or self.model.calls.get("compile")
        blame(train, said, last.line if last else self.model.line)
        if cycle is not None and cycle[0] != train.total_steps:
            raise CodeError(cycle[1], f"OneCycle's total_steps is {cycle[0]!r}, but this training takes "
                                      f"{train.total_steps:,} steps: this app's cycle ends with the training, so "
                                      "write total_steps=steps_per_epoch * EPOCHS with "
                                      "steps_per_epoch = -(-TRAIN_SIZE // BATCH_SIZE).")
        return model, train

    def _constants(self, config: ModelConfig | TrainConfig, fields: set[str]) -> dict[str, int]:
        """Set `fields` from the constants named after them (code_templates.SETTING_NAMES) where the code has one."""
        said = {}
        for field in sorted(fields):
            name = code_templates.SETTING_NAMES[field]
            if name in self.names:
                value, line = self.names[name], self.lines[name]
                if isinstance(value, Call | Model) or value is DATA:
                    raise CodeError(line, f"{name} is a setting: give it a plain value, like {name} = 1000.")
                setattr(config, field, value)
                said[field] = line
        return said
