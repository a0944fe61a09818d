"""Data quality checks: ``@check`` declarations and the built-in check expressions.

Like ``@asset``, ``@check`` is inert: it attaches a :class:`CheckDef` to the function, and the
loader collects it. Built-in checks are written as strings in ``assets.toml``
(``not_null(order_id)``, ``unique(order_id)``, ``accepted_values(status, ['open', 'paid'])``,
``row_count(min=1)``) and parsed here so a typo fails at load time, not mid-run.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assetflow.errors import DefinitionError

ATTRIBUTE = "__assetflow_check__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a check: ``passed`` plus metadata shown in history and the UI."""

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class CheckDef:
    """A check on one asset: a Python function or a built-in expression."""

    name: str
    asset: str
    blocking: bool = False
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    builtin: BuiltinCheck | None = None
    description: str = ""
    dbt_test: str | None = None  # the unique id of the dbt test this check is, if any

    @property
    def kind(self) -> str:
        """``"builtin"``, ``"python"`` or ``"dbt"``."""
        if self.dbt_test is not None:
            return "dbt"
        return "builtin" if self.builtin is not None else "python"


@dataclass(frozen=True)
class BuiltinCheck:
    """A parsed built-in check expression such as ``unique(order_id)``."""

    kind: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    text: str = ""


_BUILTIN_SIGNATURES: dict[str, str] = {
    "not_null": "not_null(column)",
    "unique": "unique(column)",
    "accepted_values": "accepted_values(column, ['a', 'b'])",
    "row_count": "row_count(min=1, max=...)",
}
_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.DOTALL)


def parse_builtin_check(text: str, asset: str) -> BuiltinCheck:
    """Parse one built-in check expression, or raise DefinitionError naming asset and text."""
    match = _CALL.match(text)
    where = f"assets.{asset}.checks: {text!r}"
    if not match or match.group(1) not in _BUILTIN_SIGNATURES:
        known = ", ".join(_BUILTIN_SIGNATURES.values())
        raise DefinitionError(f"{where} is not a known check (expected one of: {known})")
    kind, inner = match.groups()
    try:
        call = ast.parse(f"f({inner})", mode="eval").body
        assert isinstance(call, ast.Call)
        # Bare words are column names: treat them as strings.
        args = tuple(a.id if isinstance(a, ast.Name) else ast.literal_eval(a) for a in call.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except (SyntaxError, ValueError, AssertionError):
        raise DefinitionError(
            f"{where} does not parse (expected {_BUILTIN_SIGNATURES[kind]})"
        ) from None
    ok = {
        "not_null": len(args) == 1 and not kwargs,
        "unique": len(args) >= 1 and not kwargs,
        "accepted_values": len(args) == 2 and isinstance(args[1], list | tuple) and not kwargs,
        "row_count": not args and bool(kwargs) and set(kwargs) <= {"min", "max"},
    }[kind]
    if not ok:
        raise DefinitionError(f"{where}: expected {_BUILTIN_SIGNATURES[kind]}")
    return BuiltinCheck(kind, args, kwargs, text.strip())


def builtin_check_name(check: BuiltinCheck) -> str:
    """A stable name for a built-in check: ``unique_order_id``, ``row_count``."""
    words = [check.kind, *(str(a) for a in check.args if isinstance(a, str))]
    return "_".join(words)


def check(*, asset: str, blocking: bool = False, name: str | None = None) -> Callable[[F], F]:
    """Declare a data quality check on ``asset``, run on every partition it materializes.

    The function receives the partition just produced (as a relation, under the asset's name)
    and returns a bool or a :class:`CheckResult`. A ``blocking`` check that fails keeps the new
    data from replacing the old and fails the step.
    """

    def decorate(fn: F) -> F:
        definition = CheckDef(
            name=name or fn.__name__,
            asset=asset,
            blocking=blocking,
            fn=fn,
            description=inspect.cleandoc(fn.__doc__ or ""),
        )
        setattr(fn, ATTRIBUTE, definition)
        return fn

    return decorate


def check_def_of(obj: object) -> CheckDef | None:
    """The CheckDef attached to a decorated function, or None."""
    found = getattr(obj, ATTRIBUTE, None)
    return found if isinstance(found, CheckDef) else None
