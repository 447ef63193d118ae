"""Command-line parsing the way talosctl's cobra/pflag do it (guessed from cobra and
pflag, which are not in the reference; the enum values of ``--mode`` and ``--wipe-mode``
follow # Talos: cmd/talosctl/pkg/talos/helpers/mode.go:Mode.Type and
cmd/talosctl/cmd/talos/reset.go:WipeMode.Type).

What matters for fidelity: the exact error texts (``unknown flag: --x``, ``unknown
shorthand flag: 'n' in -n``, ``flag needs an argument: --x``, ``invalid argument ...``,
``unknown command "x" for "talosctl"``, ``accepts N arg(s), received M``), that flags may
come before or after the subcommand, that ``strings`` flags split on commas and append
when repeated while ``stringArray`` flags never split, and that a bool flag only takes a
value with ``=`` (``--wait false`` makes ``false`` a positional argument).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

BOOL, STRING, STRINGS, STRING_ARRAY, DURATION, INT = (
    "bool", "string", "strings", "stringArray", "duration", "int",
)


class CLIError(Exception):
    """A failure talosctl reports: printed on stderr (plus usage when cobra would), exit 1."""

    def __init__(self, message: str, *, suppressed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        # Progress trackers print their own failure; Execute() then prints nothing.
        self.suppressed = suppressed


class HelpRequested(Exception):
    """``-h``/``--help`` or a command group run without a subcommand."""


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str
    default: Any
    usage: str = ""
    short: str = ""
    hidden: bool = False
    # An enum flag (a pflag Value whose Type() lists the options): checked while parsing.
    choices: tuple[str, ...] = ()
    # Accepted but left out of the listed options (the Value's Type() filters them).
    unlisted: tuple[str, ...] = ()

    def options(self) -> str:
        """The options as the Value's ``Type()`` lists them: sorted, ``, ``-joined."""
        return ", ".join(c for c in sorted(self.choices) if c not in self.unlisted)

    def shown(self) -> str:
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"


@dataclass
class Command:
    name: str
    use: str
    short: str = ""
    aliases: tuple[str, ...] = ()
    flags: list[Flag] = field(default_factory=list)
    persistent: list[Flag] = field(default_factory=list)
    children: list[Command] = field(default_factory=list)
    args: tuple[int, int | None] | None = None  # (min, max); None = cobra's legacy check
    run: Callable[..., None] | None = None
    parent: Command | None = None
    hidden: bool = False
    required: tuple[str, ...] = ()
    group: str = ""  # the root's help lists commands under their group's title
    groups: tuple[tuple[str, str], ...] = ()  # (id, title) of a command's groups

    def add(self, *commands: Command) -> Command:
        for command in commands:
            command.parent = self
            self.children.append(command)
        return self

    def path(self) -> str:
        return f"{self.parent.path()} {self.name}" if self.parent else self.name

    def child(self, word: str) -> Command | None:
        for command in self.children:
            if word == command.name or word in command.aliases:
                return command
        return None

    def inherited(self) -> list[Flag]:
        found: list[Flag] = []
        node = self.parent
        while node is not None:
            found.extend(node.persistent)
            node = node.parent
        return found

    def all_flags(self) -> list[Flag]:
        return [*self.flags, *self.persistent, *self.inherited(), self.help_flag()]

    def help_flag(self) -> Flag:
        return Flag("help", BOOL, False, f"help for {self.name}", short="h")

    def lookup(self, name: str) -> Flag | None:
        return next((f for f in self.all_flags() if f.name == name), None)

    def lookup_short(self, short: str) -> Flag | None:
        return next((f for f in self.all_flags() if f.short == short), None)

    # -- usage text (cobra's default template) ---------------------------------------

    def usage(self) -> str:
        lines = ["Usage:"]
        if self.run is not None:
            lines.append(f"  {self.use_line()}")
        if self.children:
            lines.append(f"  {self.path()} [command]")
        if self.aliases:
            lines += ["", "Aliases:", f"  {', '.join((self.name, *self.aliases))}"]
        # cobra sorts subcommands by name and pads names to at least 11 characters;
        # pflag sorts flags by name.
        visible = sorted((c for c in self.children if not c.hidden), key=lambda c: c.name)
        if visible:
            width = max(11, *(len(c.name) for c in visible))

            def listed(commands: list[Command]) -> list[str]:
                return [f"  {c.name.ljust(width)} {c.short}" for c in commands]

            if not self.groups:
                lines += ["", "Available Commands:", *listed(visible)]
            else:
                for group_id, title in self.groups:
                    lines += ["", title, *listed([c for c in visible if c.group == group_id])]
                rest = [c for c in visible if not c.group]
                if rest:
                    lines += ["", "Additional Commands:", *listed(rest)]
        local = sorted((f for f in [*self.flags, *self.persistent, self.help_flag()]
                        if not f.hidden), key=lambda f: f.name)
        lines += ["", "Flags:", *_flag_usages(local)]
        inherited = sorted((f for f in self.inherited() if not f.hidden), key=lambda f: f.name)
        if inherited:
            lines += ["", "Global Flags:", *_flag_usages(inherited)]
        if self.children:
            lines += ["", f'Use "{self.path()} [command] --help" for more information '
                      "about a command."]
        return "\n".join(lines) + "\n"

    def use_line(self) -> str:
        parts = self.use.split(" ", 1)
        line = " ".join([self.parent.path(), *parts]) if self.parent else self.use
        return line if "[flags]" in line else f"{line} [flags]"

    def help(self) -> str:
        head = f"{self.short}\n\n" if self.short else ""
        return head + self.usage()


