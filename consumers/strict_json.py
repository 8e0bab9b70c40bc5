"""A strict, bounded JSON reader for what strangers send us.

Python's ``json`` module accepts documents that later break something far
from the door: nesting deep enough to exhaust the interpreter's recursion
limit, duplicate keys (the last silently wins, so two readers may disagree on
what a message said), NUL characters that PostgreSQL refuses in text, lone
surrogates that cannot be encoded as UTF-8 at all. Each limit here is checked
once, at intake, and reported as a field path and a rule, never a value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.commands import field_name
from domain.personal import text_problem

MAX_DEPTH = 16
"""Objects and arrays nested deeper than this are refused (the contract needs 5)."""
MAX_FIELDS = 200
"""Members of one object, or items of one array."""
MAX_STRING = 8000
"""Characters of one string (the longest contract field, a note, is 4,000)."""
MAX_NUMBER = 40
"""Characters of one number: no contract number needs more, and Python's int
conversion raises (rather than refusing cleanly) past 4,300 digits."""


class JsonRefusedError(ValueError):
    """The document is not acceptable JSON; ``field`` and ``rule`` say where and why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


class _DuplicateKeyError(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKeyError
    return document


@dataclass(frozen=True)
class Limits:
    depth: int = MAX_DEPTH
    fields: int = MAX_FIELDS
    string: int = MAX_STRING


def _path(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    # A member name is the sender's text: quote it only if it looks like a field name.
    name = field_name(key)
    return f"{prefix}.{name}" if prefix else name


def check(document: Any, limits: Limits = Limits(), root: str = "") -> None:
    """Refuse a parsed document that breaks a limit; iterative, so depth costs no stack.

    Each value's path is kept as a link to its parent's and written out only
    for an error: building every member's path string was half this check's cost.
    """
    stack: list[tuple[Any, int, Any]] = [(None, 0, document)]
    while stack:
        where, depth, value = stack.pop()
        if isinstance(value, str):
            if len(value) > limits.string:
                msg = f"text longer than {limits.string} characters"
                raise JsonRefusedError(_written(where, root), "too_long", msg)
            problem = text_problem(value)
            if problem:
                raise JsonRefusedError(_written(where, root), "bad_text", problem)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= limits.depth:
            msg = f"nested more than {limits.depth} levels deep"
            raise JsonRefusedError(_written(where, root), "too_deep", msg)
        if len(value) > limits.fields:
            msg = f"more than {limits.fields} members"
            raise JsonRefusedError(_written(where, root), "too_many_fields", msg)
        if isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    msg = f"a member name: {problem}"
                    raise JsonRefusedError(_written(where, root), "bad_text", msg)
                stack.append(((where, key), depth + 1, item))
        else:
            stack.extend(((where, i), depth + 1, item) for i, item in enumerate(value))


def _written(where: Any, root: str) -> str:
    """A path kept as (parent, key) links, as text: ``child.carers[0].name``."""
    keys: list[str | int] = []
    while where is not None:
        where, key = where
        keys.append(key)
    path = root
    for key in reversed(keys):
        path = _path(path, key)
    return path


def loads(raw: bytes | str, limits: Limits = Limits(), root: str = "") -> Any:
    """Parse strictly: UTF-8, no duplicate keys, no NaN/Infinity, within ``limits``."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonRefusedError(root, "not_utf8", "not UTF-8") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except _NumberError as exc:
        raise JsonRefusedError(root, "bad_number", str(exc)) from None
    except _DuplicateKeyError:
        msg = "an object has the same member twice"
        raise JsonRefusedError(root, "duplicate_key", msg) from None
    except RecursionError:
        msg = f"nested more than {limits.depth} levels deep"
        raise JsonRefusedError(root, "too_deep", msg) from None
    except json.JSONDecodeError as exc:
        msg = f"not JSON (line {exc.lineno} column {exc.colno})"
        raise JsonRefusedError(root, "not_json", msg) from None
    except ValueError:  # anything else the parser refuses: never let it escape as a crash
        raise JsonRefusedError(root, "not_json", "not acceptable JSON") from None
    check(document, limits, root)
    return document


class _NumberError(Exception):
    pass


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER:
        msg = f"a number longer than {MAX_NUMBER} characters"
        raise _NumberError(msg)
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER:
        msg = f"a number longer than {MAX_NUMBER} characters"
        raise _NumberError(msg)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        msg = "a number too large to represent"
        raise _NumberError(msg)
    return value


def _refuse_constant(name: str) -> Any:
    msg = f"{name} is not JSON"
    raise json.JSONDecodeError(msg, name, 0)
