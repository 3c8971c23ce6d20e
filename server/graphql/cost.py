"""Query cost analysis: an upper bound of the work a GraphQL operation asks for, refused past a budget before it runs.

Every field costs 1 each time it is answered, so the cost is the most values an answer can hold. A list multiplies
the cost of what is selected inside it by its size: its page size where it pages (`first:`, as written, or its
default; a variable is costed at the maximum page size, since validation is cached per document and cannot see
variables), else the size assumed below. A connection's page size applies to its `edges`. Questions whose work is
out of proportion with their answer (checking the whole catalog against the checklist) add a fixed cost.
Introspection is costed like any other question, with list sizes taken from the schema itself.

A fragment's cost is computed once per page size it is used with, so costing is linear in the document's size
however often fragments are spread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_list_type,
)
from graphql.language import BREAK, DocumentNode
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from graphql.validation import ValidationRule

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"

# Lists without paging are costed at these sizes (README, "Query cost"). A product's ports, sources, consumers,
# SLOs and use cases, a use case's goals and products, a goal's children are a handful each.
DEFAULT_LIST_SIZE = 10
ASSUMED_LIST_SIZES: dict[tuple[str, str], int] = {
    ("Query", "domains"): 50,
    ("Query", "goals"): 50,
    ("Query", "useCases"): 100,
    ("Query", "untracedDataProducts"): 100,
    ("Query", "accessRequests"): 100,
    ("GoalTrace", "useCases"): 50,
    ("GoalTrace", "goals"): 50,
    ("LineageGraph", "nodes"): 200,
    ("LineageGraph", "edges"): 400,
    ("ValidationReport", "results"): 200,
}
# Checking the whole catalog against the checklist takes about a second at 4,000 products: two fit in the default
# budget, three do not. Checking chosen nodes costs per node; a list given by a variable is costed as the catalog.
WHOLE_CATALOG_VALIDATION_COST = 400_000
VALIDATION_COST_PER_NODE = 1_000
# Ranking overlaps across the whole catalog (without `ids` written out) reads every product's direct sources.
WHOLE_CATALOG_OVERLAPS_COST = 50_000


@dataclass
class _Costing:
    """The cost of one document's operations against one schema."""

    schema: GraphQLSchema
    max_page_size: int
    fragments: dict[str, FragmentDefinitionNode]
    introspection_sizes: dict[tuple[str, str], int]
    _fragment_costs: dict[tuple[str, int | None], int] = field(default_factory=dict)
    _open_fragments: set[str] = field(default_factory=set)

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self._selections(operation.selection_set, root, None) if root is not None else 0

    def _selections(self, selection_set: SelectionSetNode, parent: GraphQLType | None, page: int | None) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition is not None else parent
                total += self._selections(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, page)
        return total

    def _fragment(self, name: str, page: int | None) -> int:
        key = (name, page)
        if key not in self._fragment_costs:
            fragment = self.fragments.get(name)
            if fragment is None or name in self._open_fragments:  # unknown or cyclic: other rules report those
                return 0
            self._open_fragments.add(name)
            parent = self.schema.get_type(fragment.type_condition.name.value)
            self._fragment_costs[key] = self._selections(fragment.selection_set, parent, page)
            self._open_fragments.discard(name)
        return self._fragment_costs[key]

    def _field(self, node: FieldNode, parent: GraphQLType | None, page: int | None) -> int:
        name = node.name.value
        definition = self._definition(parent, name)
        if definition is None or parent is None:  # `__typename`, or a field other rules refuse
            return 1
        owner = get_named_type(parent).name
        own = 1 + self._fixed_cost(owner, name, node)
        paged = "first" in definition.args
        size = self._page_size(node, definition) if paged else None
        returns = get_nullable_type(definition.type)  # type: ignore[type-var]
        if is_list_type(returns):
            count = size if size is not None else page if page is not None else self._assumed_size(owner, name)
            inner = 1 if node.selection_set is None else self._selections(node.selection_set, returns, None)
            return own + count * inner
        if node.selection_set is None:
            return own
        return own + self._selections(node.selection_set, get_named_type(returns), size)

    def _definition(self, parent: GraphQLType | None, name: str) -> GraphQLField | None:
        if name == "__schema" and parent is self.schema.query_type:
            return SchemaMetaFieldDef
        if name == "__type" and parent is self.schema.query_type:
            return TypeMetaFieldDef
        named = get_named_type(parent) if parent is not None else None
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return named.fields.get(name)
        return None

    def _page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        """`first:` as written (the resolver refuses more than the maximum), its default, or else the maximum."""
        given = _argument(node, "first")
        if isinstance(given, IntValueNode):
            return max(0, min(int(given.value), self.max_page_size))
        default = definition.args["first"].default_value
        if given is None and isinstance(default, int):
            return max(0, min(default, self.max_page_size))
        return self.max_page_size  # a variable, null, or no default: as many as a page may hold

    def _assumed_size(self, owner: str, name: str) -> int:
        if owner.startswith("__"):
            return self.introspection_sizes.get((owner, name), 1)
        return ASSUMED_LIST_SIZES.get((owner, name), DEFAULT_LIST_SIZE)

    def _fixed_cost(self, owner: str, name: str, node: FieldNode) -> int:
        if owner != "Query" or name not in ("validation", "overlaps"):
            return 0
        ids = _argument(node, "ids")
        if name == "overlaps":  # among the ids written out, else (a variable may be null) across the catalog
            return 0 if isinstance(ids, ListValueNode) else WHOLE_CATALOG_OVERLAPS_COST
        if isinstance(ids, ListValueNode):
            return VALIDATION_COST_PER_NODE * len(ids.values)
        return WHOLE_CATALOG_VALIDATION_COST


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    """The value written for argument `name`, if any (the parser leaves `arguments` None when there are none)."""
    return next((argument.value for argument in node.arguments or () if argument.name.value == name), None)


