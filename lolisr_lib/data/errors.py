"""The one exception of the data package: a dataset on disk that is missing, incomplete or malformed."""

from lolisr_lib.errors import UserError


class DatasetError(UserError):
    """A RELLISUR copy with a problem: the message names the file and says what to do."""
