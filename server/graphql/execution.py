"""Execution with plain sub-trees completed inline.

graphql-core spends several microseconds on every value it completes: a path, a resolve info, the resolver call,
type checks, list and object completion. Most of a large answer (a lineage of hundreds of nodes, a page of
products) is made of Strawberry's "basic" fields, which only read an attribute of a Python object, and
`__typename`. Where a selection reaches nothing else (no resolver of ours, no arguments, no directives, no
deferred fragment), this executor completes it in one pass of compiled closures with the coercions graphql-core
applies.

Nothing inline can have effects, so anything irregular (null where the schema says non-null, a value a scalar
refuses, an object of an unexpected class) abandons the inline pass for that field and hands it to graphql-core's
own path, which then reports the error exactly as it always has. An interface or union whose type resolution the
schema defines itself (`resolve_type`, an `is_type_of` of its types) is left to graphql-core too, as is everything
when the installed Strawberry or graphql-core is not a tested release (`supported`). Measured in bench/bench_api.py.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, NamedTuple

from graphql import (
    GraphQLAbstractType,
    GraphQLID,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    GraphQLUnionType,
    Undefined,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.union import StrawberryUnion

if TYPE_CHECKING:
    from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
    from graphql.pyutils import Path

# The releases this module was written and tested against, as [lowest, first untested): it reaches into both
# libraries' internals, so any other release runs the stock executor. pyproject.toml pins the same ranges
# (tests/test_graphql_execution_versions.py checks that they agree and that the installed ones are supported).
TESTED_VERSIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "strawberry-graphql": ((0, 341, 2), (0, 342)),
    "graphql-core": ((3, 3, 2), (3, 4)),
}
# The type resolver Strawberry gives every union (a closure, recognised by its name)
_STRAWBERRY_UNION_RESOLVER = "StrawberryUnion.get_type_resolver.<locals>._resolve_union_type"

TYPENAME = "__typename"

Completer = Callable[[Any], Any]
Reader = Callable[[Any], Any]
# Values that are their own output, checked in the loop rather than through a completer (most leaves are these).
GENERAL, TEXT, INT32 = 0, 1, 2
# How one response key of a selection is answered inline: the attribute reader (None for `__typename`), the
# completer of its value, and which values pass unchanged.
Plan = dict[str, tuple[Reader | None, Completer, int]]
Fields = tuple[tuple[str, Reader | None, Completer, int], ...]


class _Selection(NamedTuple):
    field_set: object  # graphql-core's memoized field set, kept alive so that its id (the cache key) stays unique
    plan: Plan  # the response keys answered inline
    fields: Fields  # the same, as the tuples `_answer` loops over
    whole: bool  # every key of the selection is answered inline


class _Irregular(Exception):
    """The inline pass met something graphql-core must handle (and report) itself."""


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if value is None:
            raise _Irregular
        return inner(value)

    return complete


def _nullable(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        return None if value is None else inner(value)

    return complete


def _leaf(coerce: Callable[[Any], Any]) -> Completer:
    def complete(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Irregular
        return coerced

    return complete


def _text(coerce: Callable[[Any], Any]) -> Completer:
    """String and ID: a str is its own output value (what their coercion returns for it)."""
    general = _leaf(coerce)

    def complete(value: Any) -> Any:
        return value if type(value) is str else general(value)

    return complete


def _list(item: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _Irregular
        return [item(element) for element in value]

    return complete


def _answer(fields: Fields, type_name: str, source: Any) -> dict[str, Any]:
    """Every field answered for `source`; raises on anything irregular. Strings and Ints that are their own output
    are passed here, without a call: this loop is the hot path."""
    answer = {}
    for key, read, complete, passes in fields:
        value: Any = type_name if read is None else read(source)
        kind = type(value)
        if (kind is str and passes == TEXT) or (kind is int and passes == INT32 and -(2**31) <= value < 2**31):
            answer[key] = value
        else:
            answer[key] = complete(value)
    return answer


def _object(object_type: GraphQLObjectType, fields: Fields) -> Completer:
    is_type_of = object_type.is_type_of
    name = object_type.name

    def complete(value: Any) -> Any:
        if is_type_of is not None and not is_type_of(value, None):  # type: ignore[arg-type]
            raise _Irregular
        return _answer(fields, name, value)

    return complete


def _by_class(types: dict[type, tuple[str, Fields]]) -> Completer:
    """An abstract type's value, answered as the object type defined by its Python class."""

    def complete(value: Any) -> Any:
        found = types.get(type(value))
        if found is None or getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None:  # casts: Strawberry decides
            raise _Irregular
        return _answer(found[1], found[0], value)

    return complete