def _flag_usages(flags: Sequence[Flag]) -> list[str]:
    rows: list[tuple[str, str]] = []
    for flag in flags:
        left = f"  -{flag.short}, --{flag.name}" if flag.short else f"      --{flag.name}"
        if flag.choices:
            left += " " + flag.options()
        elif flag.kind != BOOL:
            left += f" {flag.kind}"
        text = flag.usage
        if flag.choices:
            text += f" (default {flag.default})"
        elif flag.kind == BOOL and flag.default:
            text += " (default true)"
        elif flag.kind == STRING and flag.default:
            text += f' (default "{flag.default}")'
        elif flag.kind == DURATION:
            text += f" (default {format_duration(flag.default)})"
        elif flag.kind == STRINGS and flag.default:
            text += f" (default [{','.join(flag.default)}])"
        elif flag.kind == INT and flag.default:
            text += f" (default {flag.default})"
        rows.append((left, text))
    width = max((len(left) for left, _ in rows), default=0)
    return [f"{left.ljust(width)}   {text}".rstrip() for left, text in rows]


# ---------------------------------------------------------------------------------------
# Values


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration``, in seconds."""
    body = text
    sign = 1.0
    if body[:1] in "+-" and body:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            if re.match(r"(\d+(?:\.\d*)?|\.\d+)$", body[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's ``Duration.String`` for whole-second durations: ``30m0s``, ``1m0s``, ``20s``."""
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    frac = seconds - whole
    sec_text = f"{secs + frac:g}s"
    if hours:
        return f"{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{minutes}m{sec_text}"
    return sec_text


def _parse_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


# ---------------------------------------------------------------------------------------
# Parsing


@dataclass
class Parsed:
    command: Command
    values: dict[str, Any]
    changed: set[str]
    args: list[str]
    called_as: str = ""  # the word that named the command (a name or an alias)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def find_command(root: Command, argv: Sequence[str]) -> tuple[Command, list[str]]:
    """cobra's ``Find``: walk subcommands by the first non-flag word at each level."""
    command, rest = root, list(argv)
    return _find(root, command, rest)[:2]


def find_command_as(root: Command, argv: Sequence[str]) -> tuple[Command, list[str], str]:
    """:func:`find_command`, with the word the command was called by (cobra's CalledAs)."""
    return _find(root, root, list(argv))


def _find(root: Command, command: Command, rest: list[str]) -> tuple[Command, list[str], str]:
    called_as = root.name
    while True:
        index = _first_word(rest, command)
        if index is None:
            break
        sub = command.child(rest[index])
        if sub is None:
            break
        called_as = rest[index]
        rest = rest[:index] + rest[index + 1:]
        command = sub
    if command is root and command.children:
        index = _first_word(rest, command)
        if index is not None:
            raise CLIError(
                f'unknown command "{rest[index]}" for "{root.path()}"'
                + _suggestions(root, rest[index])
            )
    return command, rest, called_as


