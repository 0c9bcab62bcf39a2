"""The DVC stages, each run as `python -m stages.<name>` from the project root.

Importing this package installs one hook: an exception that escapes a stage and is a
fault of the user's input or environment, not of the code, is printed as its one-line
message without a traceback (the exit status stays 1): a params.yaml that breaks the
schema, a data file that breaks its format (`file:line: fault`), a cluster that does
not answer, rejects the credentials or presents an untrusted certificate. Their
messages already name the key, line or setting to fix. Every other exception keeps
Python's usual report.
"""

from __future__ import annotations

import sys
from types import TracebackType

from nsparse.data.format import DataFormatError
from nsparse.opensearch.client import AuthenticationFailed, CertificateUntrusted, ClusterUnreachable
from nsparse.params import ParamsError

USER_FAULTS = (ParamsError, DataFormatError, ClusterUnreachable, AuthenticationFailed, CertificateUntrusted)

_previous_hook = sys.excepthook


def _report_user_fault(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, USER_FAULTS):
        print(f"error: {error}", file=sys.stderr)
        return
    _previous_hook(kind, error, traceback)


sys.excepthook = _report_user_fault
