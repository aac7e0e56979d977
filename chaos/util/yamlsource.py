"""YAML that remembers where each value came from, so errors can name file and line."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml
import yaml.composer
import yaml.constructor
import yaml.parser
import yaml.reader
import yaml.resolver
import yaml.scanner
from pydantic import BaseModel, TypeAdapter, ValidationError

from chaos.errors import InputError, InputErrors
from chaos.util.modelerrors import FieldProblem, Part, field_problems

T = TypeVar("T", bound=BaseModel)
M = TypeVar("M")


@dataclass
class YamlDocument:
    """A parsed YAML file plus the node tree used to locate fields by path."""

    path: Path
    data: Any
    root: yaml.Node | None
    #: When parts of the data were cut out to check the rest (see `validate_all`): for a list, by
    #: its path in the file, the file's indices of the items left. Paths given to `line_of` and
    #: `error` are in the model's indices and come out in the file's.
    shifts: dict[tuple[Part, ...], list[int]] = field(default_factory=dict)

    def original(self, loc: Iterable[Any]) -> list[Any]:
        """A path in the validated model's indices as the same path in the file."""
        out: list[Any] = []
        for part in loc:
            kept = self.shifts.get(tuple(out))
            out.append(kept[part] if kept is not None and isinstance(part, int) and 0 <= part < len(kept) else part)
        return out

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """1-based line of the deepest node found along `loc` (keys and list indices)."""
        return self._line(self.original(loc))

    def _line(self, loc: list[Any]) -> int | None:
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
        loc = self.original(loc)
        return InputError(self.path, message, self._line(loc), ".".join(str(p) for p in loc))

    def declared(self, loc: Iterable[Any]) -> bool:
        """Whether the file itself has a value at `loc` (its own indices), valid or not."""
        node = self.data
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return False
        return True


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


#: Limits on every file a user gives chaosgate. Real experiments, stacks and policies are a few
#: KiB, nest under 10 levels and use a handful of aliases; these leave room for far larger ones
#: while keeping a hostile file (an alias bomb, thousands of nested brackets) to well under a second.
MAX_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_ALIASES = 200
MAX_NODES = 200_000
NESTED = f"nested deeper than {MAX_DEPTH} levels: the limit keeps parsing bounded"


class _Limit(yaml.MarkedYAMLError):
    """A file breaks one of the limits above (or repeats a key)."""

    def __init__(self, mark: yaml.Mark, problem: str):
        super().__init__(problem=problem, problem_mark=mark)


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's composer (events to nodes) bounded: depth, aliases, duplicate keys."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Limit(self.peek_event().start_mark, f"more than {MAX_ALIASES} aliases (*name): the limit "
                             "keeps alias expansion bounded")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Limit(self.peek_event().start_mark, NESTED)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                seen = first.setdefault((key.tag, key.value), key.start_mark.line)
                if seen != key.start_mark.line:
                    raise _Limit(key.start_mark, f"duplicate key {key.value!r} (first at line {seen + 1}): "
                                 "one of the two would be silently ignored")
        return node


class _CheckedConstructor(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor, with a value it cannot build (a date like 2030-13-01) an error at
    its line instead of a ValueError from deep inside it."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise _Limit(node.start_mark, f"invalid value {node.value!r}: {exc}"
                         if isinstance(node, yaml.ScalarNode) else f"invalid value: {exc}") from None


class _PythonLoader(_BoundedComposer, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                    _CheckedConstructor, yaml.resolver.Resolver):
    """PyYAML's pure-Python reader, scanner and parser under the bounded composer."""

    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _BoundedComposer.__init__(self)
        _CheckedConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


_BoundedLoader: type = _PythonLoader
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(_BoundedComposer, CParser, _CheckedConstructor, yaml.resolver.Resolver):
        """libyaml scans and parses, in C (~5x faster than PyYAML's Python reader, scanner and
        parser); the Python composer builds the nodes, so the same bounds hold."""

        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            _CheckedConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _BoundedLoader = _LibyamlLoader


