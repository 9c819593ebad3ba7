"""schemathesis against the live server's OpenAPI schema: over 1,000 generated requests, valid and invalid,
as an authenticated tenant. No server error; every status, content type and body as documented; invalid
requests refused. Derandomized, so a failure reproduces."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from .conftest import LiveServer

CASES_PER_OPERATION_AND_MODE = 50
MIN_TOTAL = 1000


def test_generated_requests_find_no_failure(keyed_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{keyed_server.url}/openapi.json")
    session = requests.Session()
    headers = keyed_server.headers("alice")
    counts: Counter[str] = Counter()

    def exercise(operation: Any, mode: GenerationMode) -> None:
        # A schema cannot say "a video": an upload that fits the schema may still be refused (415).
        excluded = [positive_data_acceptance] if operation.label == "POST /api/v1/upload" else []

        @settings(
            max_examples=CASES_PER_OPERATION_AND_MODE,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            counts[operation.label] += 1
            case.call_and_validate(
                base_url=keyed_server.url,
                session=session,
                headers=headers,
                excluded_checks=excluded,
                timeout=30,
            )

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong in a request without parameters

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exercise(result.ok(), mode)
    session.close()
    total = sum(counts.values())
    assert total >= MIN_TOTAL, counts
    assert len(counts) >= 12, counts  # every operation was exercised
