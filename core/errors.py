"""The one error type a user mistake raises; the CLI prints its message on one line, exit 2.

Anything that is the user's to fix - an unknown name, a misspelt config key, a data set
that cannot serve the plan, a damaged input file - raises a subclass of
:class:`ModelprintError` with a message that names the offending value and the valid ones.
Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ModelprintError(Exception):
    """A mistake in the user's input (config, data, files); the message says what to change."""

    #: the CLI's exit status for a user mistake (argparse's own convention)
    exit_code = 2


class ConfigError(ModelprintError, ValueError):
    """A config file or argument that cannot be used: unknown key, wrong type, bad value."""


class DataError(ModelprintError, ValueError):
    """A data set that cannot serve the plan as it is: a split with no usable image, a generator
    in two roles, an image in two splits, a row without a label."""


class AbsentSplitError(DataError):
    """A split the data set's layout does not have at all (no unseen-seed generators, say); the
    runner skips the protocols' figures on it and names it in the run's record."""


class MissingWeightsError(ModelprintError, FileNotFoundError):
    """Pretrained weights a method needs are not here and cannot be fetched; the message says how
    to get them."""
