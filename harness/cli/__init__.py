"""The ``ladder`` command line: one module per command group, all registered on one typer app.

- :mod:`harness.cli.common`: the app, console, exit codes, shared option aliases and input helpers;
- :mod:`harness.cli.protocol`: runs on this machine (tasks, tiny, eval, export-lm-eval, demo, audit, run, fetch);
- :mod:`harness.cli.pack`: audit packs (pack build, pack verify);
- :mod:`harness.cli.queue`: the queue and store (submit, worker, execute, status, cancel, migrate, token);
- :mod:`harness.cli.reports`: reports over the store (compare);
- :mod:`harness.cli.printing`: the tables and findings the commands print;
- :mod:`harness.cli.recording`: storing what the protocol commands made here;
- :mod:`harness.cli.web`: serve and export-site, the only module that imports the leaderboard.
"""

from harness.cli import pack, protocol, queue, reports, web  # noqa: F401  (each registers its commands, in this order)
from harness.cli.common import EXIT_BAD_INPUT, EXIT_BLOCKED, EXIT_INTERRUPTED, app
from harness.cli.printing import findings_json, print_findings, print_run_table
from harness.cli.recording import record_runs

__all__ = ["EXIT_BAD_INPUT", "EXIT_BLOCKED", "EXIT_INTERRUPTED", "app", "findings_json", "print_findings",
           "print_run_table", "record_runs"]
