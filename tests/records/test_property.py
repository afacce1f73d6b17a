"""Property-based tests: random $filter text never gives a 500; valid generated filters select exactly
the rows that a plain-Python evaluation over the demo rows selects."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.erp.models import BPartner

pytestmark = pytest.mark.django_db
BP_URL = "/api/v1/models/c_bpartner"
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

TOKENS = [
    "Name", "Value", "IsCustomer", "SO_CreditLimit", "Created", "id", "uid", "C_BP_Group_ID", "Nope",
    "eq", "neq", "gt", "ge", "lt", "le", "in", "and", "or", "not", "null", "true", "false",
    "contains(", "startswith(", "endswith(", "tolower(", "toupper(", "(", ")", ",", "'", "''",
    "'Joe Block'", "'%'", "'_'", "1", "-2.5", "99999999999999999999999", "'2024-01-31'",
    "'2024-01-31T10:00:00Z'", "@", "$", "\\", "\x00", "é", ";",
]


@SETTINGS
@given(st.one_of(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join), st.text(max_size=60)))
def test_random_filters_never_500(garden_admin, text):
    response = garden_admin.get(BP_URL, {"$filter": text})
    assert response.status_code in (200, 400), (text, response.content)
    if response.status_code == 400:
        assert response.json()["detail"]


@SETTINGS
@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.text(max_size=30),
)
def test_random_options_never_500(garden_admin, select, orderby, expand):
    response = garden_admin.get(BP_URL, {"$select": select, "$orderby": orderby, "$expand": expand, "$top": "3"})
    assert response.status_code in (200, 400), response.content


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=5,
)
COLUMNS = ["Name", "Value", "IsCustomer", "C_BP_Group_ID", "SO_CreditLimit", "AD_Org_ID", "Created", "Description"]


@SETTINGS
@given(st.dictionaries(st.one_of(st.sampled_from(COLUMNS), st.text(max_size=10)), JSON_VALUES, max_size=4))
def test_random_bodies_never_500(garden_admin, body):
    # Any GardenWorld partner: an earlier example may have renamed Joe Block (examples share the DB).
    joe = BPartner.objects.filter(client__name="GardenWorld").order_by("pk").first()
    response = garden_admin.put(f"{BP_URL}/{joe.pk}", body, format="json")
    assert response.status_code in (200, 400, 403, 409), (body, response.content)


# --- generated valid filters vs. a Python evaluation ---------------------------------------------
LIKE_IGNORES_CASE = connection.vendor == "sqlite"
WORDS = ["Joe Block", "Farm", "Inc.", "Tree", "C&W", "Patio Fun, Inc.", "joe", "%", "_", "O'Neil", "e", ""]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _like(func: str, haystack: str, needle: str) -> bool:
    if LIKE_IGNORES_CASE:
        haystack, needle = haystack.lower(), needle.lower()
    return {
        "contains": needle in haystack,
        "startswith": haystack.startswith(needle),
        "endswith": haystack.endswith(needle),
    }[func]


@st.composite
def leaf(draw):
    kind = draw(st.sampled_from(["str_eq", "str_func", "lower_eq", "bool", "num", "id_in", "str_in"]))
    column = draw(st.sampled_from(["Name", "Value"]))
    word = draw(st.sampled_from(WORDS))
    if kind == "str_eq":
        op = draw(st.sampled_from(["eq", "neq"]))
        return f"{column} {op} {_quote(word)}", (lambda r: (r[column] == word) == (op == "eq"))
    if kind == "str_func":
        func = draw(st.sampled_from(["contains", "startswith", "endswith"]))
        return f"{func}({column},{_quote(word)})", (lambda r: _like(func, r[column], word))
    if kind == "lower_eq":
        return f"tolower({column}) eq {_quote(word.lower())}", (lambda r: r[column].lower() == word.lower())
    if kind == "bool":
        column = draw(st.sampled_from(["IsCustomer", "IsVendor", "IsActive"]))
        value = draw(st.booleans())
        return f"{column} eq {'true' if value else 'false'}", (lambda r: r[column] == value)
    if kind == "num":
        column = draw(st.sampled_from(["id", "SO_CreditLimit"]))
        op = draw(st.sampled_from(["eq", "neq", "gt", "ge", "lt", "le"]))
        value = draw(st.integers(min_value=-1, max_value=12))
        ops = {
            "eq": lambda a: a == value, "neq": lambda a: a != value, "gt": lambda a: a > value,
            "ge": lambda a: a >= value, "lt": lambda a: a < value, "le": lambda a: a <= value,
        }
        flipped = draw(st.booleans()) and op in {"eq", "neq"}
        text = f"{value} {op} {column}" if flipped else f"{column} {op} {value}"
        return text, (lambda r: ops[op](r[column]))
    if kind == "id_in":
        values = draw(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=4))
        return f"id in ({', '.join(map(str, values))})", (lambda r: r["id"] in values)
    values = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    return f"{column} in ({', '.join(map(_quote, values))})", (lambda r: r[column] in values)


def combine(children):
    def pair(draw_pair):
        (left, lf), (right, rf), connective = draw_pair
        if connective == "and":
            return f"({left}) and ({right})", (lambda r: lf(r) and rf(r))
        return f"({left}) or ({right})", (lambda r: lf(r) or rf(r))

    def negate(item):
        text, fn = item
        return f"not ({text})", (lambda r: not fn(r))

    return st.one_of(
        st.tuples(children, children, st.sampled_from(["and", "or"])).map(pair),
        children.map(negate),
    )


FILTERS = st.recursive(leaf(), combine, max_leaves=8)


@pytest.fixture
def demo_rows(demo):
    partners = BPartner.objects.filter(client__name="GardenWorld")
    partners.filter(name="Tree Farm Inc.").update(so_credit_limit=Decimal(5), name2="")
    partners.filter(name="Seed Farm Inc.").update(value="O'Neil_%")
    return [
        {
            "id": bp.pk, "Name": bp.name, "Value": bp.value, "IsCustomer": bp.is_customer,
            "IsVendor": bp.is_vendor, "IsActive": bp.is_active, "SO_CreditLimit": bp.so_credit_limit,
        }
        for bp in partners
    ]


@SETTINGS
@given(FILTERS)
def test_generated_filters_match_python(garden_admin, demo_rows, generated):
    text, predicate = generated
    response = garden_admin.get(BP_URL, {"$filter": text, "$select": "Name", "$top": "1000"})
    assert response.status_code == 200, (text, response.content)
    got = sorted(r["id"] for r in response.json()["records"])
    expected = sorted(r["id"] for r in demo_rows if predicate(r))
    assert got == expected, text
