"""The API fuzzed against its own OpenAPI spec, in process: whatever schemathesis sends, no 500s and every
answer as documented. Submissions carry a valid token, so bodies reach the parser and the checks.

Every default check runs but "schema-valid data is accepted": a results file can match the JSON schema and
still be refused with 422 for what a schema cannot say (statistics that are not those of the samples sent,
an unknown workload), which is the point of the plausibility check."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from batchmark.server.main import create_app
from batchmark.server.settings import ServerSettings
from batchmark.store import open_history
from batchmark.store.tokens import create_token
from tests import sample_runs
from tests.server.helpers import fast_run

MAX_EXAMPLES = 60  # per operation: 13 operations in about 30 s here


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    database = str(tmp_path_factory.mktemp("fuzz") / "leaderboard.sqlite")
    history = open_history(database)
    _, token = create_token(history, "fuzzer")
    for run in (sample_runs.standard_run(), fast_run()):  # something to find, so reads do real work
        history.import_run(run)
    history.close()
    app = create_app(ServerSettings(database=database, submissions_per_window=100_000))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(app) as client:
        for run in (sample_runs.standard_run(), fast_run()):
            assert client.post("/api/v1/runs", content=run.model_dump_json(),
                               headers={"Authorization": f"Bearer {token}"}).status_code == 201
    return app, token


def test_api_conforms_to_its_spec_and_never_fails(fuzzed):
    """Every operation in turn (schemathesis's pytest plugin does not run under pytest 9, so hypothesis
    drives its strategies here); the failures of all operations are reported together."""
    app, token = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as error:  # noqa: BLE001  (collect every operation's failure, then fail once)
            failures.append(f"{operation.label}: {str(error)[:2000]}")
    assert operations >= 12
    assert not failures, "\n\n".join(failures)
