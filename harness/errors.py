"""Errors that are the user's to fix, raised by the lower layers and shown by the CLI as one line (exit 2).

Imports nothing of the harness, so every layer (tasks, models, stages) can raise them.
"""

from __future__ import annotations

#: What to do about a dataset or model that is not on this machine; named in every MissingInput message.
FETCH_HINT = ("run `ladder fetch --profile production` with the network on (it caches the datasets and models and "
              "pins their revisions), or pass --data DIR with a local copy of the dataset; to try the harness "
              "without any download, use --profile demo")


class MissingInput(RuntimeError):
    """A dataset or model a command needs is not here (offline and not fetched, or a wrong path). The message
    names what is missing and what to run."""


class MissingDependency(MissingInput):
    """A package a model needs is not installed here (e.g. torchvision, for a checkpoint's stock video processor).
    The message names the package and where it is installed."""
