"""The marker of faults in the user's input or environment, as opposed to faults in nsparse's code."""


class UserFault(Exception):
    """A fault the user fixes (a parameter, a data file, the cluster's address, certificate or credentials).

    Its message names what to fix, so the stages (`stages/__init__.py`) print it as one
    line without a traceback. It lives in its own tiny module so that recognising such
    faults imports nothing else.
    """
