"""The one exception type that means "the user can fix this": it is shown as one clear message."""


class UserError(Exception):
    """A problem with the user's input, files or machine, explained in the message; no traceback needed."""


def run_command(body) -> int:
    """Run a command-line entry point's body; a UserError becomes one line on stderr and exit status 2."""
    import sys
    try:
        body()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
