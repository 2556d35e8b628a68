"""Rewriting one `## ` section of BENCHMARKS.md, leaving the others as they are."""

from __future__ import annotations

from pathlib import Path

TITLE = "# Benchmarks\n\nEvery figure here is written by a script; each section says which.\n"


def write_section(path: Path, heading: str, lines: list[str]) -> None:
    text = path.read_text("utf-8") if path.exists() else TITLE
    body = heading + "\n\n" + "\n".join(lines).rstrip() + "\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip() + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + body + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.write_text(text, "utf-8")
