"""YAML that remembers where each value came from, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chaos.errors import InputError, InputErrors


T = TypeVar("T", bound=BaseModel)


@dataclass
class YamlDocument:
    """A parsed YAML file plus the node tree used to locate fields by path."""

    path: Path
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """1-based line of the deepest node found along `loc` (keys and list indices)."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line

    def error(self, loc: Iterable[Any], message: str) -> InputError:
        """An InputError at the field `loc` of this document."""
        loc = list(loc)
        return InputError(self.path, message, self.line_of(loc), ".".join(str(p) for p in loc))


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                # An unknown key's own line is more useful than its value's.
                return value if not isinstance(value, yaml.ScalarNode) else _KeyLine(key, value)
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]
    return None


class _KeyLine(yaml.ScalarNode):
    """A scalar value located at its key's line (the line a reader looks at)."""

    def __init__(self, key: yaml.Node, value: yaml.ScalarNode):
        super().__init__(value.tag, value.value, key.start_mark, value.end_mark, value.style)


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse a YAML file; a missing file or bad syntax is an InputError with a line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(path, f"invalid YAML: {exc.problem or exc.context}", line) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"invalid YAML: {exc}") from None
    return YamlDocument(path, data, root)


def validated(doc: YamlDocument, model: type[T], variables: Mapping[str, str], used: set[str] | None = None,
              keep: Iterable[str] = ()) -> T:
    """The document with `${VAR}` interpolated (top-level keys in `keep` left as written),
    validated as `model`; InputError(s) located in the file when it does not fit."""
    from chaos.stack.interpolate import InterpolationError, interpolate

    keep = set(keep)
    try:
        data = {k: (v if k in keep else interpolate(v, variables, used)) for k, v in doc.data.items()}
    except InterpolationError as exc:
        raise InputError(doc.path, str(exc)) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise pydantic_errors(doc, exc) from None


def pydantic_errors(doc: YamlDocument, exc: Any, prefix: Iterable[Any] = ()) -> InputErrors:
    """Turn a pydantic ValidationError into located InputErrors, one per problem."""
    errors = []
    for err in exc.errors():
        loc = [*prefix, *[p for p in err["loc"] if not _is_union_tag(p)]]
        errors.append(doc.error(loc, _message(err)))
    return InputErrors(errors)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the discriminator's value (e.g. "network.latency") into the location;
    # a reader of the YAML file never wrote that key.
    return isinstance(part, str) and ("." in part or part.startswith("function-"))


def _message(err: dict) -> str:
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    return err.get("msg", "invalid value").removeprefix("Value error, ")
