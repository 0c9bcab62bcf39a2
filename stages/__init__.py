"""The DVC stages, each run as `python -m stages.<name>` from the project root.

Importing this package installs one hook: a `ParamsError` (params.yaml breaks the
schema in `nsparse.params`) that escapes a stage is printed as its one-line message,
without a traceback (the exit status stays 1). Why: the fault is in the user's
params, not in the code, and the message already names the key and the fix.
Every other exception keeps Python's usual report.
"""

from __future__ import annotations

import sys
from types import TracebackType

from nsparse.params import ParamsError

_previous_hook = sys.excepthook


def _report_params_error(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, ParamsError):
        print(f"error: {error}", file=sys.stderr)
        return
    _previous_hook(kind, error, traceback)


sys.excepthook = _report_params_error
