"""Rich consoles shared by the CLI and the demo: Rich for people, plain JSON for `--json`."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# Piped output (CI logs, `| less`) gets room for the wide tables instead of 80 columns.
console = Console() if Console().is_terminal else Console(width=140)
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