def _reader(object_type: GraphQLObjectType, details: FieldDetailsList) -> Reader | None:
    """The attribute reader behind a field, when that is all the field does."""
    node = details[0].node
    field = object_type.fields.get(node.name.value)
    if field is None or field.args or any(d.node.arguments or d.node.directives for d in details):
        return None
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if definition is not None and definition.default_resolver is getattr and definition.base_resolver is None:
        # what Strawberry's basic resolver does, without its two calls in between
        return operator.attrgetter(definition.python_name)
    return lambda source: resolve(source, None)


def _passes(field_type: GraphQLOutputType) -> int:
    named = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if named in (GraphQLString, GraphQLID):
        return TEXT
    return INT32 if named is GraphQLInt else GENERAL


def release_is_tested(distribution: str, release: str) -> bool:
    """Whether `release` of `distribution` is in its tested range (final releases only: pre-releases are not)."""
    parts = release.split(".")
    if not all(part.isdigit() for part in parts):
        return False
    lowest, untested = TESTED_VERSIONS[distribution]
    return lowest <= tuple(int(part) for part in parts) < untested


def supported() -> bool:
    """Whether the installed Strawberry and graphql-core are the releases the executor below was tested against."""
    try:
        return all(release_is_tested(distribution, version(distribution)) for distribution in TESTED_VERSIONS)
    except PackageNotFoundError:
        return False


