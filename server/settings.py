"""Settings from arguments or `VALUEMESH_*` environment variables; the embedded store is the default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from server.errors import BadInput
from server.namespaces import DEFAULT_BASE

N = TypeVar("N", int, float)


def default_store_location() -> str:
    """`$XDG_DATA_HOME/valuemesh/store`, i.e. `~/.local/share/valuemesh/store` on most machines."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "valuemesh" / "store")


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name: str, kind: type[N], default: N) -> N:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = kind(value)  # type: ignore[call-arg]
    except ValueError:
        raise BadInput(f"{name} must be a {kind.__name__}, not {value!r}") from None
    if number <= 0:  # type: ignore[operator]
        raise BadInput(f"{name} must be positive, not {value!r}")
    return number


def _env_names(name: str) -> tuple[str, ...] | None:
    """A comma-separated list; None when the variable is unset or blank."""
    names = tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())
    return names or None


def _read_access(value: str | None) -> str:
    chosen = (value or "public").strip().lower()
    if chosen not in {"public", "authenticated"}:
        raise BadInput(f"VALUEMESH_READ must be public or authenticated, not {value!r}")
    return chosen


@dataclass(frozen=True)
class Settings:
    """Everything a catalog process can be configured with (the README's configuration table)."""

    store: str = field(default_factory=default_store_location)
    base: str = DEFAULT_BASE
    seed: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    # Limits that protect the API from hostile or careless clients.
    max_query_depth: int = 12
    max_page_size: int = 500
    # Cost of one GraphQL operation (server/graphql/cost.py): about the most values its answer can hold.
    max_query_cost: int = 1_000_000
    sparql_timeout_s: float = 10.0
    sparql_max_rows: int = 100_000
    sparql_max_query_bytes: int = 100_000
    # Store work of the async faces runs on at most this many threads, so the event loop never waits for the store.
    worker_threads: int = 8
    # Heavy questions (whole-catalog validation) run on at most this many other threads: however many are asked at
    # once, the light ones (a product lookup) always find one of `worker_threads` free.
    heavy_threads: int = 2
    # Whole-catalog validation on the embedded store on disk runs in a worker process on a snapshot of the store
    # (server/query_workers.py), stopped past this time or memory.
    validation_timeout_s: float = 900.0
    validation_max_memory_mb: int = 4096
    # User SPARQL on the embedded store runs in this many worker processes, each killed past this much memory.
    sparql_workers: int = 2
    sparql_max_memory_mb: int = 1024
    # Largest request body on any endpoint: above the largest legitimate request (a registration document of a big
    # product, a few MB at most; a SPARQL form body, at most three times `sparql_max_query_bytes`).
    max_body_bytes: int = 4_000_000
    # Largest batch `POST /api/v1/load` takes (spooled to disk as it arrives, never held in memory).
    max_load_bytes: int = 1_000_000_000
    # Host names served (DNS rebinding); None: the loopback names, the base's host and a specific bind address.
    allowed_hosts: tuple[str, ...] | None = None
    # Identity (server/identity/): with no issuer, only API tokens identify callers.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_agent_claim: str = "sub"
    oidc_name_claim: str = "name"
    oidc_groups_claim: str = "groups"
    oidc_roles_claim: str = "roles"
    oidc_groups_file: str | None = None  # a YAML or JSON mapping of group name -> domain IRI
    # Browser sign-in (server/web/sign_in.py): on with a client id; the session secret signs the session cookies.
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)  # None: a public client (PKCE only)
    session_secret: str | None = field(default=None, repr=False)
    # Writes without any identity: only for a catalog on loopback (`serve` refuses it bound beyond).
    anonymous_writes: bool = False
    # "public": anyone may read; "authenticated": every face needs an identity.
    read_access: str = "public"
    # Origins whose pages may call the API from a browser (CORS); None: no cross-origin calls.
    cors_origins: tuple[str, ...] | None = None
    # Events out (server/catalog/webhooks.py): URLs each event is posted to, signed with the secret, and the first
    # retry's pause (doubling after each failure).
    webhooks: tuple[str, ...] | None = None
    webhook_secret: str | None = None
    webhook_backoff_s: float = 1.0
    # OpenLineage (server/openlineage/): the run table's SQLite file (None: beside the embedded store on disk, in
    # memory for a store in memory, `lineage-runs.sqlite` in the default data directory for a remote store), the most
    # events one `POST /api/v1/lineage` takes, the window lineage drift looks back over, and how long run events
    # are kept.
    lineage_runs: str | None = None
    lineage_max_events: int = 10_000
    lineage_drift_days: int = 30
    lineage_retention_days: int = 400
    # The shapes in force (server/governance/sources.py): files or directories of Turtle shapes; "builtin" stands for
    # the packaged checklist and recommended shapes. In VALUEMESH_SHAPES, separated by commas.
    shapes: tuple[str, ...] = ("builtin",)
    # SLI measurements (server/observations/): the SQLite file they are kept in (None: beside the store, in memory
    # for `memory:` and a remote store), how long points are kept, and the most points one batch may hold.
    measurements: str | None = None
    measurement_retention_days: int = 400
    max_measurements: int = 10_000
    # Multi-window burn-rate alerting (server/observations/budgets.py): AT_RISK when the budget burns at least
    # `*_burn` times too fast over the SLO's period divided by `*_window` and by `*_confirm` alike (the SRE
    # workbook's 1 h / 5 min and 6 h / 30 min of 30 days).
    slo_fast_burn: float = 14.4
    slo_fast_window: float = 720.0
    slo_fast_confirm: float = 8640.0
    slo_slow_burn: float = 6.0
    slo_slow_window: float = 120.0
    slo_slow_confirm: float = 1440.0
    # A computed SLO status is reused this long when no point of that SLO arrived meanwhile (goalsAtRisk).
    slo_status_max_age_s: float = 60.0
    # The graph's SLO status summaries are written in the background at most this often (the lag SPARQL and linked
    # data may show behind the table; GraphQL computes from the table): server/observations/summariser.py.
    slo_summary_interval_s: float = 5.0

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from `VALUEMESH_*` variables; explicit, non-None overrides win."""
        env = cls(
            store=os.environ.get("VALUEMESH_STORE") or default_store_location(),
            base=os.environ.get("VALUEMESH_BASE") or DEFAULT_BASE,
            seed=_env_bool("VALUEMESH_SEED", True),
            host=os.environ.get("VALUEMESH_HOST", "127.0.0.1"),
            port=_env_number("VALUEMESH_PORT", int, 8000),
            max_query_depth=_env_number("VALUEMESH_MAX_QUERY_DEPTH", int, cls.max_query_depth),
            max_page_size=_env_number("VALUEMESH_MAX_PAGE_SIZE", int, cls.max_page_size),
            max_query_cost=_env_number("VALUEMESH_MAX_QUERY_COST", int, cls.max_query_cost),
            sparql_timeout_s=_env_number("VALUEMESH_SPARQL_TIMEOUT", float, cls.sparql_timeout_s),
            sparql_max_rows=_env_number("VALUEMESH_SPARQL_MAX_ROWS", int, cls.sparql_max_rows),
            sparql_max_query_bytes=_env_number("VALUEMESH_SPARQL_MAX_QUERY_BYTES", int, cls.sparql_max_query_bytes),
            worker_threads=_env_number("VALUEMESH_WORKER_THREADS", int, cls.worker_threads),
            sparql_workers=_env_number("VALUEMESH_SPARQL_WORKERS", int, cls.sparql_workers),
            sparql_max_memory_mb=_env_number("VALUEMESH_SPARQL_MAX_MEMORY_MB", int, cls.sparql_max_memory_mb),
            max_body_bytes=_env_number("VALUEMESH_MAX_BODY_BYTES", int, cls.max_body_bytes),
            max_load_bytes=_env_number("VALUEMESH_MAX_LOAD_BYTES", int, cls.max_load_bytes),
            allowed_hosts=_env_names("VALUEMESH_ALLOWED_HOSTS"),
            oidc_issuer=os.environ.get("VALUEMESH_OIDC_ISSUER") or None,
            oidc_audience=os.environ.get("VALUEMESH_OIDC_AUDIENCE") or None,
            oidc_agent_claim=os.environ.get("VALUEMESH_OIDC_AGENT_CLAIM") or cls.oidc_agent_claim,
            oidc_name_claim=os.environ.get("VALUEMESH_OIDC_NAME_CLAIM") or cls.oidc_name_claim,
            oidc_groups_claim=os.environ.get("VALUEMESH_OIDC_GROUPS_CLAIM") or cls.oidc_groups_claim,
            oidc_roles_claim=os.environ.get("VALUEMESH_OIDC_ROLES_CLAIM") or cls.oidc_roles_claim,
            oidc_groups_file=os.environ.get("VALUEMESH_OIDC_GROUPS_FILE") or None,
            oidc_client_id=os.environ.get("VALUEMESH_OIDC_CLIENT_ID") or None,
            oidc_client_secret=os.environ.get("VALUEMESH_OIDC_CLIENT_SECRET") or None,
            session_secret=os.environ.get("VALUEMESH_SESSION_SECRET") or None,
            anonymous_writes=_env_bool("VALUEMESH_ANONYMOUS_WRITES", False),
            read_access=_read_access(os.environ.get("VALUEMESH_READ")),
            cors_origins=_env_names("VALUEMESH_CORS_ORIGINS"),
            webhooks=_env_names("VALUEMESH_WEBHOOKS"),
            webhook_secret=os.environ.get("VALUEMESH_WEBHOOK_SECRET") or None,
            webhook_backoff_s=_env_number("VALUEMESH_WEBHOOK_BACKOFF", float, cls.webhook_backoff_s),
            lineage_runs=os.environ.get("VALUEMESH_LINEAGE_RUNS") or None,
            lineage_max_events=_env_number("VALUEMESH_LINEAGE_MAX_EVENTS", int, cls.lineage_max_events),
            lineage_drift_days=_env_number("VALUEMESH_LINEAGE_DRIFT_DAYS", int, cls.lineage_drift_days),
            lineage_retention_days=_env_number("VALUEMESH_LINEAGE_RETENTION_DAYS", int, cls.lineage_retention_days),
            shapes=_env_names("VALUEMESH_SHAPES") or cls.shapes,
            measurements=os.environ.get("VALUEMESH_MEASUREMENTS") or None,
            measurement_retention_days=_env_number(
                "VALUEMESH_MEASUREMENT_RETENTION_DAYS", int, cls.measurement_retention_days
            ),
            max_measurements=_env_number("VALUEMESH_MAX_MEASUREMENTS", int, cls.max_measurements),
            slo_fast_burn=_env_number("VALUEMESH_SLO_FAST_BURN", float, cls.slo_fast_burn),
            slo_fast_window=_env_number("VALUEMESH_SLO_FAST_WINDOW", float, cls.slo_fast_window),
            slo_fast_confirm=_env_number("VALUEMESH_SLO_FAST_CONFIRM", float, cls.slo_fast_confirm),
            slo_slow_burn=_env_number("VALUEMESH_SLO_SLOW_BURN", float, cls.slo_slow_burn),
            slo_slow_window=_env_number("VALUEMESH_SLO_SLOW_WINDOW", float, cls.slo_slow_window),
            slo_slow_confirm=_env_number("VALUEMESH_SLO_SLOW_CONFIRM", float, cls.slo_slow_confirm),
            slo_status_max_age_s=_env_number("VALUEMESH_SLO_STATUS_MAX_AGE", float, cls.slo_status_max_age_s),
            slo_summary_interval_s=_env_number("VALUEMESH_SLO_SUMMARY_INTERVAL", float, cls.slo_summary_interval_s),
        )
        return replace(env, **{k: v for k, v in overrides.items() if v is not None})
