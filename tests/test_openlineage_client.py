"""The real `openlineage-python` client, its HTTP transport pointed at a live catalog (uvicorn on loopback), as a
pipeline team would configure it: URL and API key, nothing valuemesh-specific but the optional run facet."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import attr
import httpx
import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, data_quality_assertions_dataset
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from server.identity.principal import Role
from tests.test_load_endpoint import running  # noqa: F401 - the fixture: a seeded catalog on disk under uvicorn

CAT = "https://valuemesh.example/"
WAREHOUSE = "postgres://warehouse.roche.example:5432"
CRM = CAT + "data-product/crm-interactions"
HCP_360 = CAT + "data-product/hcp-360"
PRODUCER = "https://github.com/valuemesh/valuemesh/tests"


@attr.define
class ValuemeshRunFacet(RunFacet):
    """The run facet that names the product a run belongs to, as a producer would define it."""

    dataProduct: str

    @staticmethod
    def _get_schema() -> str:
        return "https://valuemesh.example/spec/ValuemeshRunFacet.json"


def client_for(url: str, app: Any, *, compression: HttpCompression | None = None) -> OpenLineageClient:
    secret, _ = app.state.catalog.identity.tokens.create(
        "commercial-airflow", agent=CAT + "agent/commercial-airflow", domains=[CAT + "domain/commercial"],
        roles=[Role.DOMAIN_MEMBER], expires_in=None,
    )  # fmt: skip
    config = HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": secret}), compression=compression)
    return OpenLineageClient(transport=HttpTransport(config))


def event(state: RunState, run_id: str, when: datetime, job: str, reads: list[str], writes: list[str], **run: Any) -> RunEvent:  # fmt: skip
    return RunEvent(
        eventType=state,
        eventTime=when.isoformat(),
        run=Run(runId=run_id, facets=run),
        job=Job(namespace="airflow://commercial", name=job),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=WAREHOUSE, name=name) for name in reads],
        outputs=[OutputDataset(namespace=WAREHOUSE, name=name) for name in writes],
    )


def graphql(url: str, query: str, **variables: Any) -> Any:
    answer = httpx.post(url + "/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in answer, answer
    return answer["data"]


DRIFT = "query($id: ID!) { lineageDrift(id: $id) { runs undeclaredReads unobservedInputs { name } } }"


def test_the_python_client_reports_a_run_and_drift_shows_what_it_read(running: tuple[str, Any]) -> None:  # noqa: F811
    url, app = running
    client = client_for(url, app)
    run_id, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(hours=1)
    reads = ["commercial.crm.interactions", "commercial.web.sessions"]
    client.emit(event(RunState.START, run_id, started, "hcp_360.build", reads, []))
    quality = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[data_quality_assertions_dataset.Assertion(assertion="not_null", success=True, column="hcp_id")]
    )
    done = event(RunState.COMPLETE, run_id, started + timedelta(minutes=9), "hcp_360.build", reads, [])
    done.outputs = [
        OutputDataset(namespace=WAREHOUSE, name="commercial.hcp360.profiles", facets={"dataQualityAssertions": quality})
    ]
    client.emit(done)

    drift = graphql(url, DRIFT, id=HCP_360)["lineageDrift"]
    assert drift["runs"] == 1
    assert drift["undeclaredReads"] == [f"{WAREHOUSE}/commercial.web.sessions"]
    assert [p["name"] for p in drift["unobservedInputs"]] == ["Face-to-face meetings", "HCP master data"]


def test_the_run_facet_names_the_product_and_compressed_events_are_taken(running: tuple[str, Any]) -> None:  # noqa: F811
    url, app = running
    client = client_for(url, app, compression=HttpCompression.GZIP)
    run_id, started = str(uuid.uuid4()), datetime.now(UTC) - timedelta(minutes=30)
    facet = ValuemeshRunFacet(dataProduct=CRM)
    client.emit(event(RunState.START, run_id, started, "crm.nightly", ["CRM.INTERACTIONS"], [], valuemesh=facet))
    client.emit(event(RunState.FAIL, run_id, started + timedelta(minutes=2), "crm.nightly", [], [], valuemesh=facet))
    runs = app.state.catalog.observed_lineage.runs
    summary = runs.summary(CRM)
    assert (summary.runs, summary.failed_runs, summary.last_run.state) == (1, 1, "FAIL")
    assert runs.path.name == "store.lineage-runs.sqlite" and runs.path.exists()  # beside the store on disk


def test_a_refusal_reaches_the_client_as_an_http_error(running: tuple[str, Any]) -> None:  # noqa: F811
    url, app = running
    client = client_for(url, app)
    outsider = event(RunState.START, str(uuid.uuid4()), datetime.now(UTC), "x", [], [], valuemesh=ValuemeshRunFacet(
        dataProduct=CAT + "data-product/no-such-product"))  # fmt: skip
    with pytest.raises(requests.HTTPError, match="400 Client Error"):
        client.emit(outsider)
