"""One exception type for everything a user can get wrong.

Entry points (pytest options, train.py, the data and report commands) catch it and
print its message as a single line with a non-zero exit, never a traceback.
"""


class UserError(Exception):
    """Bad input or configuration; the message is the whole explanation."""
