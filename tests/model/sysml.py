"""The MTConnect SysML model, read from `pymtconnect` (classes and enums generated from it), and the check
of the exporter's tables against it.

The model gives every EVENT type a class whose `result` annotation says what its value is: a generated
enum (a controlled vocabulary), `int`/`float` (a number), `bool` (a flag), `list` (three numbers:
ROTATION, TRANSLATION), or `str`/`List[str]`/nothing more specific than the `Event` base (text). SubType classes (`CompositionState_Action`,
`CloseChuck_Request`) refine the result of their type. Units are `UnitEnum` members, named with `_PER_`
and `_SQUARED` where the documents write `/` and `^2`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

_TYPE_REFERENCE = re.compile(r'cref="(?:EventEnum|InterfaceEventEnum)\.([A-Z0-9_]+)"')
_PACKAGES = ("pymtconnect.Classes.EventTypes", "pymtconnect.Classes.DataItemTypesForInterface")


@dataclass(frozen=True)
class Model:
    """What the model says, keyed by (type, subType); subType "" is the type itself."""

    vocabularies: dict[tuple[str, str], frozenset[str]]
    numbers: frozenset[tuple[str, str]]
    flags: frozenset[tuple[str, str]]
    vectors: frozenset[tuple[str, str]]
    units: frozenset[str]  # as documents write them: MILLIMETER/SECOND^2


@dataclass(frozen=True)
class Tables:
    """The exporter's tables (factorydash.vocabularies, factorydash.units), or a modified copy in a test."""

    vocabularies: Mapping[str, tuple[str, ...]]
    subtype_vocabularies: Mapping[tuple[str, str], tuple[str, ...]]
    numeric_types: frozenset[str]
    vector_types: frozenset[str]
    units: Mapping[str, object]
    not_exported: Mapping[tuple[str, str], str] = field(default_factory=dict)


def load_model() -> Model:
    vocabularies: dict[tuple[str, str], frozenset[str]] = {}
    numbers: set[tuple[str, str]] = set()
    flags: set[tuple[str, str]] = set()
    vectors: set[tuple[str, str]] = set()
    for cls in _event_classes():
        kind = _event_type(cls)
        if kind is None:
            continue  # a class of the package that is no EVENT type (e.g. an *_InstallDate property)
        result = typing.get_type_hints(cls).get("result")
        if "result" not in vars(cls).get("__annotations__", {}):
            continue  # inherits its type's result: already counted at the type
        key = (kind, _sub_type(cls))
        inner = _optional_inner(result)
        if inspect.isclass(inner) and issubclass(inner, Enum):
            vocabularies[key] = frozenset(member.value for member in inner)
        elif inner in (int, float):
            numbers.add(key)
        elif inner is bool:
            flags.add(key)
        elif inner is list:
            vectors.add(key)
    unit_enum = importlib.import_module("pymtconnect.Enums.DataTypes.UnitEnum").UnitEnum
    units = frozenset(member.value.replace("_PER_", "/").replace("_SQUARED", "^2") for member in unit_enum)
    return Model(vocabularies, frozenset(numbers), frozenset(flags), frozenset(vectors), units)


def _event_classes() -> list[type]:
    classes = []
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{module_info.name}")
            classes.extend(
                cls for cls in vars(module).values() if inspect.isclass(cls) and cls.__module__ == module.__name__
            )
    return classes


def _event_type(cls: type) -> str | None:
    """The MTConnect type of a class: its own docstring names it, or its base type's does (subTypes)."""
    for ancestor in cls.__mro__:
        found = _TYPE_REFERENCE.search(ancestor.__doc__ or "")
        if found:
            return found.group(1)
    return None


def _sub_type(cls: type) -> str:
    """`CompositionState_Action` -> ACTION (the module name carries the subType); "" for the type itself."""
    module = cls.__module__.rsplit(".", 1)[-1]
    if "_" not in module:
        return ""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", module.split("_", 1)[1]).upper()


def _optional_inner(annotation: object) -> object:
    arguments = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    inner = arguments[0] if len(arguments) == 1 else annotation
    if typing.get_args(inner) == (str,):
        return str  # List[str]: names (ACTIVE_AXES), text
    return typing.get_origin(inner) or inner


def check(model: Model, tables: Tables) -> list[str]:
    """Every model entry the tables do not handle, one line each; [] when everything is handled."""
    problems: list[str] = []

    def deliberately_not(kind: str, sub_type: str) -> bool:
        return (kind, sub_type) in tables.not_exported or (kind, "") in tables.not_exported

    for (kind, sub_type), values in sorted(model.vocabularies.items()):
        if deliberately_not(kind, sub_type):
            continue
        ours = tables.subtype_vocabularies.get((kind, sub_type)) if sub_type else None
        if ours is None:
            ours = tables.vocabularies.get(kind)
        if ours is None:
            problems.append(f"vocabulary {_name(kind, sub_type)} is not handled: {', '.join(sorted(values))}")
        elif missing := values - set(ours):
            problems.append(f"vocabulary {_name(kind, sub_type)} lacks {', '.join(sorted(missing))}")
    for kind, sub_type in sorted(model.numbers):
        if kind not in tables.numeric_types and not deliberately_not(kind, sub_type):
            problems.append(f"numeric EVENT type {_name(kind, sub_type)} is not handled")
    for kind, sub_type in sorted(model.flags):
        if not deliberately_not(kind, sub_type):
            problems.append(f"true/false EVENT type {_name(kind, sub_type)} is not handled")
    for kind, sub_type in sorted(model.vectors):
        if kind not in tables.vector_types and not deliberately_not(kind, sub_type):
            problems.append(f"vector EVENT type {_name(kind, sub_type)} is not handled")
    for unit in sorted(model.units - set(tables.units)):
        problems.append(f"unit {unit} is not handled")
    known = {*model.vocabularies, *model.numbers, *model.flags, *model.vectors}
    for kind, sub_type in sorted(tables.not_exported):
        if not any(key[0] == kind and (not sub_type or key[1] == sub_type) for key in known):
            problems.append(f"NOT_EXPORTED lists {_name(kind, sub_type)}, which the model does not define")
    return problems


def _name(kind: str, sub_type: str) -> str:
    return f"{kind} (subType {sub_type})" if sub_type else kind
