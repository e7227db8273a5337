"""One exception type for everything a user can get wrong.

Entry points (pytest options, train.py, the data and report commands) catch it and
print its message as a single line with a non-zero exit, never a traceback.
"""


class UserError(Exception):
    """Bad input or configuration; the message is the whole explanation."""


def os_error_text(exc: OSError) -> str:
    """An OSError as one line: its reason and, where known, the file ("Read-only file system (x)")."""
    return f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}"
