"""The exception tree of talos-tasks.

Every error the package raises on purpose derives from :class:`TalosError`; its message is
one line a person can act on (what failed, where, what to do). The task layer turns a
``TalosError`` into ``invoke.Exit`` (message, no traceback, exit code ``exit_code``); any
other exception is a bug and keeps its traceback. The exit code is the class's (1, or 2
for a usage error) or set by the constructor (an interruption's signal, the error that
stopped a rollout); nothing sets it afterwards. Foreign errors (``OSError``,
``sh.ErrorReturnCode``, ``httpx.HTTPError``) are translated where they are caught, the
cause chained (``raise CommandError(...) from exc``).

    TalosError
    ├── UsageError            a task's arguments are wrong (exit 2, like Invoke's own)
    ├── ClusterFileError      the cluster file is unreadable or invalid
    ├── EnvFileError          the project's .env is unreadable or not UTF-8
    ├── SelectionError        --node / --role name no node of the cluster
    ├── PatchError            a machine-config patch cannot be loaded or applied
    │   └── UnknownToRules    it uses a kind or field the merger's rules do not know
    ├── SchematicError        a schematic (extension) file is invalid
    ├── FactoryError          the Image Factory refused or could not be reached
    ├── DownloadError         a pinned tool could not be downloaded or failed its checksum
    ├── SecretsError          sops could not decrypt / encrypt the secrets bundle
    ├── OutputError           generated files could not be written
    ├── ConfirmationError     a destructive task was not confirmed
    ├── NotReady              a node did not come back running and ready in time
    ├── RolloutError          a rollout (apply, upgrade, reboot) stopped: what was done, what not
    │                         (exit code of the error that stopped it)
    ├── Interrupted           Ctrl-C (exit 130) or SIGTERM (exit 143) stopped the work
    └── CommandError          an external program failed (command, exit code, stderr tail)
        ├── CommandTimeout    the program ran past its time limit and was stopped
        └── ToolMissingError  the program is not installed / not on PATH
"""

from __future__ import annotations

from collections.abc import Sequence

from talos.core.terminal import printable


class TalosError(Exception):
    """Base of every error talos-tasks raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        # Messages quote remote text (talosctl's stderr, HTTP bodies): never let it
        # drive the terminal.
        message = printable(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ClusterFileError(TalosError):
    """The cluster file (or a file it names) is missing, malformed or inconsistent."""

    def __init__(self, path: str, message: str, *, line: int | None = None, key: str | None = None):
        where = path if line is None else f"{path}:{line}"
        if key:
            where = f"{where}: {key}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.key = key


class UsageError(TalosError):
    """A task was called with arguments that cannot work (a bad ``--parallel``, a
    duration that is not one, flags that exclude each other). Exit 2, as Invoke's own
    usage errors."""

    exit_code = 2


class EnvFileError(TalosError):
    """The project's ``.env`` cannot be read (permissions, not UTF-8 text)."""


class SelectionError(TalosError):
    """A node selection names no node, or a node cannot be located."""


class PatchError(TalosError):
    """A patch cannot be loaded or applied. The message names patch, document and path."""


class UnknownToRules(PatchError):
    """A patch or config uses a document kind or field the merger's rules (one Talos
    minor) do not know: a mistake, or something of a newer Talos (whose talosctl then
    merges instead). ``what`` names it (``kind FutureConfig``, ``machine.newFeature``)."""

    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(message)
        self.what = what


class SchematicError(TalosError):
    """A schematic file is invalid (unknown key, wrong type, malformed YAML)."""


class FactoryError(TalosError):
    """The Image Factory answered with an error, an unexpected answer, or not at all."""


class DownloadError(TalosError):
    """A pinned tool (talosctl, kubectl) could not be downloaded, or what came did not
    match the published checksum. Nothing was installed."""


class SecretsError(TalosError):
    """sops could not decrypt or encrypt the secrets, or they are not encrypted."""


class OutputError(TalosError):
    """Generated files could not be written (read-only directory, disk full, ...)."""


class ConfirmationError(TalosError):
    """A destructive task was not confirmed by the user."""


class NotReady(TalosError):
    """The node was not running and ready within the time allowed; ``last`` is what it
    said last (or why it did not answer). ``message`` replaces the default one where the
    caller knows more (what was done to the node, what to do next)."""

    def __init__(
        self, address: str, timeout: float, last: str, *, message: str | None = None
    ) -> None:
        super().__init__(
            message or f"{address} is not running and ready after {timeout:g}s ({last})"
        )
        self.address = address
        self.timeout = timeout
        self.last = last


class RolloutError(TalosError):
    """A rollout stopped before its end. The message says which node failed, what was
    done and what was not attempted. ``stopped_by``: the error a node failed with; the
    rollout exits with its code (a usage error stays exit 2)."""

    def __init__(self, message: str, *, stopped_by: TalosError | None = None) -> None:
        super().__init__(message)
        self.stopped_by = stopped_by
        if stopped_by is not None:
            self.exit_code = stopped_by.exit_code


class Interrupted(TalosError):
    """The user (Ctrl-C, exit 130) or the system (SIGTERM, exit 143) stopped the work:
    the exit code is 128 + ``signal_number``, as a shell reports a signal."""

    def __init__(self, message: str, *, signal_number: int = 2) -> None:
        super().__init__(message)
        self.signal_number = signal_number
        self.exit_code = 128 + signal_number


class CommandError(TalosError):
    """An external program failed. Keeps the command, its exit code and its stderr tail."""

    def __init__(
        self,
        message: str,
        *,
        command: Sequence[str] = (),
        exit_code: int | None = None,
        stderr: str = "",
        hint: str = "",
    ) -> None:
        full = message
        if hint:
            full = f"{full} ({hint})"
        super().__init__(full)
        self.command = tuple(command)
        self.returncode = exit_code
        self.stderr = stderr
        self.hint = hint


class ToolMissingError(CommandError):
    """The external program is not installed or not on PATH."""


class CommandTimeout(CommandError):
    """The external program ran past its time limit and was stopped."""