def _expanded_size(root: yaml.Node) -> tuple[int, yaml.Node | None]:
    """Nodes the document has once aliases are expanded (capped), and a node found inside itself."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if key in active:
            raise RecursionError(node)
        active.add(key)
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else [])
        total = 1
        for child in children:
            total = min(total + size(child), MAX_NODES + 1)
        active.discard(key)
        memo[key] = total
        return total

    try:
        return size(root), None
    except RecursionError as exc:
        return 0, exc.args[0] if exc.args and isinstance(exc.args[0], yaml.Node) else root


def read_text(path: Path) -> str:
    """The file as text, within the size limit; binary and non-UTF-8 input refused with a line."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise InputError(path, f"larger than {MAX_BYTES // 1024} KiB: too large for a file chaosgate reads "
                         "(the limit keeps reading bounded)", 1)
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        raise InputError(path, f"a NUL byte at offset {at}: this is a binary file, not YAML", raw[:at].count(b"\n") + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                         raw[:exc.start].count(b"\n") + 1) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is harmless: drop it


def load_yaml(path: Path | str) -> YamlDocument:
    """Read and parse a YAML file within bounds (size, depth, aliases, expanded size, no duplicate
    keys, UTF-8 text); every problem is one InputError with a line."""
    path = Path(path)
    return parse_yaml(read_text(path), path)


def parse_yaml(text: str, path: Path | str) -> YamlDocument:
    """Parse YAML text within the same bounds as a file; `path` names where it came from in errors
    (a file, or e.g. "command line")."""
    path = Path(path)
    if len(text.encode()) > MAX_BYTES:
        raise InputError(path, f"larger than {MAX_BYTES // 1024} KiB: too large for text chaosgate reads", 1)
    loader, loader_class = None, _BoundedLoader
    try:
        loader = loader_class(text)  # its reader refuses control characters
        root = loader.get_single_node()
        if root is not None:
            nodes, looped = _expanded_size(root)
            if looped is not None:
                raise _Limit(looped.start_mark, "an alias refers to the node that contains it")
            if nodes > MAX_NODES:
                raise _Limit(root.start_mark, f"aliases expand the document past {MAX_NODES} nodes: "
                             "the limit keeps alias expansion bounded")
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem if isinstance(exc, _Limit) else f"invalid YAML: {exc.problem or exc.context}"
        if "maximum nesting depth" in what:  # libyaml's own bound (it scans ahead) met before ours
            what = NESTED
        raise InputError(path, what, line) from None
    except yaml.reader.ReaderError as exc:
        # libyaml counts the offset in UTF-8 bytes, PyYAML's reader in characters
        before = (text[:exc.position] if loader_class is _PythonLoader
                  else text.encode()[:exc.position].decode("utf-8", "ignore"))
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError(path, f"invalid YAML: character #x{char:04x} is not allowed (control characters are not)",
                         before.count("\n") + 1) from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"invalid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(path, data, root)


def validated(doc: YamlDocument, model: type[T], variables: Mapping[str, str], used: set[str] | None = None,
              keep: Iterable[str] = ()) -> T:
    """The document with `${VAR}` interpolated (top-level keys in `keep` left as written),
    validated as `model`; InputErrors located in the file, every one, when it does not fit."""
    value, _, errors = validate_all(doc, model, variables, used, keep)
    if errors or value is None:
        raise InputErrors(errors)
    return value


#: Rounds of cutting broken parts out before giving up on a model of the rest.
MAX_PRUNE_ROUNDS = 10


