"""The one exception type that means "the user can fix this": it is shown as one clear message; and its
warning, which a command shows as one line too."""
import warnings


class UserError(Exception):
    """A problem with the user's input, files or machine, explained in the message; no traceback needed."""


class Notice(UserWarning):
    """Something the user should know that does not stop the command (e.g. data that differ from the official
    release); a command shows it as one line, "warning: ...", without the line of our code that raised it."""


def run_command(body) -> int:
    """Run a command-line entry point's body; a UserError becomes one line on stderr and exit status 2."""
    import sys
    default = warnings.formatwarning

    def one_line(message, category, *where, **more):
        return f"warning: {message}\n" if issubclass(category, Notice) else default(message, category, *where, **more)
    warnings.formatwarning = one_line
    try:
        body()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = default
    return 0


def whole_number(name: str, text, minimum: int) -> int:
    """A make variable that must be a whole number of at least `minimum` (e.g. WORKERS=2): one clear error otherwise."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise UserError(f"{name} must be a whole number of at least {minimum}, got {name}={text}")
    return value
