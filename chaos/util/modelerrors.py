"""Pydantic's validation errors as a reader of the YAML file sees them.

Pydantic locates an error by its own path, which mixes the keys a user wrote with the names of
union members it tried (`surfaces.dict[str,Surface].runs…`, `faults.0.network.latency…`) and
reports every member of a union that failed (`surfaces.str: Input should be a valid string` for a
mapping of surfaces). Here each error becomes a `FieldProblem`: the path of keys and indices as
written in the file, one union member (the one the value's shape chose), a message that lists the
allowed keys or known names, and where the value could be cut out so that the rest of the file can
still be checked.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

#: A part of a path in a file: a mapping key or a list index.
Part = str | int


@dataclass
class FieldProblem:
    """One problem at a path of the file as written."""

    path: list[Part]
    message: str
    #: The path of the smallest thing that can be cut out of the data so that it validates without
    #: this problem (an unknown key, a list item, an entry of a free-form mapping), or None when
    #: cutting would hide or invent another problem (a required field, a field with a default).
    prune: list[Part] | None = None
    kind: str = ""


@dataclass
class _Walked:
    path: list[Part] = field(default_factory=list)
    #: (index into path where the union stood, tag pydantic gave, the member it names, the value there)
    unions: list[tuple[int, str, Any, Any]] = field(default_factory=list)
    #: lengths of path prefixes that end in a list item or a free-form mapping's entry
    elements: list[int] = field(default_factory=list)
    parent: Any = None  # the type the last part is a key of
    target: Any = None  # the type at the end of the path
    value: Any = None   # the data at the end of the path (when it exists)


def field_problems(exc: ValidationError, data: Any, model: Any) -> list[FieldProblem]:
    """Every error of `exc` (from validating `data` as `model`, a type form) as a FieldProblem."""
    walked = [(err, _walk(err, data, model)) for err in exc.errors()]
    chosen: list[tuple[ErrorDetails, _Walked]] = []
    collapsed: dict[tuple[Part, ...], FieldProblem] = {}
    groups = _union_groups(walked)
    for err, w in walked:
        verdict = _choose(w, groups)
        if verdict is True:
            chosen.append((err, w))
        elif isinstance(verdict, tuple):
            key, members, value, doc = verdict
            collapsed.setdefault(key, FieldProblem(list(key), _shape_message(members, value, doc),
                                                   _prune_at(w, len(key)), "type"))
    problems = [_problem(err, w) for err, w in chosen] + list(collapsed.values())
    unique: dict[tuple[tuple[Part, ...], str], FieldProblem] = {}
    for p in problems:
        unique.setdefault((tuple(p.path), p.message), p)
    return list(unique.values())


# --- walking a pydantic location along the data and the type ------------------------------------------
def _walk(err: ErrorDetails, data: Any, model: Any) -> _Walked:
    w = _Walked()
    node, tp, present = data, model, True
    loc = list(err["loc"])
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        core, _ = _strip(_optional(tp))
        if _is_union(core) and not (present and _has(node, part)):
            member = _member(core, tp, str(part))
            w.unions.append((len(w.path), str(part), member, node))
            tp = member
            continue
        if present and _has(node, part):
            if _is_collection(core) or (core is None and isinstance(node, list)):
                w.elements.append(len(w.path) + 1)
            w.parent = tp
            w.path.append(part)
            node = node[part]
            tp = _child_type(core, part)
        elif last and err["type"] == "missing" or not present:
            w.parent = tp
            w.path.append(part)
            present = False
            tp = _child_type(core, part)
        else:  # a member's name pydantic put in its location (a union not seen in the type)
            w.unions.append((len(w.path), str(part), None, node))
    w.target, w.value = tp, node if present else None
    return w


def _optional(tp: Any) -> Any:
    """X for `X | None`: pydantic names no member there (None is allowed, not tried)."""
    core, _ = _strip(tp)
    if _is_union(core):
        members = [m for m in typing.get_args(core) if m is not type(None)]
        if len(members) == 1:
            return members[0]
    return tp


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _strip(tp: Any) -> tuple[Any, str | None]:
    """The type under Annotated[...] and the discriminator its metadata names, if any."""
    discriminator = None
    while typing.get_origin(tp) is typing.Annotated:
        for meta in getattr(tp, "__metadata__", ()):
            if isinstance(meta, FieldInfo) and isinstance(meta.discriminator, str):
                discriminator = meta.discriminator
        tp = typing.get_args(tp)[0]
    return tp, discriminator


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_collection(tp: Any) -> bool:
    return typing.get_origin(tp) in (list, tuple, set, frozenset, dict, Sequence) or tp in (list, dict)


def _model_field(model: type[BaseModel], key: Any) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _child_type(tp: Any, part: Any) -> Any:
    """The type of `tp`'s member `part` (a field, an item, an entry), or None when not known."""
    if _is_model(tp):
        info = _model_field(tp, part)
        if info is None:
            return None
        # A field's own discriminator lives on its FieldInfo, not in its annotation.
        if isinstance(info.discriminator, str):
            return typing.Annotated[info.annotation, FieldInfo(discriminator=info.discriminator)]
        return info.annotation
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, set, frozenset, Sequence) and args:
        return args[0]
    if origin is tuple and args:
        return args[0] if len(args) == 2 and args[1] is Ellipsis else args[min(int(part), len(args) - 1)]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _member(union: Any, annotated: Any, tag: str) -> Any:
    """The member of `union` that pydantic's `tag` names (a class, `str`, a discriminator's value)."""
    _, discriminator = _strip(annotated)
    for member in typing.get_args(union):
        core, _ = _strip(member)
        if _is_model(core):
            if core.__name__ == tag:
                return member
            info = _model_field(core, discriminator) if discriminator else None
            if info is not None and tag in typing.get_args(info.annotation):
                return member
        elif _tag_name(member) == tag:
            return member
    return None