def _resolved_by_class(abstract_type: GraphQLAbstractType) -> bool:
    """Whether Strawberry's own type resolution, which `_by_class` reproduces, decides the object type of this
    interface's or union's values; not so where the schema defines `resolve_type` (graphql-core then calls it)."""
    definition = (abstract_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if isinstance(abstract_type, GraphQLInterfaceType):
        return isinstance(definition, StrawberryObjectDefinition) and definition.resolve_type is None
    if isinstance(abstract_type, GraphQLUnionType):
        resolve_type = abstract_type.resolve_type
        return (
            isinstance(definition, StrawberryUnion)
            and getattr(resolve_type, "__module__", None) == StrawberryUnion.__module__
            and getattr(resolve_type, "__qualname__", "") == _STRAWBERRY_UNION_RESOLVER
        )
    return False


class InlineExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by the identity of graphql-core's memoized field sets, which live as long as this execution; each
        # entry keeps its key's object alive so the id cannot be reused meanwhile.
        self._selections: dict[tuple[str, int], _Selection] = {}
        self._completers: dict[tuple[str, int], tuple[object, Completer | None]] = {}

    def _selection(self, object_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Selection:
        """What of a selection can be answered inline."""
        key = (object_type.name, id(grouped_field_set))
        cached = self._selections.get(key)
        if cached is None:
            plan: Plan = {}
            for response_key, details in grouped_field_set.items():
                if details[0].node.name.value == TYPENAME:
                    plan[response_key] = (None, str, TEXT)
                    continue
                read = _reader(object_type, details)
                if read is None:
                    continue
                field_type = object_type.fields[details[0].node.name.value].type
                completer = self._completer(field_type, details)
                if completer is not None:
                    plan[response_key] = (read, completer, _passes(field_type))
            fields = tuple((response_key, *how) for response_key, how in plan.items())
            cached = _Selection(grouped_field_set, plan, fields, len(plan) == len(grouped_field_set))
            self._selections[key] = cached
        return cached

    def _completer(self, return_type: GraphQLOutputType, details: FieldDetailsList) -> Completer | None:
        """A completer for values of `return_type` selected by `details`, or None if any part needs graphql-core."""
        key = (str(return_type), id(details))
        cached = self._completers.get(key)
        if cached is None:
            cached = self._completers[key] = (details, self._compile(return_type, details))
        return cached[1]

    def _compile(self, return_type: GraphQLOutputType, details: FieldDetailsList) -> Completer | None:
        if isinstance(return_type, GraphQLNonNull):
            inner = self._completer(return_type.of_type, details)
            return _non_null(inner) if inner is not None else None
        if isinstance(return_type, GraphQLList):
            item = self._completer(return_type.of_type, details)
            return _nullable(_list(item)) if item is not None else None
        if is_leaf_type(return_type):
            coerce = return_type.coerce_output_value  # type: ignore[union-attr]
            return _nullable(_text(coerce) if return_type in (GraphQLString, GraphQLID) else _leaf(coerce))
        if is_object_type(return_type):
            fields = self._fields(return_type, details)  # type: ignore[arg-type]
            return _nullable(_object(return_type, fields)) if fields is not None else None  # type: ignore[arg-type]
        if is_abstract_type(return_type):
            if not _resolved_by_class(return_type):  # type: ignore[arg-type]
                return None
            by_class: dict[type, tuple[str, Fields]] = {}
            for possible in self.schema.get_possible_types(return_type):  # type: ignore[arg-type]
                definition = (possible.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
                if definition is None or definition.is_type_of is not None:
                    return None  # an `is_type_of` of the schema's may refuse what the class says
                fields = self._fields(possible, details)
                if fields is None or definition.origin in by_class:
                    return None  # a class standing for two types (as generics may) is Strawberry's to resolve
                by_class[definition.origin] = (possible.name, fields)
            return _nullable(_by_class(by_class))
        return None

    def _fields(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> Fields | None:
        """The sub-selection of `details` on `object_type`, when all of it can be answered inline."""
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, details)
        if new_defer_usages:
            return None
        selection = self._selection(object_type, grouped_field_set)
        return selection.fields if selection.whole else None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            # something wraps every resolver (a schema extension's `resolve`): it must see every field
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        selection = self._selection(parent_type, grouped_field_set)
        plan = selection.plan
        if not plan:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        if selection.whole:
            try:
                return _answer(selection.fields, parent_type.name, source_value)
            except Exception:  # irregular: graphql-core's own path answers it, and reports what is wrong
                return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        inline: dict[str, Any] = {}
        rest: GroupedFieldSet = {}
        for response_key, details in grouped_field_set.items():
            how = plan.get(response_key)
            if how is not None:
                try:
                    inline[response_key] = _answer(((response_key, *how),), parent_type.name, source_value)[
                        response_key
                    ]
                    continue
                except Exception:  # as above: this field takes graphql-core's path
                    pass
            rest[response_key] = details
        if not rest:
            return inline
        others = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if self.is_awaitable(others):
            return _merged_later(grouped_field_set, inline, others)
        return _merged(grouped_field_set, inline, others)  # type: ignore[arg-type]


async def _merged_later(grouped_field_set: GroupedFieldSet, inline: dict[str, Any], others: Any) -> dict[str, Any]:
    return _merged(grouped_field_set, inline, await others)


def _merged(grouped_field_set: GroupedFieldSet, inline: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
    """Both halves in the order the query asked for the fields, as graphql-core answers."""
    return {
        key: inline[key] if key in inline else others[key]
        for key in grouped_field_set
        if key in inline or key in others
    }
