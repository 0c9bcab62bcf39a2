"""Every `nsparse` command and subcommand ends its --help with examples, and each example parses."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator

import pytest

from nsparse.cli import build_parser


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command path, parser) of every subcommand, depth first: ("node",), ("node", "up"), ..."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*path, name), subparser
                yield from commands(subparser, (*path, name))


COMMANDS = dict(commands(build_parser()))


def example_lines(epilog: str) -> list[list[str]]:
    """The example command lines of an epilog as argv lists: comments, `VAR=value` prefixes and `nsparse` dropped."""
    text = re.sub(r"\\\n\s*", "", epilog)  # continuation lines
    examples = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            words = words[1:]
        if words and words[0] == "nsparse":
            examples.append(words[1:])
    return examples


def test_the_walk_finds_the_nested_commands():
    assert {("evaluate",), ("node",), ("node", "up"), ("node", "logs"), ("bench", "scale")} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_help_ends_with_examples_that_parse(path: tuple[str, ...]):
    parser = COMMANDS[path]
    epilog = parser.epilog or ""
    assert epilog.lstrip().startswith("example"), f"nsparse {' '.join(path)} --help has no example epilog"
    assert isinstance(parser.formatter_class, type) and issubclass(
        parser.formatter_class, argparse.RawDescriptionHelpFormatter
    ), "examples must keep their lines"
    own = [argv for argv in example_lines(epilog) if tuple(argv[: len(path)]) == path]
    assert own, f"no example of `nsparse {' '.join(path)}` in its help"
    for argv in example_lines(epilog):
        build_parser().parse_args(argv)  # exits on a typo in an example
    assert epilog.splitlines()[1] in parser.format_help()  # printed line for line
