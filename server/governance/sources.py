"""The shapes in force: which files they come from (`VALUEMESH_SHAPES`, `--shapes`), and refusing bad ones at start.

A governance team names files or directories of Turtle shapes; the word `builtin` stands for the packaged checklist
(shapes/mvp-checklist.ttl and recommended.ttl), the default. Before a catalog uses them, the shapes must be usable
as a whole, or nothing starts: every file parses, the graph is valid SHACL (checked with pyshacl against the W3C's
SHACL-for-SHACL shapes, vendored in resources/), no shape refers back to itself (SHACL leaves recursion undefined),
every SPARQL query parses and asks no other service, and the engine can honour every constraint. Each refusal
names the file, the shape and the reason; all of them are reported at once. Files that passed the two slow checks
(SHACL-for-SHACL, SPARQL) byte for byte as they are now are not judged by them again (verdicts.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rdflib import RDF, BNode, Graph, URIRef
from rdflib.collection import Collection
from rdflib.plugins.parsers.notation3 import BadSyntax
from rdflib.term import Node

from server.errors import BadInput
from server.governance.compiled_shapes import remembered
from server.governance.shapes import Shapes, UnsupportedShape, catalog_shapes, shapes_from_graph
from server.governance.verdicts import PassingVerdicts, cache_home, verdict_key
from server.namespaces import SH
from server.resources import shape_files

BUILTIN = "builtin"
SHAPE_SUFFIXES = (".ttl",)
SHACL_SHACL = Path(__file__).resolve().parent / "resources" / "shacl-shacl.ttl"

# Where a shape refers to other shapes: the edges along which a shape can end up requiring itself.
_SHAPE_REFERENCES = (SH.node, SH.property, SH.qualifiedValueShape, SH["not"])
_SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)


@dataclass(frozen=True)
class Problem:
    """One reason the shapes cannot be used: where (file, line), which shape, and why."""

    file: str
    reason: str
    shape: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return f"{where}: " + (f"shape {self.shape}: " if self.shape else "") + self.reason


class ShapesRefused(BadInput):
    """Shapes that cannot be put in force; nothing starts with them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"the shapes cannot be put in force ({len(problems)} problem(s)):\n{listed}",
            source=first.file,
            line=first.line,
        )


def shape_paths(entries: Iterable[str]) -> tuple[Path, ...]:
    """The Turtle files named by `entries`: `builtin`, files, or directories (their *.ttl files, recursively)."""
    paths: list[Path] = []
    problems: list[Problem] = []
    for entry in entries:
        if entry.strip().lower() == BUILTIN:
            paths.extend(shape_files())
            continue
        path = Path(entry).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SHAPE_SUFFIXES)
            if not found:
                problems.append(Problem(str(path), "the directory holds no shapes (*.ttl files)"))
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            problems.append(
                Problem(str(path), f"no such file or directory (write '{BUILTIN}' for the packaged shapes)")
            )
    if problems:
        raise ShapesRefused(problems)
    return tuple(dict.fromkeys(p.resolve() for p in paths))


def load_shapes(entries: Iterable[str]) -> Shapes:
    """The shapes named by `entries`, checked and compiled; ShapesRefused lists every problem found."""
    entries = tuple(entries)
    if all(entry.strip().lower() == BUILTIN for entry in entries):
        return catalog_shapes()  # the packaged shapes are checked by the tests, not at every start
    paths = shape_paths(entries)
    # Files that passed every check and compiled are remembered compiled, as the packaged ones are: the same bytes,
    # code and libraries give the same verdict and the same shapes. A refusal raises, so it is never remembered.
    # Each set of files has a cache file of its own, so two sets used in turn do not evict each other.
    location = cache_home() / "valuemesh" / f"shapes-{_digest([str(path) for path in paths])}.pickle"
    return remembered(paths, lambda: _checked_and_compiled(paths), Shapes, location)


def _digest(locations: list[str]) -> str:
    return hashlib.sha256("\n".join(locations).encode()).hexdigest()[:16]


