"""The command line's grammar, fitted to its users' habits: draccus parsing, plus a bare boolean flag (``--dry_run``)
meaning true, a single regex accepted where a list is expected (``--run_only 'train/.*'``), and a bad value or an
invalid regex reported as one line naming the flag, exit status 2 (argparse's own convention for usage errors).

It knows flags only as the fields of the dataclass it is given (an experiment's merged with the executor's by
``merged_flags_class``); what the flags mean is ``run.cli``'s business, and how a bad command line is told is
``run.usage``'s.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import typing
from collections.abc import Sequence
from typing import Any

import yaml

from marin_exec.run.usage import USAGE_ERROR, check_flags, flag_parser, parsing_error, unreadable, usage_error

# Flags that take regexes on step names: one regex may be given bare, and each must compile.
REGEX_FLAGS = ("run_only", "force_rerun")
# Flags given once per value (``--override a=1 --override b=2``), parsed as one list.
REPEATED_FLAGS = ("override",)


def parse_flags(argv: Sequence[str], config_class: type[Any]) -> Any:
    """``config_class`` parsed from ``argv``; a usage error prints one line on stderr and exits with status 2
    (``run.usage``): an unknown flag, a required field left out, a value not of its flag's type."""
    from draccus.utils import ParsingError

    args = _with_bare_booleans(_with_regex_lists(_with_repeated(argv, config_class), config_class), config_class)
    parser = flag_parser(config_class)
    if "--help" not in args and "-h" not in args:
        check_flags(args, parser, config_class)
    try:
        config = parser.parse_args(args)
    except ParsingError as error:
        parsing_error(error, config_class)
    except yaml.YAMLError as error:  # a value draccus reads as YAML: which one, and why
        unreadable(args, error)
    except OSError as error:  # --config_path names no readable file
        usage_error("--config_path", f"cannot read {error.filename}: {error.strerror}")
    for name in REGEX_FLAGS:
        for pattern in getattr(config, name, None) or []:
            try:
                re.compile(pattern)
            except re.error as error:
                usage_error(f"--{name}", f"{pattern!r} is not a valid regular expression ({error})")
    return config


def merged_flags_class(classes: Sequence[type[Any]], name: str, doc: str | None = None) -> type[Any]:
    """One dataclass with the fields of every class in ``classes`` (types, defaults and help text kept), to parse them
    all from one command line. A field in two classes is one flag, defined as in the later class.

    The fields are keyword-only, so a field without a default may follow ones with defaults (a required flag). The
    help text is what draccus reads from each field's comment or docstring in its own class: the merged class has no
    source for draccus to read.
    """
    specs: dict[str, tuple[str, Any, Any]] = {}  # a field named in two classes: the later class's definition
    for cls in classes:
        hints = typing.get_type_hints(cls)
        specs.update(
            (f.name, (f.name, hints[f.name], _copy_field(f, _field_help(cls, f.name)))) for f in dataclasses.fields(cls)
        )
    merged = dataclasses.make_dataclass(name, list(specs.values()), kw_only=True)
    merged.__doc__ = doc
    return merged


def refuse_unsafe_flags(config: Any) -> None:
    """Exit with status 2 and one line if the run's lease timings or concurrency would break exactly-once (DESIGN
    §5a): before anything runs. A flag left unset is judged at its default, and the line says so."""
    from marin_exec.settings import current_run_settings, unsafe_setting

    names = ("heartbeat_interval", "lease_timeout", "clock_skew_allowance", "max_concurrent")
    given = {name: getattr(config, name, None) for name in names}
    settings = current_run_settings()
    values: dict[str, float] = {}
    for name in names[:3]:
        value = given[name]
        values[name] = getattr(settings, name) if value is None else value

    def spell(name: str, value: Any) -> str:
        return f"--{name} {value:g}" + (" (the default)" if given.get(name) is None else "")

    problem = unsafe_setting(**values, max_concurrent=given["max_concurrent"], spell=spell)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(USAGE_ERROR)


def _with_regex_lists(argv: Sequence[str], config_class: type[Any]) -> list[str]:
    """``--run_only=X`` split in two, and a single regex wrapped as a one-element list (draccus wants ``[a, b]``)."""
    flags = {f"--{name}" for name in REGEX_FLAGS if name in _field_types(config_class)}
    args: list[str] = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        args += [flag, value] if eq and flag in flags else [arg]
    for i, arg in enumerate(args[:-1]):
        if arg in flags and not _is_yaml_list(args[i + 1]):
            args[i + 1] = f"[{json.dumps(args[i + 1])}]"  # one regex, quoted: [ ] { } , are regex syntax here
    return args


def _with_repeated(argv: Sequence[str], config_class: type[Any]) -> list[str]:
    """Every ``--override X`` / ``--override=X`` gathered into one ``--override [X, ...]`` (draccus wants a list)."""
    flags = {f"--{name}" for name in REPEATED_FLAGS if name in _field_types(config_class)}
    args, values = list(argv), {flag: [] for flag in flags}  # type: ignore[var-annotated]
    out: list[str] = []
    i = 0
    while i < len(args):
        flag, eq, value = args[i].partition("=")
        if flag in flags and (eq or i + 1 < len(args)):
            values[flag].append(value if eq else args[i + 1])
            i += 1 if eq else 2
            continue
        out.append(args[i])
        i += 1
    for flag, given in values.items():
        if given:
            out += [flag, json.dumps(given)]
    return out


def _with_bare_booleans(args: list[str], config_class: type[Any]) -> list[str]:
    """``--dry_run`` followed by nothing or by another flag means ``--dry_run true``."""
    booleans = {f"--{name}" for name, kind in _field_types(config_class).items() if kind is bool}
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        following = args[i + 1] if i + 1 < len(args) else None
        if arg in booleans and (following is None or following.startswith("--")):
            out.append("true")
    return out


def _copy_field(f: dataclasses.Field[Any], help_text: str | None) -> Any:
    metadata = {"custom_args": {"help": help_text}} if help_text else None
    if f.default is not dataclasses.MISSING:
        return dataclasses.field(default=f.default, metadata=metadata)
    if f.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=f.default_factory, metadata=metadata)
    return dataclasses.field(metadata=metadata)


def _field_help(cls: type[Any], name: str) -> str | None:
    """The field's comment or docstring in ``cls``'s source, as draccus would show it (None without a source)."""
    from draccus.wrappers import docstring

    try:
        return docstring.get_preferred_help_text(docstring.get_attribute_docstring(cls, name))
    except Exception:  # noqa: BLE001  (no source, or a class draccus cannot read: the flag just has no help)
        return None


def _field_types(config_class: type[Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(config_class)
    return {f.name: hints.get(f.name) for f in dataclasses.fields(config_class)}


def _is_yaml_list(text: str) -> bool:
    try:
        return isinstance(yaml.safe_load(text), list)
    except yaml.YAMLError:
        return False
