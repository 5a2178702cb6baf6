"""The one error type users see: what is wrong and what to do, in one sentence."""

from __future__ import annotations


class ResnetsError(ValueError):
    """Bad input from a user (a name, a file, an option).

    The command line prints its message as one line and exits non-zero; from Python it is an ordinary
    ``ValueError`` so callers can catch it the usual way.
    """