@lru_cache(maxsize=16)  # one entry per schema served; the schema never changes
def introspection_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """The longest each introspection list can be in this schema, so that introspection is costed exactly."""
    types = list(schema.type_map.values())

    def longest(lengths: Iterable[int]) -> int:
        return max(lengths, default=0)

    with_fields = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): longest(len(t.fields) for t in with_fields),
        ("__Type", "interfaces"): longest(len(t.interfaces) for t in with_fields),
        ("__Type", "possibleTypes"): longest(len(schema.get_possible_types(t)) for t in types if is_abstract_type(t)),
        ("__Type", "enumValues"): longest(len(getattr(t, "values", {})) for t in types),
        ("__Type", "inputFields"): longest(len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)),
        ("__Field", "args"): longest(len(f.args) for t in with_fields for f in t.fields.values()),
        ("__Directive", "args"): longest(len(d.args) for d in schema.directives),
        ("__Directive", "locations"): longest(len(d.locations) for d in schema.directives),
    }


def operation_costs(schema: GraphQLSchema, document: DocumentNode, max_page_size: int) -> list[tuple[Any, int]]:
    """Each operation of `document` with its cost."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    costing = _Costing(schema, max_page_size, fragments, introspection_sizes(schema))
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return [(operation, costing.operation(operation)) for operation in operations]


def cost_rule(budget: int, max_page_size: int) -> type[ValidationRule]:
    """A validation rule refusing operations that cost more than `budget` (built once, so validation stays cached)."""

    class QueryCostRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> object:
            for operation, cost in operation_costs(self.context.schema, node, max_page_size):
                if cost > budget:
                    self.report_error(
                        GraphQLError(
                            f"query cost {cost:,} exceeds the limit of {budget:,}: every field costs 1 per value "
                            f"answered, and a list multiplies what it selects by its page size (`first:`, "
                            f"{max_page_size} when given by a variable) or its assumed size; ask for a smaller page, "
                            "fewer nested lists or fewer aliases",
                            operation,
                            extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "limit": budget},
                        )
                    )
            return BREAK

    return QueryCostRule