def _checked_and_compiled(paths: tuple[Path, ...]) -> Shapes:
    """The shapes of `paths`, checked (SHACL-for-SHACL, recursion, SPARQL) and compiled; ShapesRefused otherwise."""
    contents = _read(paths)
    files = _parsed(contents)
    graph = Graph(bind_namespaces="none")  # the authors' prefixes, not rdflib's defaults, name shapes in messages
    for file_graph in files.values():
        graph += file_graph
    for file_graph in files.values():
        for prefix, namespace in file_graph.namespaces():
            graph.bind(prefix, namespace, override=False)
    origin = _origins(files)
    verdicts, key = PassingVerdicts(), verdict_key(contents, checks=(SHACL_SHACL, Path(__file__)))
    # The two slow checks (a second, with their imports) are skipped for files that passed them as they are now.
    judge = not verdicts.passed(key)
    problems = [
        *(_not_shacl(graph, _own(files), origin) if judge else ()),
        *_recursion(graph, origin),
        *(_bad_sparql(graph, origin) if judge else ()),
    ]
    problems += [Problem(name, "it says nothing in SHACL: is it a data file?") for name in _without_shacl(files)]
    if problems:
        raise ShapesRefused(problems)
    try:
        shapes = shapes_from_graph(graph)
    except UnsupportedShape as error:
        raise ShapesRefused([_unsupported(error, files)]) from None
    if judge:
        verdicts.remember(key)
    return shapes


def _read(paths: tuple[Path, ...]) -> dict[Path, bytes]:
    """Each file's exact bytes: what is judged, parsed and remembered is the same content."""
    contents: dict[Path, bytes] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            contents[path] = path.read_bytes()
        except OSError as error:
            problems.append(Problem(str(path), f"cannot be read: {error}"))
    if problems:
        raise ShapesRefused(problems)
    return contents


def _parsed(contents: dict[Path, bytes]) -> dict[str, Graph]:
    files: dict[str, Graph] = {}
    problems: list[Problem] = []
    for path, content in contents.items():
        try:
            # The file's own location is the base of its relative IRIs, as when rdflib reads it by name.
            files[str(path)] = Graph(bind_namespaces="none").parse(
                data=content, format="turtle", publicID=path.as_uri()
            )
        except BadSyntax as error:
            problems.append(Problem(str(path), f"not Turtle: {error._why}", line=error.lines + 1))
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(str(path), f"cannot be read: {error}"))
        except Exception as error:  # rdflib raises plain exceptions for some bad terms (an ill-formed IRI)
            problems.append(Problem(str(path), f"not Turtle: {error}"))
    if problems:
        raise ShapesRefused(problems)
    return files


def _without_shacl(files: dict[str, Graph]) -> list[str]:
    """Files in which no statement uses SHACL's vocabulary (neither a predicate nor a type of it)."""
    shacl = str(SH)
    return [
        name
        for name, graph in files.items()
        if not any(str(p).startswith(shacl) or (p == RDF.type and str(o).startswith(shacl)) for _, p, o in graph)
    ]


def _origins(files: dict[str, Graph]) -> dict[Node, str]:
    """Each subject and the file that describes it (blank nodes are unique to the file they were parsed from)."""
    origin: dict[Node, str] = {}
    for name, graph in files.items():
        for subject in graph.subjects(unique=True):
            origin.setdefault(subject, name)
    return origin


def _name(graph: Graph, node: Node) -> str:
    """A shape as its author wrote it: prefixed name or IRI, or for a property shape in brackets its path."""
    if isinstance(node, URIRef):
        return graph.namespace_manager.normalizeUri(node)
    path = graph.value(node, SH.path)
    if isinstance(path, URIRef):
        return f"[ sh:path {graph.namespace_manager.normalizeUri(path)} ]"
    return f"_:{node}"


def _owner(graph: Graph, node: Node) -> Node:
    """The named shape a blank node belongs to (a property shape, a list), for telling people where it is."""
    seen: set[Node] = set()
    while isinstance(node, BNode) and node not in seen:
        seen.add(node)
        parent = next(graph.subjects(None, node), None)
        if parent is None:
            break
        node = parent
    return node


def _own(files: dict[str, Graph]) -> Graph:
    """What SHACL-for-SHACL needs to judge: the organisation's files, with what the packaged shapes say about the
    same nodes (a shape may be extended in another file). The packaged shapes alone are judged by the tests, and
    judging them at every start would cost several seconds."""
    packaged = {str(path.resolve()) for path in shape_files()}
    own = [graph for name, graph in files.items() if name not in packaged]
    if not own:
        own = list(files.values())
    judged = Graph(bind_namespaces="none")
    for graph in own:
        judged += graph
    described = set(judged.subjects(unique=True))
    for name, graph in files.items():
        if name in packaged and len(own) < len(files):
            for subject in described:
                for predicate, obj in graph.predicate_objects(subject):
                    judged.add((subject, predicate, obj))
    return judged


