"""Reading Keras code, part one: the value of an expression, worked out from its syntax tree and never executed.

Numbers, text, lists and tuples are read as they are written (with arithmetic on numbers, bounded so that
`10**10**10` is refused instead of computed); a call of a Keras layer, optimiser, schedule or callback becomes a
`Call` that records its arguments; MNIST's arrays and whatever is computed from them are `DATA`, never looked
into. Anything else is refused with a `CodeError` naming the line and what would work instead.
"""

from __future__ import annotations

import ast
from typing import Any

from mnist_models.code_templates import SCHEDULE_CLASSES
from mnist_models.code_values import (
    DATA,
    MAX_ITEMS,
    Call,
    CodeError,
    Model,
    arithmetic,
    check_name,
    constant,
    is_number,
    snippet,
)

ROOT_MODULES = ("keras", "tensorflow", "numpy")

LAYER_NAMES = {"Dense": "Dense", "Conv2D": "Conv2D", "Convolution2D": "Conv2D", "MaxPooling2D": "MaxPooling2D",
               "MaxPool2D": "MaxPooling2D", "BatchNormalization": "BatchNormalization", "Activation": "Activation",
               "Flatten": "Flatten", "Reshape": "Reshape", "Dropout": "Dropout", "Input": "Input",
               "InputLayer": "InputLayer"}
OPTIMIZER_NAMES = ("SGD", "Adam", "RMSprop", "AdamW")
KNOWN = {
    **{f"keras.layers.{name}": kind for name, kind in LAYER_NAMES.items()},
    **{f"keras.optimizers.{name}": name for name in OPTIMIZER_NAMES},
    **{name: name for name in SCHEDULE_CLASSES},
    "keras.Input": "Input",
    "keras.Sequential": "Sequential",
    "keras.models.Sequential": "Sequential",
    "keras.optimizers.schedules.InverseTimeDecay": "InverseTimeDecay",
    "keras.optimizers.schedules.ExponentialDecay": "ExponentialDecay",
    "keras.callbacks.TensorBoard": "TensorBoard",
    "keras.utils.set_random_seed": "set_random_seed",
    "tensorflow.random.set_seed": "set_random_seed",
    "keras.losses.SparseCategoricalCrossentropy": "loss",
    "keras.losses.CategoricalCrossentropy": "loss",
    "keras.datasets.mnist.load_data": "data",
    "keras.utils.to_categorical": "data",
}
ACTIVATION_FUNCTIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "leaky_relu", "linear", "softmax")
ACTIVATION_PATHS = {f"{module}.{name}": name for module in ("keras.activations", "tensorflow.nn")
                    for name in ACTIVATION_FUNCTIONS}
DATA_METHODS = ("reshape", "astype")
DATA_ATTRIBUTES = ("shape", "ndim", "size", "T")
# What a learner may have meant by an unknown name under these modules, and what this app builds instead.
_INSTEAD = {
    "keras.layers.": "this app's networks use Dense, Conv2D, MaxPooling2D, BatchNormalization, Activation, "
                     "Dropout, Flatten and Reshape layers",
    "keras.optimizers.schedules.": "the schedules read here are keras.optimizers.schedules.InverseTimeDecay, "
                                   "FlooredExponentialDecay and OneCycle",
    "keras.optimizers.": "the optimisers read here are keras.optimizers.SGD, Adam, RMSprop and AdamW",
    "keras.callbacks.": "the dashboard records the curves itself, and learning-rate schedules are objects here "
                        "(keras.optimizers.schedules.InverseTimeDecay, FlooredExponentialDecay, OneCycle); the one "
                        "callback read here is keras.callbacks.TensorBoard",
}
_REFUSED = {
    "Lambda": "a lambda is a function, and functions are not read here",
    **dict.fromkeys(("ListComp", "SetComp", "DictComp", "GeneratorExp"),
                    "comprehensions are not read here: write the values out"),
    "Dict": "dictionaries are not read here",
    "Set": "sets are not read here: use a list",
    "IfExp": "`... if ... else ...` is not read here: write the value itself",
    "NamedExpr": "`:=` is not read here: assign the value on a line of its own",
    "JoinedStr": "f-strings are read only inside print(...): write the text itself",
    "Await": "`await` is not read here",
    "Yield": "`yield` is not read here",
    "Starred": "`*` unpacking is not read here: write the values out",
}


