"""Deterministic sample values of every event type, and hypothesis strategies for them."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import msgspec
from hypothesis import strategies as st

from nvr.domain.events import Event

_FIXED: dict[Any, Any] = {int: 1_795_478_400_000_000_000, float: 0.5, str: "x", bool: True, bytes: b"\x01"}


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def sample_value(tp: Any) -> Any:
    """A fixed, valid value of type `tp` with every optional part filled in."""
    origin = get_origin(tp)
    if tp in _FIXED:
        return _FIXED[tp]
    if origin is Literal:
        return get_args(tp)[0]
    if origin in (Union, types.UnionType):
        return sample_value(next(a for a in get_args(tp) if a is not type(None)))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return (sample_value(args[0]),)
        return tuple(sample_value(a) for a in args)
    if origin is dict:
        k, v = get_args(tp)
        return {sample_value(k): sample_value(v)}
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return tp(**{f.name: sample_value(_hints(tp)[f.name]) for f in msgspec.structs.fields(tp)})
    raise TypeError(f"no sample for {tp!r}")


def sample_event(cls: type[Event]) -> Event:
    value = sample_value(cls)
    assert isinstance(value, Event)
    return value


def strategy(tp: Any) -> st.SearchStrategy[Any]:
    """Values of `tp` that survive msgpack and JSON: finite floats, 64-bit ints."""
    origin = get_origin(tp)
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=20)
    if tp is bool:
        return st.booleans()
    if tp is bytes:
        return st.binary(max_size=20)
    if tp is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy(a) for a in get_args(tp)))
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy(args[0]), max_size=4).map(tuple)
        return st.tuples(*(strategy(a) for a in args))
    if origin is dict:
        k, v = get_args(tp)
        return st.dictionaries(strategy(k), strategy(v), max_size=4)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = _hints(tp)
        return st.builds(tp, **{f.name: strategy(hints[f.name]) for f in msgspec.structs.fields(tp)})
    raise TypeError(f"no strategy for {tp!r}")