def validate_all(doc: YamlDocument, model: type[M], variables: Mapping[str, str], used: set[str] | None = None,
                 keep: Iterable[str] = ()) -> tuple[M | None, YamlDocument, list[InputError]]:
    """Validate as `validated` does, but report instead of raising: (the model, or None; the
    document to locate further errors with; every problem found).

    When the problems sit in parts that can be cut out (an unknown key, a list item, an entry of a
    mapping of names), they are cut out and the rest validated again, so that a caller can go on
    to check references in it: one pass reports every problem, not those of the first stage only.
    The document returned translates the model's list indices back to the file's."""
    from chaos.util.interpolate import InterpolationError, interpolate

    keep = set(keep)
    if not isinstance(doc.data, dict):
        raise InputError(doc.path, "expected a mapping of keys to values", 1)
    try:
        data = {k: (v if k in keep else interpolate(v, variables, used)) for k, v in doc.data.items()}
    except InterpolationError as exc:
        raise InputError(doc.path, str(exc)) from None
    data = copy.deepcopy(data)  # cut below, never in the document's own data
    adapter = _adapter(model)
    view = replace(doc, shifts={})
    errors: list[InputError] = []
    cut: list[list[Part]] = []  # items cut out (not unknown keys): what their absence may cause is not news
    for _ in range(MAX_PRUNE_ROUNDS):
        try:
            return adapter.validate_python(data), view, errors
        except ValidationError as exc:
            found = field_problems(exc, data, model)
        # What cutting an item out caused (an emptied list, a parent now missing a field) is cut
        # out in turn, but not reported: the item's own problem was.
        errors += [view.error(p.path, p.message) for p in found
                   if not any(_within(c, view.original(p.path)) for c in cut)]
        if any(p.prune is None for p in found):
            return None, view, errors
        targets = [p.prune for p in found if p.prune is not None]
        cut += [view.original(p.prune) for p in found if p.prune is not None and p.kind != "extra_forbidden"]
        _cut(data, targets, view)
    return None, view, errors


def _within(outer: list[Part], path: list[Part]) -> bool:
    """Whether `path` is `outer`, inside it, or above it (an artefact of cutting `outer` out)."""
    n = min(len(outer), len(path))
    return outer[:n] == path[:n]


def _cut(data: Any, targets: list[list[Part]], view: YamlDocument) -> None:
    """Remove each target path from `data` (later siblings first, so earlier paths stay valid),
    recording in `view.shifts` which of the file's list items remain."""
    unique = [t for t in targets if not any(o != t and o == t[:len(o)] for o in targets)]
    order = sorted({tuple(t) for t in unique}, key=lambda t: [(0, p, "") if isinstance(p, int) else (1, 0, str(p))
                                                             for p in t], reverse=True)
    for target in order:
        parent = data
        for part in target[:-1]:
            parent = parent[part]
        last = target[-1]
        if isinstance(parent, list) and isinstance(last, int):
            key = tuple(view.original(list(target[:-1])))
            kept = view.shifts.setdefault(key, list(range(len(parent))))
            del kept[last]
            del parent[last]
        elif isinstance(parent, dict):
            parent.pop(last, None)


def in_file_order(first: Path | str, problems: list[InputError]) -> list[InputError]:
    """Problems by file (`first`'s before the files it refers to) and line, each once: the order
    a reader fixes them in."""
    unique = list({str(p): p for p in problems}.values())
    files = list(dict.fromkeys([str(first), *(p.file for p in unique)]))
    return sorted(unique, key=lambda p: (files.index(p.file), p.line or 0))


_ADAPTERS: dict[Any, TypeAdapter] = {}


def _adapter(model: Any) -> TypeAdapter:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(model)
    return _ADAPTERS[model]


def pydantic_errors(doc: YamlDocument, exc: ValidationError, prefix: Iterable[Any] = (), model: Any = None,
                    data: Any = None) -> InputErrors:
    """Turn a pydantic ValidationError into located InputErrors, one per problem: paths as the file
    spells them, one member of a union, the allowed keys of a mapping. `data` is what was
    validated (default: the document's value at `prefix`), `model` its type when known."""
    prefix = list(prefix)
    if data is None:
        data = doc.data
        for part in prefix:
            data = data[part] if isinstance(data, (dict, list)) else None
    problems: list[FieldProblem] = field_problems(exc, data, model)
    return InputErrors([doc.error([*prefix, *p.path], p.message) for p in problems])
