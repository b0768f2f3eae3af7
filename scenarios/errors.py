"""What the command line does with a failure: exit codes, and the one line that names it.

Theory of operation.  Every command ends in one of four ways: :data:`EXIT_OK` (the SLOs
were met, or the command did its job), :data:`EXIT_SLO` (an SLO was violated),
:data:`EXIT_INPUT` (bad input or an unavailable resource: a file, folder, URL or port,
named on one line with the reason, no traceback), :data:`EXIT_INTERRUPTED` (Ctrl-C).
An exception nobody expected is a bug: :func:`scenarios.cli.main.main` shows its traceback
and exits :data:`EXIT_BUG`, so a crash is never read as an SLO verdict.

A command that writes an output folder checks it with :func:`prepare_out` before its
long part runs (a file where the folder should be, a folder it cannot create or write),
and writes inside :func:`writing`, which names the folder when the operating system's
error names no file (a full disk reports ``ENOSPC`` on a write, with no file name).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scenarios.spec.load import ScenarioError

__all__ = [
    "EXIT_BUG",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SLO",
    "STDOUT_ERRNOS",
    "fail",
    "os_error_line",
    "prepare_out",
    "writing",
]

EXIT_OK, EXIT_SLO, EXIT_INPUT, EXIT_BUG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C

_DISK = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
# an OSError with no file name and one of these, outside writing(): a print failed
STDOUT_ERRNOS = frozenset({*_DISK, errno.EPIPE, errno.EIO})


def fail(message: str) -> int:
    """Name a failure on stderr, ``supplysync: error: <message>``; :data:`EXIT_INPUT`."""
    print(f"supplysync: error: {message}", file=sys.stderr, flush=True)
    return EXIT_INPUT


def _described(e: OSError, folder: Path | None) -> tuple[str | None, str]:
    reason = e.strerror or str(e)
    if e.errno in _DISK:
        reason = f"cannot write ({reason})"
    name = e.filename if e.filename is not None else folder
    if name is None:
        return None, reason
    extra = f" -> {os.fsdecode(e.filename2)}" if e.filename2 is not None else ""
    return f"{os.fsdecode(name)}{extra}", reason


def os_error_line(e: OSError, folder: Path | None = None) -> str:
    """``<file>: <reason>`` for an OSError; ``folder`` when the error names no file."""
    name, reason = _described(e, folder)
    return reason if name is None else f"{name}: {reason}"


def prepare_out(out: Path, option: str = "--out") -> None:
    """Create the output folder now, so an unusable one is exit 2 before a long run."""
    if out.exists() and not out.is_dir():
        raise ScenarioError(str(out), "", f"is a file, not a folder ({option})")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScenarioError(
            os.fsdecode(e.filename or out), "", f"cannot create the {option} folder ({e.strerror})"
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        reason = f"cannot write in the {option} folder (Permission denied)"
        raise ScenarioError(str(out), "", reason)


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Turn an OSError while writing into ScenarioError naming the file (or ``out``)."""
    try:
        yield
    except OSError as e:
        name, reason = _described(e, out)
        raise ScenarioError(name or str(out), "", reason) from None
