"""User-facing errors: raised before any heavy work, printed by the CLI as one line (exit code 2)."""


class InputError(ValueError):
    """Bad user input: which file or field, what was found, what was expected."""
