"""The one exception type that the command-line entry points turn into a one-line error."""


class UserError(ValueError):
    """Bad input from the user: a bad path, an empty dataset, an unknown option.

    Entry points print ``error: <message>`` on one line and exit with status 2, no
    traceback. The message says what is wrong and what to do about it.
    """
