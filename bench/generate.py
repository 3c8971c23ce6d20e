"""A synthetic, realistic catalog of N data products, as N-Quads (one named graph per record, docs/model.md).

Usage: `python bench/generate.py 1000 --seed 7 --out catalog.nq` (standard output without --out).
From Python: `plan_catalog(n, seed)` (the landscape and the facts benches need), `generate_catalog(n, seed)`
(the N-Quads lines) and `build_store(n, seed, path=None)` (an OxigraphStore holding it).

Every product meets the article's Data Product MVP checklist. Products sit in layers: layer 0 is source-oriented
(consumes data sources); a product on layer L >= 1 consumes one output port of a product on layer L-1 (so its
upstream lineage is exactly L products deep) and up to two more from lower layers, mostly in its own domain.
Everything is drawn from one `random.Random(seed)` in a fixed order and nothing iterates over a set, so the same
seed gives byte-identical output in every process.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import IO

from server.catalog.iris import mint
from server.catalog.seeding import install_ontology
from server.namespaces import DCAT, DCT, DPROD, DPV, DQV, ODRL, ORG, PROV, VM
from server.store.oxigraph import OxigraphStore

BASE = "https://valuemesh.example/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD = "http://www.w3.org/2001/XMLSchema#"

MAX_LAYER = 12  # consumer-oriented layers 1..12: lineage depth reaches 12
MAX_DOMAINS = 50
SOURCE_ORIENTED_SHARE = 0.25
UNTRACED_SHARE = 0.05
INPUT_COUNT_WEIGHTS = (0.5, 0.35, 0.15)  # 1, 2 or 3 input ports; about 1.65 on average keeps lineage realistic
SAME_DOMAIN = 0.8  # chance an input comes from the product's own domain (when it has a candidate there)

DOMAIN_NAMES = (
    "Commercial", "Medical Affairs", "Marketing", "Manufacturing", "Supply Chain", "Finance", "Human Resources",
    "Clinical Operations", "Pharmacovigilance", "Regulatory Affairs", "Research", "Diagnostics", "Quality",
    "Procurement", "Logistics", "Sales Operations", "Customer Service", "Market Access", "Pricing", "Legal",
    "Compliance", "Information Security", "IT Operations", "Real World Data", "Biostatistics", "Patient Services",
    "Digital Health", "Field Force", "Brand Management", "Corporate Communications", "Sustainability", "Facilities",
    "Treasury", "Tax", "Investor Relations", "Strategy", "Portfolio Management", "Medical Information",
    "Health Economics", "Laboratory Operations", "Drug Safety", "Product Development", "Packaging", "Distribution",
    "Partner Management", "Learning", "Talent Acquisition", "Payroll", "Data Platform", "Enterprise Architecture",
)  # fmt: skip
SUBJECTS = (
    "orders", "shipments", "invoices", "HCP interactions", "patients", "prescriptions", "batches", "inventory",
    "campaign events", "web sessions", "inquiries", "adverse events", "trials", "sites", "samples", "contracts",
    "payments", "employees", "suppliers", "complaints", "deviations", "forecasts", "territories", "accounts",
    "leads", "visits", "lab results", "devices", "claims", "prices",
)  # fmt: skip
QUALIFIERS = (
    "Daily", "Curated", "Harmonised", "Aggregated", "Enriched", "Validated", "Monthly", "Regional", "Global",
    "Real-time", "Historical", "Forecasted", "Segmented", "Scored", "Deduplicated", "Weekly",
)  # fmt: skip
AUDIENCES = (
    "brand managers", "the field force", "data scientists", "finance controllers", "medical advisors",
    "supply planners", "quality managers", "marketing analysts", "regulatory specialists", "executives",
)  # fmt: skip
GOAL_VERBS = ("Grow", "Improve", "Reduce", "Accelerate", "Protect", "Simplify", "Personalise", "Automate")
GOAL_OBJECTS = (
    "patient outcomes", "HCP engagement", "time to market", "supply reliability", "cost of goods",
    "regulatory compliance", "customer satisfaction", "forecast accuracy", "trial enrolment", "data quality",
)  # fmt: skip
SOURCE_SYSTEMS = (
    "CRM", "ERP", "MES", "LIMS", "EDC", "Safety database", "Web analytics", "Email platform", "Call centre",
    "Master data hub", "Data warehouse", "HR system", "Ticketing", "IoT gateway", "Document store",
)  # fmt: skip

SOURCE_OUTPUT_MECHANISMS = ("table", "api", "stream", "file")
CONSUMER_OUTPUT_MECHANISMS = ("dashboard", "report", "api", "table")
INPUT_MECHANISMS = ("Extractor", "Api", "Stream", "File", "ManualInput")
MECHANISM_TERMS = {"table": "Table", "api": "Api", "stream": "Stream", "file": "File", "dashboard": "Dashboard", "report": "Report"}  # fmt: skip
ACCESS_MODES = ("OpenAccess", "AccessApprovalRequired")
REGULATED_PRIVACY = ("Confidential", "Restricted", "Internal")
OPEN_PRIVACY = ("Public", "Internal")
INDICATORS = ("Availability", "Latency", "Timeliness", "Accuracy", "Completeness")
TARGETS = ("95.0", "99.0", "99.5", "99.9")
PERIODS = ("PT1H", "P1D", "P7D", "P1M")
CRITERIA = ("businessValue", "timeCriticality", "riskReduction", "reach", "impact", "confidence", "effort")
LVT_BRANCHING = (5, 4, 3)  # children of the vision, of each level-2 goal, of each level-3 goal; level 5 scales with N


@dataclass(slots=True)
class Domain:
    iri: str
    name: str
    regulated: bool
    team: str  # the producing team (a prov:Organization)
    owners: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Product:
    index: int
    iri: str
    name: str
    layer: int
    domain: int
    owner: str
    consumers: list[str]
    consumes: list[str]  # what each input port consumes: an output port of another product, or a data source
    upstream: list[int]  # the products those output ports belong to (indexes)
    output_ports: list[str]  # mechanism slugs

    def output_port(self, mechanism: str) -> str:
        return f"{self.iri}/port/{mechanism}"


@dataclass(slots=True)
class Goal:
    iri: str
    name: str
    level: int
    parent: str | None


@dataclass(slots=True)
class UseCase:
    iri: str
    name: str
    goal: str
    served_by: list[int]
    criteria: tuple[int, ...]


@dataclass
class CatalogPlan:
    """The landscape of one synthetic catalog, and the facts about it that tests and benches check against."""

    n: int
    seed: int
    domains: list[Domain]
    consumers: list[str]
    sources: list[str]
    products: list[Product]
    goals: list[Goal]
    use_cases: list[UseCase]
    overlap_pairs: list[tuple[str, str]]  # planted: both products consume exactly the same output ports
    untraced: list[str]  # products no use case is served by

    @property
    def max_depth(self) -> int:
        return max((p.layer for p in self.products), default=0)

    def products_at_depth(self, depth: int) -> list[str]:
        """Products whose upstream lineage is exactly `depth` products deep."""
        return [p.iri for p in self.products if p.layer == depth]

    @cached_property
    def upstream(self) -> dict[str, list[str]]:
        """Each product's direct upstream products (the adjacency a breadth-first search walks)."""
        return {p.iri: [self.products[i].iri for i in p.upstream] for p in self.products}

    @cached_property
    def consumed(self) -> dict[str, list[str]]:
        """What each product's input ports consume (output ports and data sources)."""
        return {p.iri: list(p.consumes) for p in self.products}

    @cached_property
    def use_cases_of(self) -> dict[str, list[str]]:
        served: dict[str, list[str]] = {p.iri: [] for p in self.products}
        for use_case in self.use_cases:
            for i in use_case.served_by:
                served[self.products[i].iri].append(use_case.iri)
        return served

    @cached_property
    def goal_of(self) -> dict[str, str]:
        """The goal each use case helps achieve."""
        return {u.iri: u.goal for u in self.use_cases}

    @cached_property
    def parent_goal(self) -> dict[str, str | None]:
        return {g.iri: g.parent for g in self.goals}


