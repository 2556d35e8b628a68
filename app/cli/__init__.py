"""The `keel` command line (SPEC 6): one Typer app, one module per command group.

Exit codes: 0 success, 1 a check failed or something was refused, 2 usage or
configuration. Every listing takes `--json`.
"""

from app.cli.main import cli, main

__all__ = ["cli", "main"]