def _first_word(args: Sequence[str], command: Command) -> int | None:
    """Index of the first positional word, skipping flags and the values they take."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        if arg.startswith("--") and "=" not in arg:
            flag = command.lookup(arg[2:])
            if flag is None or flag.kind != BOOL:
                i += 2
                continue
        elif arg.startswith("-") and "=" not in arg and len(arg) == 2:
            flag = command.lookup_short(arg[1:])
            if flag is None or flag.kind != BOOL:
                i += 2
                continue
        elif arg and not arg.startswith("-"):
            return i
        i += 1
    return None


def _suggestions(command: Command, word: str) -> str:
    close = [
        c.name for c in command.children
        if not c.hidden and (_levenshtein(word.lower(), c.name.lower()) <= 2
                             or c.name.lower().startswith(word.lower()))
    ]
    if not close:
        return ""
    return "\n\nDid you mean this?\n" + "".join(f"\t{name}\n" for name in close)


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def parse_flags(command: Command, argv: Sequence[str]) -> Parsed:
    """pflag's interspersed parsing of ``argv`` (the command words already removed)."""
    values: dict[str, Any] = {}
    for flag in command.all_flags():
        default = flag.default
        values[flag.name] = list(default) if isinstance(default, list) else default
    changed: set[str] = set()
    positional: list[str] = []

    def assign(flag: Flag, text: str) -> None:
        try:
            if flag.kind == BOOL:
                value: Any = _parse_bool(text)
            elif flag.kind == DURATION:
                value = parse_duration(text)
            elif flag.kind == INT:
                value = _parse_int(text)
            elif flag.kind == STRINGS:
                items = next(iter(_csv_rows(text))) if text else []
                value = (values[flag.name] if flag.name in changed else []) + items
            elif flag.kind == STRING_ARRAY:
                value = (values[flag.name] if flag.name in changed else []) + [text]
            elif flag.choices and text not in flag.choices:
                raise ValueError("possible options are: " + flag.options())
            else:
                value = text
        except ValueError as exc:
            raise CLIError(
                f'invalid argument "{text}" for "{flag.shown()}" flag: {exc}'
            ) from None
        values[flag.name] = value
        changed.add(flag.name)

    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, text = arg[2:].partition("=")
            flag = command.lookup(name)
            if flag is None:
                raise CLIError(f"unknown flag: --{name}")
            if eq:
                assign(flag, text)
            elif flag.kind == BOOL:
                assign(flag, "true")
            elif i < len(args):
                assign(flag, args[i])
                i += 1
            else:
                raise CLIError(f"flag needs an argument: --{name}")
        elif arg.startswith("-") and len(arg) > 1 and arg != "--":
            shorthands = arg[1:]
            while shorthands:
                char = shorthands[0]
                flag = command.lookup_short(char)
                if flag is None:
                    raise CLIError(f"unknown shorthand flag: '{char}' in -{shorthands}")
                if len(shorthands) > 2 and shorthands[1] == "=":
                    assign(flag, shorthands[2:])
                    shorthands = ""
                elif flag.kind == BOOL:
                    assign(flag, "true")
                    shorthands = shorthands[1:]
                elif len(shorthands) > 1:
                    assign(flag, shorthands[1:])
                    shorthands = ""
                elif i < len(args):
                    assign(flag, args[i])
                    i += 1
                    shorthands = ""
                else:
                    raise CLIError(f"flag needs an argument: '{char}' in -{shorthands}")
        else:
            positional.append(arg)
    if values.get("help"):
        raise HelpRequested()
    return Parsed(command, values, changed, positional)


def _csv_rows(text: str) -> list[list[str]]:
    import csv

    return list(csv.reader([text])) or [[]]


def check_args(command: Command, args: Sequence[str]) -> None:
    """cobra's positional-argument validators, with their messages."""
    if command.args is None:
        if command.children and command.parent is None and args:
            raise CLIError(f'unknown command "{args[0]}" for "{command.path()}"')
        return
    low, high = command.args
    count = len(args)
    if high == 0 and count:
        raise CLIError(f'unknown command "{args[0]}" for "{command.path()}"')
    if low == high and count != low:
        raise CLIError(f"accepts {low} arg(s), received {count}")
    if high is None and count < low:
        raise CLIError(f"requires at least {low} arg(s), only received {count}")
    if high is not None and low == 0 and count > high:
        raise CLIError(f"accepts at most {high} arg(s), received {count}")
    if high is not None and not low <= count <= high:
        raise CLIError(f"accepts between {low} and {high} arg(s), received {count}")


def check_required(parsed: Parsed) -> None:
    missing = [name for name in parsed.command.required if name not in parsed.changed]
    if missing:
        joined = '" "'.join(missing)
        raise CLIError(f'required flag(s) "{joined}" not set')