def _tag_name(tp: Any) -> str | None:
    """The name pydantic gives a union member in an error's location (str, list[str], dict[str,X])."""
    core, _ = _strip(tp)
    if core is type(None):
        return "none"
    if _is_model(core):
        return core.__name__
    if isinstance(core, type):
        return core.__name__
    origin, args = typing.get_origin(core), typing.get_args(core)
    if origin in (list, dict, set, tuple) and args:
        inner = [_tag_name(a) for a in args]
        return None if None in inner else f"{origin.__name__}[{','.join(typing.cast(list[str], inner))}]"
    return None


# --- choosing one union member -----------------------------------------------------------------------
def _union_groups(walked: list[tuple[ErrorDetails, _Walked]]) -> dict[tuple[Part, ...], dict[str, Any]]:
    """For each place a union stood: every member tag errors were reported for, and its member type."""
    groups: dict[tuple[Part, ...], dict[str, Any]] = {}
    for _, w in walked:
        for at, tag, member, _value in w.unions:
            groups.setdefault(tuple(w.path[:at]), {})[tag] = member
    return groups


def _choose(w: _Walked, groups: dict[tuple[Part, ...], dict[str, Any]]) -> bool | tuple | None:
    """True: keep this error; None: drop it (another member fits the value better); a tuple: no
    member fits the value's shape, say so once for the place (key, members, value, description)."""
    for at, tag, _, value in w.unions:
        key = tuple(w.path[:at])
        tags = groups[key]
        if len(tags) < 2:
            continue  # a discriminated union: pydantic tried the one member the tag chose
        fitting = [t for t, m in tags.items() if _fits(t, m, value)]
        if not fitting:
            return key, list(tags.items()), value, _description(w, at)
        if tag not in fitting:
            return None
    return True


def _fits(tag: str, member: Any, value: Any) -> bool:
    """Whether `value`'s shape is what this union member takes (unknown: assume it does)."""
    core, _ = _strip(member)
    shape = _shape(core) if member is not None else _shape_of_tag(tag)
    if shape is None:
        return True
    return _shape_of_value(value) in shape


