"""The DVC stages, each run as `python -m stages.<name>` from the project root.

Importing this package installs one hook: an exception that escapes a stage and is a
`nsparse.faults.UserFault` (a params.yaml that breaks the schema, a data file that breaks
its format as `file:line: fault`, a cluster that does not answer, rejects the
credentials or presents an untrusted certificate) is printed as its one-line message
without a traceback (the exit status stays 1): the fault is in the input or the
environment, not in the code, and the message names what to fix. Every other
exception keeps Python's usual report.
"""

from __future__ import annotations

import sys
from types import TracebackType

from nsparse.faults import UserFault

_previous_hook = sys.excepthook


def _report_user_fault(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, UserFault):
        print(f"error: {error}", file=sys.stderr)
        return
    _previous_hook(kind, error, traceback)


sys.excepthook = _report_user_fault
