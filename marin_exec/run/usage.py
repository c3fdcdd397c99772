"""Usage errors as one line each (exit status 2), and a ``--help`` that shows each flag's real type.

draccus parses; this module stands around it: the parser it builds shows each flag's type as its metavar (draccus
turns every flag into ``str`` once parsing starts, so argparse's own usage after an error read ``--max_concurrent
str``), marks the fields without a default as required, and turns what draccus and argparse say on a bad command
line into one line naming the flag and the fix: an unknown flag gets a "did you mean", a missing required field is
"--dataset is required", a value that is not of its flag's type names the type instead of a generated class.
It does not decide what flags exist or mean: those are the fields of the dataclass it is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

USAGE_ERROR = 2
_CONFIG_FILE_FLAG = "--config_path"  # draccus's own flag: values may come from a YAML file instead
_FAILED_VALUE = re.compile(r"Failed when parsing value=(?P<value>.*?) into field .*? of type (?P<type>.*?)\.\s")
_GENERATED_FIELD = re.compile(r"\"?<class '[\w.]+'>\.(\w+)\"?")


def usage_error(flag: str, message: str) -> NoReturn:
    print(f"error: {flag}: {message} (see --help)", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def flag_parser(config_class: type[Any]) -> Any:
    """draccus's parser for ``config_class``, with real metavars, required fields marked, one-line argparse errors."""
    from draccus.argparsing import ArgumentParser

    parser = ArgumentParser(config_class=config_class)
    fields = dict(_flag_fields(config_class))
    for action in parser.parser._actions:
        if action.dest not in fields:
            continue
        kind, required = fields[action.dest]
        if not action.choices:
            action.metavar = _metavar(kind)
        # argparse formats help with %, so a comment's "10%" is escaped; draccus's " " (a field without a comment)
        # showed nothing at all, not even the default
        text = (action.help or "").strip().replace("%", "%%")
        if required or action.default is None:  # required, or left out means None: no "(default: None)"
            action.help, action.default = f"{text} (required)" if required else text, argparse.SUPPRESS
        else:
            action.help = f"{text} (default: %(default)s)"
    parser.parser.error = _argparse_error  # type: ignore[method-assign]  # one line, no usage block
    return parser


def check_flags(args: Sequence[str], parser: Any, config_class: type[Any]) -> None:
    """Exit with one line if ``args`` name a flag that does not exist or leave out a required field."""
    known = [flag for flag in parser.parser._option_string_actions if flag.startswith("--")]
    for arg in args:
        flag = arg.partition("=")[0]
        if arg.startswith("--") and flag not in known:
            usage_error(flag, f"no such flag{_did_you_mean(flag, known)}")
    if _CONFIG_FILE_FLAG in (arg.partition("=")[0] for arg in args):
        return  # the file may hold them; draccus reports what is still missing
    given = {arg.partition("=")[0] for arg in args}
    missing = [
        f"--{dest}" for dest, (_, required) in _flag_fields(config_class) if required and f"--{dest}" not in given
    ]
    if missing:
        _exit_missing(missing)


def _flag_fields(config_class: type[Any], prefix: str = "", within_default: bool = False) -> Iterator[Any]:
    """(flag name, (type, required)) of each flag ``config_class`` has: a nested dataclass's fields as ``opt.lr``,
    none of them required when the nested field has a default."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind, required = hints[field.name], _required(field) and not within_default
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            yield from _flag_fields(kind, f"{prefix}{field.name}.", within_default or not required)
        elif field.init:
            yield f"{prefix}{field.name}", (kind, required)


def parsing_error(error: Exception, config_class: type[Any]) -> NoReturn:
    """draccus's ParsingError as one line naming the flag, its value and its type."""
    key_path = list(getattr(error, "key_path", None) or [])
    message = str(getattr(error, "message", error))
    missing = re.match(r"Missing required field\(s\) (.*) for ", message)
    if missing:  # under a nested flag: given one of its fields, draccus builds it from the flags alone
        within = "".join(f"{part}." for part in key_path)
        note = f" when any --{within}* flag is given" if within else ""
        _exit_missing([f"--{within}{name}" for name in re.findall(r"`([^`]+)`", missing.group(1))], note)
    items = [part for part in key_path if part.isdigit()]  # ["lrs", "0"]: the first item of --lrs
    flag = f"--{'.'.join(part for part in key_path if not part.isdigit())}" if key_path else "flags"
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if lines[0].startswith("Could not decode the value into any") and len(lines) == 2:  # Optional[X]: X's complaint
        message = lines[1].partition(": ")[2]
    if items:
        message = f"item {', '.join(items)}: {message}"
    failed = _FAILED_VALUE.match(message)
    if failed:
        value, kind = failed.group("value"), failed.group("type")
        message = f"{value} is not a {kind}"
        if kind.startswith(("list", "tuple", "set", "dict")) and not value.strip("'\"").startswith(("[", "{")):
            message += f'; write a list as "[a, b]" (one value: {flag} "[{value.strip(chr(39))}]")'
    else:
        message = " ".join(_GENERATED_FIELD.sub(lambda m: f"--{m.group(1)}", message).split())
    usage_error(flag, message.rstrip(":"))


def unreadable(args: Sequence[str], error: Exception) -> NoReturn:
    """A value that is not valid YAML (draccus reads every value as YAML): the first such value and its flag."""
    import yaml

    pairs = [(a.partition("=")[0], a.partition("=")[2]) for a in args if a.startswith("--") and "=" in a]
    pairs += [(flag, value) for flag, value in zip(args, args[1:], strict=False) if flag.startswith("--")]
    for flag, value in pairs:
        if not value.startswith("--"):
            try:
                yaml.safe_load(value)
            except yaml.YAMLError as bad:
                problem = getattr(bad, "problem", None) or "not valid YAML"
                usage_error(
                    flag, f"cannot read {value!r} ({problem}); values are read as YAML: quote it, e.g. \"'{value}'\""
                )
    usage_error("flags", " ".join(str(error).split()))


def _argparse_error(message: str) -> NoReturn:
    """argparse's complaints ("argument --prefix: expected one argument") without the usage block it prints."""
    flag, _, rest = message.partition(": ")
    if flag.startswith("argument --"):
        usage_error(flag.removeprefix("argument "), rest.replace("expected one argument", "needs a value"))
    usage_error("flags", message)


def _exit_missing(flags: list[str], note: str = "") -> NoReturn:
    names = " and ".join([", ".join(flags[:-1]), flags[-1]] if len(flags) > 1 else flags)
    print(f"error: {names} {'are' if len(flags) > 1 else 'is'} required{note} (see --help)", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def _did_you_mean(flag: str, known: Sequence[str]) -> str:
    starting = [k for k in known if k.startswith(flag)]
    close = starting if len(starting) == 1 else difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.init and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _metavar(kind: Any) -> str:
    """How a type reads in usage: ``float | None`` is ``float`` (leaving a flag out is what None means)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]
    return kind.__name__ if isinstance(kind, type) and not typing.get_args(kind) else str(kind).replace("typing.", "")
