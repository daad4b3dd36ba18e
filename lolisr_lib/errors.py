"""Exceptions that describe a problem with the user's input.

Each one carries a message that names the file or argument at fault and says what to do. The command line
prints that message as one line and exits with status 2 instead of showing a traceback.
"""


class UserError(ValueError):
    """Bad input from the user: a path, an argument, a file. The message says what to do."""


class ConfigError(UserError):
    """An unknown preset, an unknown config field, or a value of the wrong kind."""


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated, corrupt, or made for another model or scale."""


class DatasetError(UserError):
    """A RELLISUR copy on disk that is missing, incomplete or malformed: the message names the file."""
