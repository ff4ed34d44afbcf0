"""MkDocs hook: builds reference/cli.md from the Typer app on every build.

Every command and subcommand is read from the click command tree that Typer builds, so the
page shows exactly what `--help` shows: usage, help text, arguments and options with defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from hookhub.cli import app

PAGE = "reference/cli.md"

INTRO = """\
# Command line reference

This page is generated from the `hookhub` command itself, so it lists every command and option
of this version, as `hookhub COMMAND --help` prints them. Flags (options without a value) are
off unless given. The guides are [the command line](../cli.md),
[operations](../operations.md) and [config as code](../config-as-code.md).
"""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated CLI reference page to the site."""
    files.append(File.generated(config, PAGE, content=render()))
    return files


def render() -> str:
    """The whole reference page as Markdown."""
    root = typer.main.get_command(app)
    context = root.context_class(root, info_name="hookhub")
    sections = [INTRO]
    sections.extend(
        render_command(command, ctx) for command, ctx in walk(command=root, ctx=context)
    )
    return "\n".join(sections)


def walk(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """The command and every command below it, depth first, in the app's order."""
    yield command, ctx
    # Groups list their subcommands; plain commands have no list_commands.
    for name in getattr(command, "list_commands", lambda _: [])(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            yield from walk(sub, sub.context_class(sub, info_name=name, parent=ctx))


def render_command(command: Any, ctx: Any) -> str:
    """One command: a heading with its full name, usage, help and parameters."""
    depth = ctx.command_path.count(" ")
    heading = "#" * min(depth + 1, 4)
    # The root's heading would repeat the page title; it is the page's first section instead.
    lines = [f"{heading} {ctx.command_path}\n"] if depth else ["## Global options\n"]
    usage = command.get_usage(ctx).removeprefix("Usage: ")
    lines.append(f"```text\n{usage}\n```\n")
    if command.help:
        lines.append(f"{inspect.cleandoc(command.help)}\n")
    records = [param.get_help_record(ctx) for param in command.params if not param.hidden]
    shown = [record for record in records if record is not None]
    if shown:
        lines.append("| Argument or option | Description |")
        lines.append("| --- | --- |")
        lines.extend(f"| `{names}` | {escape_cell(text)} |" for names, text in shown)
        lines.append("")
    return "\n".join(lines)


def escape_cell(text: str) -> str:
    """Help text that fits in one table cell."""
    return " ".join(text.split()).replace("|", "\\|")
