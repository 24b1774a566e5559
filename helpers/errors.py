"""The one exception type that means "the user can fix this": it is shown as one clear message."""


class UserError(Exception):
    """A problem with the user's input, files or machine, explained in the message; no traceback needed."""