class Scope:
    """The names a piece of code has given values to, and how it reads any expression with them."""

    def __init__(self):
        self.names: dict[str, Any] = {}
        self.lines: dict[str, int] = {}  # where each name last got its value
        # Names already bound by the practical's earlier cells, which a learner's cell may use without importing.
        self.modules = {"keras": "keras", "tf": "tensorflow", "tensorflow": "tensorflow", "layers": "keras.layers",
                        "np": "numpy", "numpy": "numpy"}
        self.functions: set[str] = set()  # the template functions defined so far (their results are data)
        self.classes: set[str] = set()

    def on_model_method(self, model: Model, method: str, node: ast.Call) -> Any:
        raise CodeError(node.lineno, f"model.{method}(...) is not read here.")

    def value(self, node: ast.expr) -> Any:
        """What `node` is: a number, text, None, a tuple or list of values, a Call, a Model or DATA."""
        kind = type(node).__name__
        if isinstance(node, ast.Constant):
            return constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Tuple | ast.List):
            if len(node.elts) > MAX_ITEMS:
                raise CodeError(node.lineno, f"A list of {len(node.elts):,} items is far more than any network needs.")
            items = [self.value(item) for item in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.value(node.operand)
            if operand is DATA:
                return DATA
            if not is_number(operand):
                raise CodeError(node.lineno, "Only a number can have a sign here.")
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if DATA in (left, right):
                return DATA
            return arithmetic(node.op, left, right, node.lineno)
        if isinstance(node, ast.Subscript):
            if self.value(node.value) is not DATA:
                raise CodeError(node.lineno, "Only arrays of images or labels can be indexed here.")
            self._slice(node.slice)
            return DATA
        raise CodeError(getattr(node, "lineno", None), _REFUSED.get(kind) or (
            f"`{snippet(node)}` cannot be read here: only numbers, text, lists and Keras layers, optimisers, "
            "schedules and callbacks can."))

    def _slice(self, node: ast.expr) -> None:
        parts = (node.lower, node.upper, node.step) if isinstance(node, ast.Slice) else (node,)
        for part in parts:
            if part is not None:
                self.value(part)

    def _name(self, node: ast.Name) -> Any:
        check_name(node.id, node.lineno)
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.modules:
            raise CodeError(node.lineno, f"`{node.id}` is a module here; use what is in it, like `keras.layers.Dense`.")
        raise CodeError(node.lineno, f"`{node.id}` is not defined above: only names given a value earlier in the "
                                     "code can be used.")

    def _attribute(self, node: ast.Attribute) -> Any:
        path = self.path(node)
        if path is not None:
            if path in ACTIVATION_PATHS:
                return ACTIVATION_PATHS[path]
            raise CodeError(node.lineno, f"`{path}` cannot be read here: only Keras layers, optimisers, schedules "
                                         "and callbacks can be called, and activations named.")
        if self.value(node.value) is DATA and node.attr in DATA_ATTRIBUTES:
            return DATA
        raise CodeError(node.lineno, f"`.{node.attr}` cannot be read here.")

    def path(self, node: ast.expr) -> str | None:
        """`tf.keras.layers.Dense` as "keras.layers.Dense" (imports followed), or None for a variable's attribute."""
        parts = []
        while isinstance(node, ast.Attribute):
            check_name(node.attr, node.lineno)
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        check_name(node.id, node.lineno)
        if node.id in self.names:
            return None
        if node.id in self.modules:
            root = self.modules[node.id]
        elif self._callable(node.id):
            root = node.id
        else:
            raise CodeError(node.lineno, f"`{node.id}` is not defined above: only names given a value earlier in the "
                                         "code can be used.")
        path = ".".join([root, *reversed(parts)])
        return "keras" + path[len("tensorflow.keras"):] if path.startswith("tensorflow.keras") else path

    def call(self, node: ast.Call) -> Any:
        """The value of a call: a Call for Keras things, DATA for data, a Model for keras.Sequential."""
        line = node.lineno
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(k.arg is None for k in node.keywords):
            raise CodeError(line, "`*` and `**` unpacking are not read here: write the arguments out.")
        if isinstance(node.func, ast.Name) and not self._callable(node.func.id):
            check_name(node.func.id, line)
            raise CodeError(line, f"`{node.func.id}(...)` cannot be read here: only Keras layers, optimisers, "
                                  "learning-rate schedules and the TensorBoard callback can be called, e.g. "
                                  "`layers.Dense(100, activation=\"relu\")`.")
        path = self.path(node.func)
        if path is None:
            if not isinstance(node.func, ast.Attribute):
                self.value(node.func)  # says what is wrong inside it first
                raise CodeError(line, f"`{snippet(node.func)}` cannot be called here: only Keras layers, "
                                      "optimisers, schedules and callbacks can.")
            owner = self.value(node.func.value)
            if isinstance(owner, Model):
                return self.on_model_method(owner, node.func.attr, node)
            if owner is DATA and node.func.attr in DATA_METHODS:
                self._arguments(node)
                return DATA
            raise CodeError(line, f"`.{node.func.attr}(...)` cannot be called here: a model's add, compile, fit, "
                                  "summary and evaluate can, and an array's reshape and astype.")
        if path == "print":
            self._print_arguments(node)
            return None
        kind = KNOWN.get(path)
        if kind == "data" or path in self.functions:
            self._arguments(node)
            return DATA
        if kind is None:
            instead = next((text for prefix, text in _INSTEAD.items() if path.startswith(prefix)),
                           "only Keras layers, optimisers, learning-rate schedules and the TensorBoard callback can "
                           "be called, e.g. `layers.Dense(100, activation=\"relu\")`")
            raise CodeError(line, f"`{path}(...)` cannot be read here: {instead}.")
        return self.make_call(kind, node)

    def make_call(self, kind: str, node: ast.Call) -> Call:
        """A Call of `kind` with the arguments of `node` and where each was written."""
        args, kwargs = self._arguments(node)
        origins = {index: self._origin(arg) for index, arg in enumerate(node.args)}
        origins.update({keyword.arg: self._origin(keyword.value) for keyword in node.keywords})
        return Call(kind, args, kwargs, node.lineno, origins)

    def _origin(self, node: ast.expr) -> int:
        if isinstance(node, ast.Name) and node.id in self.lines:
            return self.lines[node.id]
        return node.lineno

    def _callable(self, name: str) -> bool:
        return (name in self.names or name in self.modules or name in self.functions or name in self.classes
                or name in SCHEDULE_CLASSES or name == "print")

    def _arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any]]:
        return [self.value(arg) for arg in node.args], {k.arg: self.value(k.value) for k in node.keywords}

    def _print_arguments(self, node: ast.Call) -> None:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.JoinedStr):
                for part in arg.values:
                    if isinstance(part, ast.FormattedValue):
                        self.value(part.value)
                        if part.format_spec is not None and not all(
                                isinstance(item, ast.Constant) for item in part.format_spec.values):
                            raise CodeError(node.lineno, "A format inside an f-string must be written out.")
            else:
                self.value(arg)
