"""``python -m harness.cli``: the ``ladder`` command."""

from harness.cli import app

app()
