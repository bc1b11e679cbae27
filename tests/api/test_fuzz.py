"""No input produces a 5xx: random JSON bodies, mutated valid bodies, random query strings and path values
against every API operation (walked from the URL patterns). Bounded and derandomized, so it runs in seconds
and the same way every time. A 500 raises in the test client, so the test fails with the traceback."""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.support import call, example_bodies
from tests.security.urlwalk import api_operations

pytestmark = pytest.mark.django_db

# Per operation; raise it for a longer hunt: ZAPLECZE_FUZZ_EXAMPLES=500 pytest tests/api/test_fuzz.py
EXAMPLES = int(os.environ.get("ZAPLECZE_FUZZ_EXAMPLES", "25"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "NaN",
            "Infinity",
            "1e400",
            "9" * 40,
            "2026-02-30T25:00:00+01:00",
            "x" * 5000,
            "x" * 41,
            "x" * 61,
            "x" * 101,
            "x" * 201,
            "x" * 301,
            "\x00",
            "\ud800",
            "ready",
            "shipped",
            "cancelled",
            "shop",
            "SKU-0001",
            "5901234123457",
            "zw",
            "23",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _mutate(body, path, new, delete):
    body = json.loads(json.dumps(body))
    if not path:
        return new
    target = body
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = new
    return body


@st.composite
def bodies(draw, example):
    """Random JSON (1 in 10), the valid example as it is (2 in 10: reaches the services, and repeats reach
    their update and conflict paths), or the example with one value replaced, one key dropped or one added."""
    choice = draw(st.integers(0, 9))
    if example is None or choice == 0:
        return draw(json_values)
    if choice <= 2:
        return example
    path = draw(st.sampled_from(list(_paths(example))))
    kind = draw(st.sampled_from(["replace", "delete", "add"]))
    if kind == "add":
        return (
            _mutate(example, (*path, draw(st.text(min_size=1, max_size=10))), draw(json_values), False)
            if path and isinstance(_get(example, path), dict)
            else {**example, draw(st.text(max_size=10)): 1}
        )
    return _mutate(example, path, draw(st.one_of(scalars, json_values)), kind == "delete")


def _get(value, path):
    for key in path:
        value = value[key]
    return value


query_keys = st.sampled_from(
    [
        "status",
        "stage",
        "channel",
        "date_from",
        "date_to",
        "payment_status",
        "tag",
        "needs_attention",
        "late",
        "q",
        "sort",
        "cursor",
        "limit",
        "after",
        "offset",
        "sku",
        "warehouse",
        "low",
        "zzz",
    ]
)
query_strings = st.lists(st.tuples(query_keys, st.text(max_size=40)), max_size=5)
path_values = st.one_of(st.integers(min_value=-5, max_value=2**70).map(str), st.text(min_size=1, max_size=40))

OPERATIONS = api_operations()


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_input_produces_a_server_error(world, op):
    bodies_by_op = example_bodies(world)
    example = bodies_by_op.get(f"{op.method} {op.endpoint.route}")
    client = world.api_client("admin")
    good_values = world.values("admin")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=bodies(example),
        query=query_strings,
        params=st.fixed_dictionaries(
            {name: st.one_of(st.just(None), path_values) for name in op.endpoint.params}
        ),
    )
    def check(body, query, params):
        values = {name: quote(str(v), safe="") for name, v in params.items() if v is not None}
        url = op.endpoint.url({**good_values, **values})
        if query:
            url += "?" + urlencode(query)
        response = call(client, op.method, url, body)
        assert response.status_code < 500, (url, body, response.content[:500])
        if response.status_code >= 400 and response["Content-Type"].startswith("application/json"):
            assert {"code", "message"} <= set(response.json()), response.content[:500]

    check()