def _shape(core: Any) -> set[str] | None:
    if core is type(None):
        return {"null"}
    if _is_model(core) or core is dict or typing.get_origin(core) is dict:
        return {"mapping"}
    if core in (list, tuple) or typing.get_origin(core) in (list, tuple, set, Sequence):
        return {"list"}
    if core is str:
        return {"string"}
    if core is bool:
        return {"boolean"}
    if core in (int, float):
        return {"number"}
    if typing.get_origin(core) is Literal:
        return {_shape_of_value(v) for v in typing.get_args(core)}
    return None


def _shape_of_tag(tag: str) -> set[str] | None:
    simple = {"str": "string", "int": "number", "float": "number", "bool": "boolean", "none": "null"}
    if tag in simple:
        return {simple[tag]}
    if tag.startswith(("list[", "tuple[", "set[")):
        return {"list"}
    if tag.startswith("dict[") or (tag[:1].isupper() and tag.isidentifier()):
        return {"mapping"}
    return None


def _shape_of_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else "value"


_ARTICLE = {"string": "a string", "number": "a number", "boolean": "true or false", "null": "null",
            "list": "a list", "mapping": "a mapping", "value": "a value"}


def _shape_message(members: list[tuple[str, Any]], value: Any, description: str) -> str:
    shapes: list[str] = []
    for tag, member in members:
        core, _ = _strip(member)
        found = _shape(core) if member is not None else _shape_of_tag(tag)
        for s in sorted(found or {"value"}):
            if _ARTICLE[s] not in shapes:
                shapes.append(_ARTICLE[s])
    wanted = " or ".join([", ".join(shapes[:-1]), shapes[-1]] if len(shapes) > 2 else shapes)
    about = f" ({description})" if description else ""
    return f"must be {wanted}{about}, not {_ARTICLE[_shape_of_value(value)]}"


def _description(w: _Walked, at: int) -> str:
    """The description of the field a union stood at, when its model gives one."""
    parent, _ = _strip(_optional(w.parent))
    if at == 0 or not _is_model(parent) or at != len(w.path):
        return ""
    info = _model_field(parent, w.path[at - 1])
    return (info.description or "") if info else ""


# --- messages ----------------------------------------------------------------------------------------
def _problem(err: ErrorDetails, w: _Walked) -> FieldProblem:
    kind = err["type"]
    path = list(w.path)
    if kind == "extra_forbidden":
        return FieldProblem(path, _unknown_key(path[-1], _keys(w.parent)), path, kind)
    if kind == "missing":
        return FieldProblem(path, "required field is missing", _prune_at(w, len(path)), kind)
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "")).strip("'")
        known = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        known = known or _discriminator_values(w.target, discriminator)
        if kind == "union_tag_not_found" or ctx.get("tag") in (None, ""):
            message = "required field is missing" + (f" (one of: {', '.join(known)})" if known else "")
        else:
            message = unknown_name(discriminator, str(ctx["tag"]), known)
        return FieldProblem([*path, discriminator] if discriminator else path, message,
                            _prune_at(w, len(path)), kind)
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return FieldProblem(path, message, _prune_at(w, len(path)), kind)


def _keys(tp: Any) -> list[str]:
    core, _ = _strip(_optional(tp))
    if not _is_model(core):
        return []
    return [info.alias or name for name, info in core.model_fields.items()]


def _discriminator_values(tp: Any, discriminator: str) -> list[str]:
    core, _ = _strip(tp)
    values: list[str] = []
    for member in typing.get_args(core) if _is_union(core) else ():
        m, _ = _strip(member)
        info = _model_field(m, discriminator) if _is_model(m) else None
        values += [str(v) for v in typing.get_args(info.annotation)] if info else []
    return values


def _unknown_key(key: Part, allowed: list[str]) -> str:
    if not allowed:
        return "unknown field"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint} (allowed: {', '.join(allowed)})"


def unknown_name(what: str, name: str, known: Iterable[str]) -> str:
    """'unknown surface 'telemetri'; did you mean 'telemetry'? (known: …)': a name that names nothing."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (known: {', '.join(known) or 'none'})"


def _prune_at(w: _Walked, length: int) -> list[Part] | None:
    """The innermost list item or free-form entry at or above path[:length]: what can be cut out."""
    inside = [n for n in w.elements if n <= length]
    return list(w.path[:inside[-1]]) if inside else None
