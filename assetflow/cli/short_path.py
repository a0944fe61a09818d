"""The read commands' usual arguments, parsed without Typer.

``status``, ``plan``, ``list``, ``why`` and ``runs`` are what people (and scripts polling a
project) run most, and Typer with the pydantic it parses arguments with costs them a fifth of
a second. :func:`read_command` recognises their arguments in the plain forms only (``--opt
VALUE``, ``--opt=VALUE``, flags, positional values) and returns the command's body bound to
the values Typer would pass; anything else (``--help``, an unknown or repeated flag, a
missing value, a value starting with ``-``, ``--``, bundled short options, a ``--limit`` that
is not plain digits, shell completion) returns None, and Typer parses it, with its own help
text, error messages and exit codes. ``tests/test_cli_short_path.py`` checks that both ways
give the same output and exit code.
"""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from assetflow.cli import read_commands

# name -> (kind, parameter); kind: "text", "list" (repeatable), "flag", "path", "count"
Options = dict[str, tuple[str, str]]

_PROJECT: Options = {"--project": ("path", "project"), "-p": ("path", "project")}
_COMMON: Options = {**_PROJECT, "--debug": ("flag", "debug"), "--json": ("flag", "as_json")}
_SELECTING: Options = {"--exclude": ("list", "exclude"), "-x": ("list", "exclude")}
_RANGE: Options = {
    "--partition": ("text", "partition"),
    "--from": ("text", "first"),
    "--to": ("text", "last"),
}

# command -> (body, options, positional parameters; a trailing "*" takes the rest, a "?" may
# be left out)
COMMANDS: dict[str, tuple[Callable[..., None], Options, tuple[str, ...]]] = {
    "list": (read_commands.list_assets, {**_COMMON, **_SELECTING}, ("selection*",)),
    "status": (
        read_commands.status,
        {**_COMMON, **_SELECTING, **_RANGE, "--partitions": ("flag", "partitions")},
        ("selection*",),
    ),
    "why": (
        read_commands.why,
        {**_COMMON, "--all": ("flag", "every_reason")},
        ("asset", "partition?"),
    ),
    "runs": (
        read_commands.runs,
        {
            **_COMMON,
            "--asset": ("text", "asset"),
            "--status": ("text", "status"),
            "--limit": ("count", "limit"),
            "-n": ("count", "limit"),
        },
        (),
    ),
    "plan": (
        read_commands.plan,
        {
            **_COMMON,
            **_SELECTING,
            **_RANGE,
            "--only": ("flag", "only"),
            "--force": ("flag", "force"),
            "--all": ("flag", "every_step"),
            "--executor": ("text", "executor"),
            "--address": ("text", "address"),
        },
        ("selection*",),
    ),
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "list": {},
    "status": {"partition": None, "first": None, "last": None, "partitions": False},
    "why": {"partition": None, "every_reason": False},
    "runs": {"asset": None, "status": None, "limit": 20},
    "plan": {
        "partition": None,
        "first": None,
        "last": None,
        "only": False,
        "force": False,
        "every_step": False,
        "executor": None,
        "address": None,
    },
}


def read_command(args: list[str]) -> Callable[[], None] | None:
    """The body of the read command ``args`` name, bound to its values; None if Typer must
    parse ``args`` (see the module's docstring)."""
    if not _plain_stdout() or any(name.endswith("_COMPLETE") for name in os.environ):
        return None
    index, before = 0, dict[str, Any]()  # before the command: --project and --debug only
    while index < len(args) and args[index] not in COMMANDS:
        taken = _option(args, index, {**_PROJECT, "--debug": ("flag", "debug")}, before)
        if taken is None:
            return None
        index += taken
    if index == len(args):
        return None
    command = args[index]
    body, options, positional = COMMANDS[command]
    values: dict[str, Any] = {}
    arguments: list[str] = []
    index += 1
    while index < len(args):
        if args[index].startswith("-"):
            taken = _option(args, index, options, values)
            if taken is None:
                return None
            index += taken
        else:
            arguments.append(args[index])
            index += 1
    bound = _positional(arguments, positional)
    if bound is None:
        return None
    if "project" not in values:
        values["project"] = before.get("project")
    values.pop("debug", None)  # read by cli.run() from the arguments
    keyword = {**DEFAULTS[command], "exclude": None, "as_json": False, **values, **bound}
    if command in ("why", "runs"):
        keyword.pop("exclude")
    return partial(body, **keyword)


def _option(args: list[str], index: int, options: Options, values: dict[str, Any]) -> int | None:
    """Read the option at ``args[index]`` into ``values``; how many arguments it took, or
    None if it is not one of ``options`` in a plain form."""
    name, equals, attached = args[index].partition("=")
    if name not in options or (equals and not name.startswith("--")):
        return None
    kind, parameter = options[name]
    if kind == "flag":
        if equals or parameter in values:
            return None
        values[parameter] = True
        return 1
    if equals:
        value, taken = attached, 1
    elif index + 1 < len(args):
        value, taken = args[index + 1], 2
    else:
        return None
    if value.startswith("-") or (parameter in values and kind != "list"):
        return None
    if kind == "list":
        values.setdefault(parameter, []).append(value)
    elif kind == "path":
        values[parameter] = Path(value)
    elif kind == "count":
        if not (value.isascii() and value.isdigit() and int(value) >= 1):
            return None
        values[parameter] = int(value)
    else:
        values[parameter] = value
    return taken


def _positional(arguments: list[str], names: tuple[str, ...]) -> dict[str, Any] | None:
    if names == ("selection*",):
        return {"selection": arguments or None}
    required = [name for name in names if not name.endswith("?")]
    if not len(required) <= len(arguments) <= len(names):
        return None
    bound: dict[str, Any] = {name.rstrip("?"): None for name in names}
    bound.update(zip((name.rstrip("?") for name in names), arguments, strict=False))
    return bound


def _plain_stdout() -> bool:
    """Whether ``typer.echo`` would write to ``sys.stdout`` as it is (it re-wraps a stream
    without an encoding, or an ASCII one, and the Windows console)."""
    out = sys.stdout
    encoding = getattr(out, "encoding", None)
    if sys.platform == "win32" or not encoding or getattr(out, "errors", None) is None:
        return False
    try:
        return codecs.lookup(encoding).name != "ascii"
    except LookupError:
        return True