def _weighted_count(rng: random.Random, weights: tuple[float, ...]) -> int:
    return rng.choices(range(1, len(weights) + 1), weights)[0]


def _plan_domains(n: int) -> list[Domain]:
    count = min(MAX_DOMAINS, max(3, n // 10))
    domains = []
    for i in range(count):
        name = DOMAIN_NAMES[i]
        team = mint(BASE, "agent", f"{name} team")
        # Every third domain handles personal or health data, so privacy classification is mandatory there.
        domains.append(Domain(mint(BASE, "domain", name), name, regulated=i % 3 == 0, team=team))
    return domains


def _plan_goals(rng: random.Random, n: int) -> list[Goal]:
    goals = [Goal(f"{BASE}goal/vision", "Every patient gets the right treatment at the right time", 1, None)]
    level = [goals[0]]
    for depth, branching in enumerate(LVT_BRANCHING, start=2):
        children = []
        for parent in level:
            for _ in range(branching):
                k = len(goals)
                name = f"{rng.choice(GOAL_VERBS)} {rng.choice(GOAL_OBJECTS)} {k}"
                child = Goal(mint(BASE, "goal", name), name, depth, parent.iri)
                goals.append(child)
                children.append(child)
        level = children
    for _ in range(max(len(level), n // 25)):
        k = len(goals)
        name = f"{rng.choice(GOAL_VERBS)} {rng.choice(GOAL_OBJECTS)} {k}"
        goals.append(Goal(mint(BASE, "goal", name), name, 5, rng.choice(level).iri))
    return goals


def _pick(rng: random.Random, local: list[int], anywhere: list[int]) -> int:
    if local and rng.random() < SAME_DOMAIN:
        return rng.choice(local)
    return rng.choice(anywhere)


@lru_cache(maxsize=4)
def plan_catalog(n: int, seed: int) -> CatalogPlan:
    """The landscape of a catalog of `n` data products (cached: benches and tests ask for it several times)."""
    if n < 1:
        raise ValueError("a catalog needs at least one data product")
    rng = random.Random(seed)
    domains = _plan_domains(n)
    sources = []
    for k in range(max(5, n // 10)):
        sources.append(mint(BASE, "source", f"{SOURCE_SYSTEMS[k % len(SOURCE_SYSTEMS)]} {k}"))
    consumers = [f"{BASE}agent/consumer-{k}" for k in range(max(10, n // 25))]

    source_oriented = max(1, round(n * SOURCE_ORIENTED_SHARE))
    consumer_oriented = n - source_oriented
    layers = min(MAX_LAYER, max(1, consumer_oriented // 4)) if consumer_oriented else 0

    products: list[Product] = []
    by_layer: list[list[int]] = [[] for _ in range(layers + 1)]
    by_layer_domain: dict[tuple[int, int], list[int]] = {}
    sources_near: dict[int, list[str]] = {}
    for k, source in enumerate(sources):
        sources_near.setdefault(k % len(domains), []).append(source)

    for index in range(n):
        layer = 0 if index < source_oriented else 1 + (index - source_oriented) * layers // consumer_oriented
        d = rng.randrange(len(domains))
        domain = domains[d]
        subject = rng.choice(SUBJECTS)
        name = f"{rng.choice(QUALIFIERS)} {subject} {index}"
        iri = mint(BASE, "data-product", name)
        if not domain.owners or rng.random() < 0.2:
            domain.owners.append(mint(BASE, "agent", f"{domain.name} owner {len(domain.owners) + 1}"))
        owner = rng.choice(domain.owners)
        product_consumers = rng.sample(consumers, rng.randint(0, 2))
        mechanisms = SOURCE_OUTPUT_MECHANISMS if layer == 0 else CONSUMER_OUTPUT_MECHANISMS
        output_ports = rng.sample(mechanisms, 1 if rng.random() < 0.7 else 2)

        consumes: list[str] = []
        upstream: list[int] = []
        wanted = _weighted_count(rng, INPUT_COUNT_WEIGHTS)
        for slot in range(wanted):
            if layer == 0 or (slot > 0 and rng.random() < 0.1):
                target = _pick_source(rng, sources_near.get(d, []), sources)
                if target not in consumes:
                    consumes.append(target)
                continue
            # The first input comes from the layer just below: that is what makes the lineage `layer` deep.
            from_layer = layer - 1 if slot == 0 else rng.randrange(layer)
            chosen = _pick(rng, by_layer_domain.get((from_layer, d), []), by_layer[from_layer])
            upstream_product = products[chosen]
            target = upstream_product.output_port(rng.choice(upstream_product.output_ports))
            if target not in consumes:
                consumes.append(target)
                if chosen not in upstream:
                    upstream.append(chosen)

        products.append(Product(index, iri, name, layer, d, owner, product_consumers, consumes, upstream, output_ports))
        by_layer[layer].append(index)
        by_layer_domain.setdefault((layer, d), []).append(index)

    overlap_pairs = _plant_overlaps(rng, products, by_layer)
    goals = _plan_goals(rng, n)
    use_cases, untraced = _plan_use_cases(rng, products, goals)
    return CatalogPlan(n, seed, domains, consumers, sources, products, goals, use_cases, overlap_pairs, untraced)


def _pick_source(rng: random.Random, near: list[str], sources: list[str]) -> str:
    if near and rng.random() < SAME_DOMAIN:
        return rng.choice(near)
    return rng.choice(sources)


def _plant_overlaps(rng: random.Random, products: list[Product], by_layer: list[list[int]]) -> list[tuple[str, str]]:
    """Make about 1% of products twins of another on their layer: the same inputs, so a merge candidate."""
    pairs: list[tuple[str, str]] = []
    used: set[int] = set()
    candidates = [i for layer in by_layer[1:] for i in layer if len(products[i].consumes) >= 2]
    rng.shuffle(candidates)
    for a in candidates[: max(1, len(products) // 100)]:
        same_layer = [i for i in by_layer[products[a].layer] if i != a and i not in used]
        if a in used or not same_layer:
            continue
        b = rng.choice(same_layer)
        used.update((a, b))
        products[b].consumes = list(products[a].consumes)
        products[b].upstream = list(products[a].upstream)
        pairs.append((products[a].iri, products[b].iri) if a < b else (products[b].iri, products[a].iri))
    return pairs


def _plan_use_cases(rng: random.Random, products: list[Product], goals: list[Goal]) -> tuple[list[UseCase], list[str]]:
    """Use cases served by a delivering product and its direct inputs, covering every product but ~5%."""
    untraced_indexes = sorted(rng.sample(range(len(products)), max(1, round(len(products) * UNTRACED_SHARE))))
    untraced = set(untraced_indexes)
    leaves = [g for g in goals if g.level == 5]
    middle = [g for g in goals if g.level in (3, 4)]
    covered: set[int] = set()
    use_cases: list[UseCase] = []

    def new_use_case(served: list[int]) -> UseCase:
        goal = rng.choice(leaves) if rng.random() < 0.8 else rng.choice(middle)
        name = f"{products[served[0]].name} use case {len(use_cases) + 1}"
        criteria = tuple(rng.randint(0, 5) for _ in CRITERIA)
        use_case = UseCase(mint(BASE, "use-case", name), name, goal.iri, served, criteria)
        use_cases.append(use_case)
        return use_case

    for product in sorted(products, key=lambda p: (-p.layer, p.index)):
        if product.layer == 0 or product.index in covered or product.index in untraced:
            continue
        served = [product.index] + [i for i in product.upstream if i not in untraced]
        new_use_case(served)
        covered.update(served)
    for product in products:
        if product.index in covered or product.index in untraced:
            continue
        if use_cases and rng.random() < 0.7:
            rng.choice(use_cases).served_by.append(product.index)
        else:
            new_use_case([product.index])
        covered.add(product.index)
    return use_cases, [products[i].iri for i in untraced_indexes]


# --- N-Quads ---------------------------------------------------------------------------------------------------


def _literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _typed(value: str, datatype: str) -> str:
    return f'"{value}"^^<{XSD}{datatype}>'


class _Record:
    """Collects the quads of one named graph."""

    def __init__(self, graph: str) -> None:
        self.graph = f"<{graph}>"
        self.lines: list[str] = []

    def add(self, subject: str, predicate: str, obj: str) -> None:
        self.lines.append(f"<{subject}> <{predicate}> {obj} {self.graph} .\n")

    def iri(self, subject: str, predicate: str, obj: str) -> None:
        self.add(subject, predicate, f"<{obj}>")

    def text(self, subject: str, predicate: str, value: str) -> None:
        self.add(subject, predicate, _literal(value))


def _product_lines(plan: CatalogPlan, product: Product, rng: random.Random) -> list[str]:
    domain = plan.domains[product.domain]
    p = product.iri
    r = _Record(p)
    audience = rng.choice(AUDIENCES)
    r.iri(p, RDF_TYPE, str(DPROD.DataProduct))
    r.text(p, RDFS_LABEL, product.name)
    r.text(p, str(DCT.title), product.name)
    r.text(
        p,
        str(DCT.description),
        f"{product.name}: {product.name.split(' ', 1)[1].rsplit(' ', 1)[0]} of the {domain.name} domain, "
        f"kept current and documented for {audience}.",
    )
    r.text(p, str(DPROD.purpose), f"Give {audience} trustworthy {product.name.lower()} without asking the source team")
    r.iri(p, str(DCT.type), str(VM.SourceOriented if product.layer == 0 else VM.ConsumerOriented))
    r.iri(p, str(DPROD.domain), domain.iri)
    r.iri(p, str(DPROD.dataProductOwner), product.owner)
    r.iri(p, str(VM.producer), domain.team)
    for consumer in product.consumers:
        r.iri(p, str(VM.consumer), consumer)
    for k in range(len(product.consumes)):
        r.iri(p, str(DPROD.inputPort), f"{p}/port/in-{k + 1}")
    for mechanism in product.output_ports:
        r.iri(p, str(DPROD.outputPort), product.output_port(mechanism))
    r.iri(p, str(ODRL.hasPolicy), f"{p}/agreement")
    if domain.regulated:
        r.iri(p, str(VM.privacyClassification), str(VM[rng.choice(REGULATED_PRIVACY)]))
        if rng.random() < 0.5:
            r.add(p, str(DPV.hasPersonalData), _typed("true", "boolean"))
            r.text(p, str(DPV.hasApplicableLaw), "GDPR")
    elif rng.random() < 0.5:
        r.iri(p, str(VM.privacyClassification), str(VM[rng.choice(OPEN_PRIVACY)]))

    for k, consumed in enumerate(product.consumes):
        port = f"{p}/port/in-{k + 1}"
        r.iri(port, RDF_TYPE, str(VM.InputPort))
        r.iri(port, RDF_TYPE, str(DCAT.DataService))
        r.text(port, RDFS_LABEL, f"{product.name} input {k + 1}")
        r.iri(port, str(DCT.type), str(VM[rng.choice(INPUT_MECHANISMS)]))
        r.iri(port, str(VM.consumes), consumed)
    for mechanism in product.output_ports:
        port = product.output_port(mechanism)
        r.iri(port, RDF_TYPE, str(VM.OutputPort))
        r.iri(port, RDF_TYPE, str(DCAT.DataService))
        r.text(port, RDFS_LABEL, f"{product.name} {mechanism}")
        r.iri(port, str(DCT.type), str(VM[MECHANISM_TERMS[mechanism]]))

    agreement = f"{p}/agreement"
    r.iri(agreement, RDF_TYPE, str(VM.DataSharingAgreement))
    r.iri(agreement, RDF_TYPE, str(ODRL.Offer))
    r.text(agreement, RDFS_LABEL, f"{product.name} data sharing agreement")
    r.iri(agreement, str(DCT.accessRights), str(VM[rng.choice(ACCESS_MODES)]))
    r.text(agreement, str(VM.accessPolicy), f"Teams of the {domain.name} domain and {audience}; others on request.")
    r.text(agreement, str(VM.distributionRights), "Aggregated data may be shared inside the company; no third parties.")
    for k in range(1 if rng.random() < 0.7 else 2):
        indicator = rng.choice(INDICATORS)
        slo = f"{agreement.rsplit('/', 1)[0]}/slo/{indicator.lower()}-{k + 1}"
        target = rng.choice(TARGETS)
        r.iri(agreement, str(VM.serviceLevelObjective), slo)
        r.iri(slo, RDF_TYPE, str(VM.ServiceLevelObjective))
        r.iri(slo, RDF_TYPE, str(DQV.QualityPolicy))
        r.text(slo, RDFS_LABEL, f"{indicator} {target}%")
        r.iri(slo, str(VM.serviceLevelIndicator), str(VM[indicator]))
        r.add(slo, str(VM.target), _typed(target, "decimal"))
        r.add(slo, str(VM.period), _typed(rng.choice(PERIODS), "duration"))
        if rng.random() < 0.5:
            r.add(slo, str(VM.errorBudget), _typed(f"{100 - float(target):.1f}", "decimal"))
        r.text(slo, str(DCT.description), f"{indicator} at or above {target}% over each period.")
    return r.lines


def generate_catalog(n: int, seed: int) -> Iterator[str]:
    """The catalog as N-Quads lines: domains, agents, sources, goals, products, use cases; one graph per record."""
    plan = plan_catalog(n, seed)
    # A second generator for the prose and the optional fields, so rendering never shifts the plan's draws.
    rng = random.Random(seed * 7919 + 1)

    for domain in plan.domains:
        r = _Record(domain.iri)
        r.iri(domain.iri, RDF_TYPE, str(VM.Domain))
        r.iri(domain.iri, RDF_TYPE, str(ORG.OrganizationalUnit))
        r.text(domain.iri, RDFS_LABEL, domain.name)
        r.add(domain.iri, str(VM.regulated), _typed("true" if domain.regulated else "false", "boolean"))
        yield from r.lines
    for domain in plan.domains:
        for agent, kind, label in (
            (domain.team, PROV.Organization, f"{domain.name} data team"),
            *(
                (owner, PROV.Person, f"{domain.name} data product owner {k}")
                for k, owner in enumerate(domain.owners, 1)
            ),
        ):
            r = _Record(agent)
            r.iri(agent, RDF_TYPE, str(kind))
            r.iri(agent, RDF_TYPE, str(PROV.Agent))
            r.text(agent, RDFS_LABEL, label)
            yield from r.lines
    for k, agent in enumerate(plan.consumers):
        r = _Record(agent)
        r.iri(agent, RDF_TYPE, str(PROV.Person))
        r.iri(agent, RDF_TYPE, str(PROV.Agent))
        r.text(agent, RDFS_LABEL, f"{rng.choice(AUDIENCES).capitalize()} member {k}")
        yield from r.lines
    for k, source in enumerate(plan.sources):
        r = _Record(source)
        system = SOURCE_SYSTEMS[k % len(SOURCE_SYSTEMS)]
        r.iri(source, RDF_TYPE, str(VM.DataSource))
        r.iri(source, RDF_TYPE, str(DCAT.DataService))
        r.text(source, RDFS_LABEL, f"{system} {k}")
        r.text(source, str(DCT.description), f"The {system} system, instance {k}.")
        yield from r.lines
    for goal in plan.goals:
        r = _Record(goal.iri)
        if goal.parent is None:
            r.iri(goal.iri, RDF_TYPE, str(VM.Vision))
        r.iri(goal.iri, RDF_TYPE, str(VM.Goal))
        r.text(goal.iri, RDFS_LABEL, goal.name)
        if goal.parent is not None:
            r.iri(goal.iri, str(VM.subGoalOf), goal.parent)
        yield from r.lines
    for product in plan.products:
        yield from _product_lines(plan, product, rng)
    for use_case in plan.use_cases:
        u = use_case.iri
        r = _Record(u)
        delivered_by = plan.products[use_case.served_by[0]]
        r.iri(u, RDF_TYPE, str(VM.UseCase))
        r.text(u, RDFS_LABEL, use_case.name)
        r.text(u, str(VM.hypothesis), f"giving {rng.choice(AUDIENCES)} {delivered_by.name.lower()}")
        r.iri(u, str(VM.helpsAchieve), use_case.goal)
        for k in range(rng.randint(1, 2)):
            r.text(u, str(VM.indicator), f"share of decisions made with {delivered_by.name.lower()} ({k + 1})")
        r.text(u, str(VM.userStory), f"As one of the {rng.choice(AUDIENCES)}, I want {delivered_by.name.lower()}.")
        for criterion, value in zip(CRITERIA, use_case.criteria, strict=True):
            r.add(u, str(VM[criterion]), _typed(str(value), "integer"))
        for i in use_case.served_by:
            r.iri(u, str(VM.servedBy), plan.products[i].iri)
        yield from r.lines


class _QuadStream(io.RawIOBase):
    """A readable byte stream over the generated lines, so a large catalog is never held as one string."""

    def __init__(self, lines: Iterator[str], batch: int = 20_000) -> None:
        self._lines = lines
        self._batch = batch
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            chunk = [line for _, line in zip(range(self._batch), self._lines, strict=False)]
            if not chunk:
                return 0
            self._buffer = "".join(chunk).encode()
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def catalog_stream(n: int, seed: int) -> IO[bytes]:
    """The catalog as a readable N-Quads byte stream."""
    return io.BufferedReader(_QuadStream(generate_catalog(n, seed)), buffer_size=1 << 20)


def build_store(n: int, seed: int, path: str | Path | None = None, *, with_ontology: bool = True) -> OxigraphStore:
    """An OxigraphStore (in memory, or on disk at `path`) bulk-loaded with the catalog; the ontology graph too."""
    store = OxigraphStore(path)
    store.bulk_load(catalog_stream(n, seed))
    if with_ontology:
        install_ontology(store)
    return store


def write_catalog(n: int, seed: int, out: IO[str]) -> None:
    for line in generate_catalog(n, seed):
        out.write(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic valuemesh catalog of N data products as N-Quads.")
    parser.add_argument("n", type=int, help="number of data products")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    parser.add_argument("--out", type=Path, help="N-Quads file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("N must be at least 1")
    if args.out is None:
        write_catalog(args.n, args.seed, sys.stdout)
    else:
        with args.out.open("w", encoding="utf-8", newline="\n") as out:
            write_catalog(args.n, args.seed, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