def _not_shacl(graph: Graph, judged: Graph, origin: dict[Node, str]) -> Iterator[Problem]:
    """What the W3C's SHACL-for-SHACL shapes find wrong in the shapes graph (`judged`: the part to look at)."""
    import pyshacl  # only catalogs with shapes of their own need it at start

    conforms, report, _ = pyshacl.validate(
        judged, shacl_graph=Graph().parse(SHACL_SHACL, format="turtle"), allow_warnings=True
    )
    if conforms:
        return
    assert isinstance(report, Graph)
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        if focus is None:
            continue
        named = _owner(graph, focus)
        shape = _name(graph, named) + ("" if named == focus else f" ({_name(graph, focus)})")
        on = f"{graph.namespace_manager.normalizeUri(path)}: " if isinstance(path, URIRef) else ""
        yield Problem(origin.get(focus, origin.get(named, "?")), f"not valid SHACL: {on}{message}", shape=shape)


def _referenced(graph: Graph, shape: Node) -> Iterator[Node]:
    for predicate in _SHAPE_REFERENCES:
        yield from graph.objects(shape, predicate)
    for predicate in _SHAPE_LISTS:
        for members in graph.objects(shape, predicate):
            yield from Collection(graph, members)


def _recursion(graph: Graph, origin: dict[Node, str]) -> Iterator[Problem]:
    """Each cycle of shapes that refer to each other, once, named shape by shape."""
    done: set[Node] = set()
    reported: set[frozenset[Node]] = set()
    shapes = {s for p in (*_SHAPE_REFERENCES, *_SHAPE_LISTS) for s in graph.subjects(p)}
    for start in sorted(shapes, key=str):
        stack: list[tuple[Node, Iterator[Node]]] = [(start, _referenced(graph, start))]
        on_path = [start]
        while stack:
            node, successors = stack[-1]
            following = next(successors, None)
            if following is None:
                stack.pop()
                on_path.pop()
                done.add(node)
                continue
            if following in on_path:
                cycle = on_path[on_path.index(following) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    named = " -> ".join(_name(graph, n) for n in [*cycle, following])
                    yield Problem(
                        origin.get(following, "?"),
                        f"recursive shapes (SHACL leaves their meaning undefined): {named}",
                        shape=_name(graph, following),
                    )
            elif following not in done:
                stack.append((following, _referenced(graph, following)))
                on_path.append(following)


def _prefixes(graph: Graph, holder: Node) -> str:
    lines = set()
    for declared in graph.objects(holder, SH.prefixes):
        for declaration in graph.objects(declared, SH.declare):
            prefix, namespace = graph.value(declaration, SH.prefix), graph.value(declaration, SH.namespace)
            if prefix is not None and namespace is not None:
                lines.add(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(sorted(lines))


def _asks_a_service(parsed: object) -> bool:
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(parsed, CompValue):
        return parsed.name == "ServiceGraphPattern" or any(_asks_a_service(v) for v in parsed.values())
    if isinstance(parsed, (list, tuple, ParseResults)):
        return any(_asks_a_service(v) for v in parsed)
    return False


def _bad_sparql(graph: Graph, origin: dict[Node, str]) -> Iterator[Problem]:
    """SPARQL-based constraints and validators whose query does not parse or sends data to another service."""
    # Imported here: rdflib's SPARQL grammar takes a quarter of a second to build, and only an organisation's own
    # shapes are checked with it.
    from rdflib.plugins.sparql.parser import parseQuery

    for keyword in (SH.select, SH.ask):
        for holder, text in sorted(graph.subject_objects(keyword), key=str):
            query = _prefixes(graph, holder) + "\n" + str(text)
            shape = next(graph.subjects(SH.sparql, holder), holder)
            where = origin.get(holder, "?")
            try:
                parsed = parseQuery(query)
            except Exception as error:  # pyparsing's ParseException, or rdflib's for an undeclared prefix
                reason = str(error).splitlines()[0]
                yield Problem(where, f"its SPARQL query does not parse: {reason}", shape=_name(graph, shape))
                continue
            if _asks_a_service(parsed):
                yield Problem(
                    where,
                    "its SPARQL query uses SERVICE: a shape may not send the catalog's data elsewhere",
                    shape=_name(graph, shape),
                )


def _unsupported(error: UnsupportedShape, files: dict[str, Graph]) -> Problem:
    """The engine's refusal, with the file of the shape it names (the shape itself is in its message)."""
    named = getattr(error, "shape", None)
    for name, graph in files.items():
        if named is not None and (URIRef(str(named)), None, None) in graph:
            return Problem(name, f"the engine cannot honour it: {error}")
    blamed = [name for name, graph in files.items() if _compiles_alone(graph) is False]
    return Problem(", ".join(blamed or list(files)), f"the engine cannot honour it: {error}")


def _compiles_alone(graph: Graph) -> bool:
    try:
        shapes_from_graph(graph)
    except UnsupportedShape:
        return False
    except Exception:
        return True  # it needs the other files: not this file's own problem
    return True
