"""The one exception type a user can cause: bad data, bad config, a missing file."""


class StepstoneError(Exception):
    """A problem the user can fix. The message says what is wrong and how to fix it."""
