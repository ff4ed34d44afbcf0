"""The UI's form helpers: where in a workflow document a message points."""

from __future__ import annotations

import pytest
import yaml

from hookhub.ui.forms import line_of, yaml_error_line

DOCUMENT = """\
name: hello
start: check
nodes:
  - id: check
    type: condition
    then: greet
  - id: greet
    type: response
    body: "hi"
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (["start"], 2),
        (["nodes", "greet", "body"], 9),  # a node by its id
        (["nodes", "0", "then"], 6),  # or by its index
        (["nodes", "greet", "nope"], 7),  # the deepest part found
        (["trigger", "mode"], None),
        ([], None),
    ],
)
def test_line_of_a_path(path: list[str], line: int | None) -> None:
    assert line_of(DOCUMENT, path) == line


def test_line_of_unparsable_text_and_of_a_yaml_error() -> None:
    assert line_of("a: [1", ["a"]) is None
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load("x: 1\na: b: c\n")
    assert yaml_error_line(caught.value) == 2
