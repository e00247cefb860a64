"""The values Keras code is read into (Call, Model, DATA), the CodeError that refuses it, and bounded arithmetic.

Nothing here runs code: a call is recorded as a `Call` with its arguments, arrays are the one value `DATA`, and
arithmetic on numbers refuses whatever could not be a setting before computing it (`10**10**10`).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

MAX_INT = 2**128  # larger whole numbers are no setting of any network
MAX_STRING = 10_000  # characters in one string
MAX_ITEMS = 1_000  # items in one list or tuple


class CodeError(ValueError):
    """Code that cannot be read into configs: `line` is where (None when no line is to blame), `reason` why,
    in words a learner can act on."""

    def __init__(self, line: int | None, reason: str):
        self.line = line
        self.reason = " ".join(reason.split())  # always one line
        super().__init__(f"Line {line}: {self.reason}" if line else self.reason)


class Data:
    """Arrays (MNIST's images or labels, or anything computed from them): passed around, never looked into."""

    def __repr__(self) -> str:
        return "data"


DATA = Data()


@dataclass
class Call:
    """A call of something Keras the configs know: its kind ("Dense", "Adam", ...), its arguments and its line."""

    kind: str
    args: list[Any]
    kwargs: dict[str, Any]
    line: int
    # Where each argument's value was written (by position, or by keyword): a constant's own line for a name.
    origins: dict[int | str, int] = field(default_factory=dict)

    def origin(self, param: str, params: tuple[str, ...]) -> int:
        """The line where the value bound to `param` was written, or the call's line."""
        index = params.index(param) if param in params else -1
        return self.origins.get(param, self.origins.get(index, self.line))

    def bind(self, params: tuple[str, ...], positional: int | None = None, label: str | None = None
             ) -> dict[str, Any]:
        """The arguments by name, as Keras binds the first `positional` of `params` (default: all) to values given
        without a name; CodeError for any other argument."""
        label = label or self.kind
        positional = len(params) if positional is None else positional
        if len(self.args) > positional:
            named = f" ({', '.join(params[:positional])})" if positional else ""
            raise CodeError(self.line, f"{label} takes at most {positional} values without a name here{named}: "
                                       "write `keyword=value` for the others.")
        bound = dict(zip(params, self.args, strict=False))
        for key, value in self.kwargs.items():
            if key not in params:
                raise CodeError(self.line, f"{label}'s `{key}` is not one of this app's settings: the ones read "
                                           f"here are {', '.join(params)}; leave the others at Keras's defaults.")
            if key in bound:
                raise CodeError(self.line, f"{label} is given `{key}` twice.")
            bound[key] = value
        return bound


@dataclass
class Model:
    """A keras.Sequential being built: its layers (calls), and its compile and fit calls once made."""

    layers: list[Call]
    line: int
    calls: dict[str, Call] = field(default_factory=dict)  # "compile" and "fit", as given


def check_name(name: str, line: int) -> None:
    """Refuse the names that reach into Python itself (`__class__`, `__import__`, `_private`)."""
    if name.startswith("_"):
        raise CodeError(line, f"`{name}` is not allowed: names starting with an underscore reach into Python itself; "
                              "only Keras layers, optimisers and plain values are read here.")


def constant(node: ast.Constant) -> Any:
    """The value of a literal, refused when it is far larger than any setting (or bytes, complex, ...)."""
    value = node.value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise CodeError(node.lineno, f"A number of {len(str(abs(value)))} digits is far too large for any setting.")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise CodeError(node.lineno, f"A text of {len(value):,} characters is far longer than any setting needs.")
        return value
    raise CodeError(node.lineno, f"{type(value).__name__} values are not read here: use numbers and text.")


def is_number(value: Any) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
              ast.Pow: "**"}


def arithmetic(op: ast.operator, left: Any, right: Any, line: int) -> int | float:
    """`left op right` for numbers, refused when the result could not be a setting (too large to compute)."""
    symbol = _OPERATORS.get(type(op))
    if symbol is None or not is_number(left) or not is_number(right):
        raise CodeError(line, "Only numbers can be computed with here (+, -, *, /, //, % and **).")
    if symbol in ("/", "//", "%") and right == 0:
        raise CodeError(line, "Division by zero.")
    if symbol == "**" and abs(left) not in (0, 1):
        # The result has about |right| x log2|left| bits: refuse what would take long to compute, or overflow.
        bits = abs(right) * abs(math.log2(abs(left))) if math.isfinite(right) else math.inf
        if not bits <= 1024:
            raise CodeError(line, f"{_short(left)} ** {_short(right)} is far too large for any setting.")
    try:
        result = {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
                  "/": lambda: left / right, "//": lambda: left // right, "%": lambda: left % right,
                  "**": lambda: left ** right}[symbol]()
    except (OverflowError, ZeroDivisionError, ValueError) as error:
        raise CodeError(line, f"{_short(left)} {symbol} {_short(right)} cannot be computed ({error}).") from None
    if isinstance(result, complex) or (isinstance(result, int) and abs(result) > MAX_INT):
        raise CodeError(line, f"{_short(left)} {symbol} {_short(right)} is no setting of any network.")
    return result


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


def snippet(node: ast.AST) -> str:
    """A short piece of the code, for a message."""
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 50 else text[:47] + "..."
