"""The one exception type for mistakes a user can fix.

The CLI prints a `UserError` as a short message with its hint and exits non-zero, without a
stack trace (`--debug` shows it). Anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input: a config, a file, a model folder. `hint` says what to do about it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self):  # pickled whole (e.g. out of a worker process), hint included
        return (type(self), (self.message, self.hint))

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"
