"""Fuzzing /api/v1/models with structurally plausible junk: never a 5xx, every 4xx is a problem body
``{title, status, detail}``, and a refused write changes nothing.

The strategies build query options and bodies out of the real vocabulary (column names, detail
tables, nested ``$expand`` options) and then break them: odd separators, unbalanced parentheses and
quotes, unicode, lone surrogates, NULs and very long strings. Examples share one database (the
fixtures are function-scoped), so successful writes accumulate; assertions only rely on counts taken
around each request.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.models import Organization
from apps.erp.models import BPartner, Order, OrderLine, Product

pytestmark = pytest.mark.django_db
BP_URL = "/api/v1/models/c_bpartner"
ORDER_URL = "/api/v1/models/c_order"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

BP_COLUMNS = [
    "C_BPartner_ID", "C_BPartner_UU", "IsActive", "Created", "CreatedBy", "Updated", "UpdatedBy",
    "AD_Client_ID", "AD_Org_ID", "Value", "Name", "Name2", "Description", "TaxID", "IsCustomer",
    "IsVendor", "C_BP_Group_ID", "SO_CreditLimit", "TotalOpenBalance",
]
ORDER_COLUMNS = [
    "C_Order_ID", "C_Order_UU", "IsActive", "AD_Org_ID", "DocumentNo", "C_BPartner_ID", "DateOrdered",
    "IsSOTrx", "Description", "PriorityRule", "DocStatus", "DocAction", "IsApproved", "Processed",
    "GrandTotal", "SalesRep_ID",
]
LINE_COLUMNS = ["C_OrderLine_ID", "C_Order_ID", "Line", "M_Product_ID", "Description", "QtyOrdered", "PriceActual", "LineNetAmt"]
EXPANDABLE = [
    "C_Order", "C_OrderLine", "C_BPartner_ID", "C_BP_Group_ID", "M_Product_ID", "M_Product_Category_ID",
    "AD_Org_ID", "AD_Client_ID", "CreatedBy", "SalesRep_ID", "c_orderline", "C_ORDER", "Nope", "id", "Name",
]
NAMES = BP_COLUMNS + ORDER_COLUMNS + LINE_COLUMNS + ["id", "uid", "model-name", "nope", "Nope_ID"]
WEIRD = [
    "", " ", "(", ")", "((", "))", "'", "''", ",", ";", "=", "$", "$$", "/", "\\", "%", "%00", "\x00", "\t", "\n",
    "\u00e9", "\u00b2", "\u0660", "\u2028", "\ufeff", "\U0001f600", "\ud800", "\udfff", "Ω", "ǅ", "İ", "ß",
    "-1", "0", "1e3", "99999999999999999999999", "null", "true", "asc", "desc", "ASC", "eq", "and", "or",
]
SEPARATORS = [",", ", ", " ,", ",,", ";", " ", "", "\t", ",(", "),", "|", "\u060c"]

weird_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30)  # surrogates too
token = st.one_of(st.sampled_from(NAMES), st.sampled_from(WEIRD), weird_text)


@st.composite
def mutated(draw, base):
    """``base`` with a few characters deleted or odd tokens inserted at random places."""
    text = draw(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.integers(min_value=0, max_value=len(text)))
        if text and draw(st.booleans()):
            text = text[:where] + text[where + 1 :]
        else:
            text = text[:where] + draw(st.one_of(st.sampled_from(WEIRD), token)) + text[where:]
    return text


def _joined(items, separators=SEPARATORS):
    return st.tuples(st.lists(items, max_size=8), st.sampled_from(separators)).map(lambda pair: pair[1].join(pair[0]))


def _valid_list(columns, *, directions: bool = False):
    item = st.sampled_from(columns)
    if directions:
        item = st.tuples(item, st.sampled_from(["", " asc", " desc", " DESC"])).map("".join)
    return st.lists(item, min_size=1, max_size=5).map(",".join)


def _long(base):
    """A few very long strings: one token repeated hundreds or thousands of times."""
    return st.tuples(base, st.integers(min_value=50, max_value=3000)).map(lambda pair: pair[0] * pair[1])


def _option_text(valid):
    """Mostly valid text, valid text with damage, structured junk, or a very long string."""
    return st.one_of(
        valid, valid, valid, mutated(valid), _joined(token),
        _long(st.sampled_from(["Name,", "Name desc,", ",", "(", "\u00e9", "C_BPartner_ID,Value,", " "])),
    )


BP_SELECTS = _option_text(_valid_list(BP_COLUMNS))
ORDER_SELECTS = _option_text(_valid_list(ORDER_COLUMNS))
BP_ORDERBYS = _option_text(_valid_list(BP_COLUMNS, directions=True))
ORDER_ORDERBYS = _option_text(_valid_list(ORDER_COLUMNS, directions=True))

NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=6).map(str),
    st.integers(min_value=-5, max_value=200).map(str),
    st.sampled_from(["", " ", "0", "00", "+1", "1.5", "1e3", "0x10", "\u00b2", "\u0663", "99999999999999999999999", "-0", "abc"]),
)
LINE_FILTERS = st.sampled_from([
    "Line gt 0", "QtyOrdered gt 1", "Line eq", "(", "')", "Nope eq 1", "Line gt 'x'", "contains(Description,'a')",
    "IsActive eq true", "Line in (10, 20)", "Line eq null", "not (Line gt 10)", "M_Product_ID eq 1",
])
ORDER_FILTERS = st.sampled_from([
    "DocStatus eq 'DR'", "GrandTotal gt 0", "IsSOTrx eq true", "DateOrdered ge '2020-01-01'", "Name eq 'x'",
    "startswith(DocumentNo,'1')", "C_BPartner_ID neq null", "(", "",
])


def _child(name, columns, filters, inner=None):
    """``Name(opts)`` of a detail table: valid options, sometimes a nested $expand."""
    options = [
        st.tuples(st.just("$select="), _valid_list(columns)).map("".join),
        st.tuples(st.just("$filter="), filters).map("".join),
        st.tuples(st.just("$orderby="), _valid_list(columns, directions=True)).map("".join),
        st.tuples(st.sampled_from(["$top=", "$skip=", "$TOP="]), NUMBERS).map("".join),
    ]
    if inner is not None:
        options.append(st.tuples(st.just("$expand="), inner).map("".join))
    return st.one_of(
        st.just(name),
        st.lists(st.one_of(*options), min_size=1, max_size=4).map(lambda opts: f"{name}({';'.join(opts)})"),
    )


def _master(name, columns, inner=None):
    """``FK_ID($select=...;$expand=...)``: only $select and $expand apply (and a zero $top/$skip)."""
    options = [
        st.tuples(st.just("$select="), _valid_list(columns)).map("".join),
        st.sampled_from(["$top=0", "$skip=0", "$top=1", "$filter=Name eq 'x'"]),
    ]
    if inner is not None:
        options.append(st.tuples(st.just("$expand="), inner).map("".join))
    return st.one_of(
        st.just(name),
        st.lists(st.one_of(*options), min_size=1, max_size=3).map(lambda opts: f"{name}({';'.join(opts)})"),
    )


PRODUCT = _master("M_Product_ID", ["Name", "Value", "PriceList"], st.sampled_from(["M_Product_Category_ID", "AD_Org_ID"]))
LINES = _child("C_OrderLine", LINE_COLUMNS, LINE_FILTERS, PRODUCT)
PARTNER = _master("C_BPartner_ID", BP_COLUMNS, st.sampled_from(["C_BP_Group_ID", "AD_Org_ID", "C_Order"]))
ORDER_EXPAND_ITEMS = st.one_of(LINES, PARTNER, st.sampled_from(["SalesRep_ID", "AD_Org_ID", "CreatedBy", "c_orderline"]))
BP_EXPAND_ITEMS = st.one_of(
    _child("C_Order", ORDER_COLUMNS, ORDER_FILTERS, st.one_of(LINES, PARTNER)),
    _master("C_BP_Group_ID", ["Name", "Value"]),
    st.sampled_from(["AD_Org_ID", "C_ORDER", "UpdatedBy"]),
)


def _broken_expand_item(inner):
    """``Name``, ``Name(opts)`` with junk names, unknown options, odd separators and brackets."""
    option = st.one_of(
        st.tuples(st.just("$select="), _joined(token, [",", ", "])).map("".join),
        st.tuples(st.just("$filter="), LINE_FILTERS).map("".join),
        st.tuples(st.just("$orderby="), _joined(token, [",", ", "])).map("".join),
        st.tuples(st.sampled_from(["$top=", "$TOP=", "$skip=", "$Skip="]), NUMBERS).map("".join),
        st.tuples(st.just("$expand="), inner).map("".join),
        st.sampled_from(["$bogus=1", "$top", "=", "$select", "$expand=", "$filter=", ";", ""]),
        token,
    )
    opened = st.sampled_from(["(", "(", "(", " (", "((", "[", ""])
    closed = st.sampled_from([")", ")", ")", "))", "", ") ", ")x", "]"])
    options = st.tuples(st.lists(option, max_size=4), st.sampled_from([";", ";", "; ", ",", "&", ""])).map(
        lambda pair: pair[1].join(pair[0])
    )
    name = st.one_of(st.sampled_from(EXPANDABLE), token)
    return st.one_of(name, st.tuples(name, opened, options, closed).map("".join))


BROKEN_EXPANDS = st.one_of(
    st.recursive(
        _joined(_broken_expand_item(st.sampled_from(EXPANDABLE))),
        lambda inner: _joined(_broken_expand_item(inner)),
        max_leaves=6,
    ),
    _long(st.sampled_from(["C_OrderLine(", "C_OrderLine($expand=", ")", "C_OrderLine,", "(;", "'"])),
    st.integers(min_value=1, max_value=60).map(lambda n: "C_OrderLine($expand=" * n + "M_Product_ID" + ")" * n),
)


def _expands(items):
    valid = st.lists(items, min_size=1, max_size=3, unique_by=lambda item: item.split("(")[0].lower()).map(",".join)
    return st.one_of(valid, valid, mutated(valid), BROKEN_EXPANDS)


ORDER_EXPANDS = _expands(ORDER_EXPAND_ITEMS)
BP_EXPANDS = _expands(BP_EXPAND_ITEMS)


def _get(client, url: str, params: dict[str, str]):
    """GET with the options percent-encoded as UTF-8; a lone surrogate goes out as its (invalid)
    UTF-8 bytes, as a sloppy client would send it."""
    query = "&".join(
        f"{quote(k)}={quote(v, safe='', encoding='utf-8', errors='surrogatepass')}" for k, v in params.items()
    )
    return client.get(f"{url}?{query}" if query else url)


def _assert_problem_or_ok(response, context) -> None:
    assert response.status_code < 500, (context, response.status_code, response.content[:500])
    if response.status_code >= 400:
        body = response.json()
        assert {"title", "status", "detail"} <= set(body), (context, body)
        assert body["status"] == response.status_code and body["title"] and body["detail"], (context, body)


# --- reads ------------------------------------------------------------------------------------------
@FUZZ
@given(
    select=st.one_of(st.none(), ORDER_SELECTS),
    orderby=st.one_of(st.none(), ORDER_ORDERBYS),
    expand=st.one_of(st.none(), ORDER_EXPANDS),
)
def test_fuzzed_order_options_never_5xx(garden_admin, select, orderby, expand):
    params = {k: v for k, v in {"$select": select, "$orderby": orderby, "$expand": expand}.items() if v is not None}
    response = _get(garden_admin, ORDER_URL, {**params, "$top": "3"})
    _assert_problem_or_ok(response, params)


@FUZZ
@given(
    select=st.one_of(st.none(), BP_SELECTS),
    orderby=st.one_of(st.none(), BP_ORDERBYS),
    expand=st.one_of(st.none(), BP_EXPANDS),
    top=st.one_of(st.none(), NUMBERS),
    skip=st.one_of(st.none(), NUMBERS),
)
def test_fuzzed_partner_options_never_5xx(garden_admin, select, orderby, expand, top, skip):
    params = {"$select": select, "$orderby": orderby, "$expand": expand, "$top": top, "$skip": skip}
    params = {k: v for k, v in params.items() if v is not None}
    response = _get(garden_admin, BP_URL, params)
    _assert_problem_or_ok(response, params)


@FUZZ
@given(select=st.one_of(st.none(), ORDER_SELECTS), expand=st.one_of(st.none(), ORDER_EXPANDS))
def test_fuzzed_detail_options_never_5xx(garden_admin, select, expand):
    order = Order.objects.filter(client__name="GardenWorld").order_by("pk").first()
    params = {k: v for k, v in {"$select": select, "$expand": expand}.items() if v is not None}
    response = _get(garden_admin, f"{ORDER_URL}/{order.pk}", params)
    _assert_problem_or_ok(response, params)


def test_fuzzed_options_through_the_raw_query_string(garden_admin):
    """Percent-escapes the test client would never produce: invalid UTF-8, NUL, lone surrogates."""
    for raw in ["%ff%fe", "%ED%A0%80", "%00", "%C0%AF", "C_OrderLine(%00)", "C_OrderLine($top=%ED%A0%80)"]:
        for option in ("$select", "$orderby", "$expand", "$top", "$skip"):
            response = garden_admin.get(f"{ORDER_URL}?{option}={raw}")
            _assert_problem_or_ok(response, (option, raw))


# --- writes -----------------------------------------------------------------------------------------
# Placeholders the tests replace with real ids of the demo rows (strategies are built before the DB).
GROUP, PARTNER_ID, PRODUCT_ID, ORG, UNIQUE = "@GROUP@", "@PARTNER@", "@PRODUCT@", "@ORG@", "@UNIQUE@"
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(WEIRD), weird_text,
    st.sampled_from(["Y", "N", "2024-01-31", "2024-02-30", "2024-01-31T10:00:00Z", "CO", "DR", "5", "1", "Joe Block",
                     "12345678-1234-1234-1234-123456789abc", "1" * 300, GROUP, PARTNER_ID, PRODUCT_ID, ORG, UNIQUE]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(["id", "uid", "identifier", "tableName", "value"]), weird_text), children, max_size=3),
    ),
    max_leaves=6,
)
FK_VALUES = st.one_of(
    st.sampled_from([GROUP, PARTNER_ID, PRODUCT_ID, ORG, 0, -1, 10**9, "0", "", None]),
    st.sampled_from([GROUP, PARTNER_ID, PRODUCT_ID]).map(lambda ph: {"id": ph}),
    st.sampled_from(["Joe Block", "Standard", "Oak Tree", "Nope", "HQ", "\ud800", ""]).map(lambda name: {"identifier": name}),
    st.tuples(st.sampled_from(["Joe Block", "Oak Tree"]), st.sampled_from(["C_BPartner", "M_Product", "AD_Org", "nope"])).map(
        lambda pair: {"identifier": pair[0], "tableName": pair[1]}
    ),
)
TYPED = {
    "Value": st.one_of(st.just(UNIQUE), st.text(max_size=45)), "Name": st.one_of(st.just(UNIQUE), st.text(max_size=65)),
    "Description": st.text(max_size=300), "IsCustomer": st.one_of(st.booleans(), st.sampled_from(["Y", "N", "yes", 1])),
    "SO_CreditLimit": st.one_of(st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str), st.floats(allow_nan=False, allow_infinity=False)),
    "C_BP_Group_ID": FK_VALUES, "C_BPartner_ID": FK_VALUES, "M_Product_ID": FK_VALUES, "AD_Org_ID": FK_VALUES,
    "SalesRep_ID": FK_VALUES, "DateOrdered": st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat())),
    "PriorityRule": st.sampled_from(["1", "3", "5", "7", "9", "2", 5, {"id": "3"}, {"value": "x"}]),
    "QtyOrdered": st.one_of(st.integers(min_value=-10, max_value=10**22), st.decimals(allow_nan=False, allow_infinity=False, places=5).map(str)),
    "PriceActual": st.one_of(st.none(), st.integers(min_value=-10, max_value=10**19), st.floats(allow_nan=False, allow_infinity=False)),
    "Line": st.one_of(st.integers(min_value=-5, max_value=2**40), st.just("x")),
    "doc-action": st.sampled_from(["CO", "VO", "AP", "RJ", "XX", "", 1, None]),
    "IsApproved": st.booleans(), "IsSOTrx": st.booleans(),
}


def _extra(columns):
    """0–3 more keys: a column with a typed value, a column with any value, or any key at all."""
    typed = st.sampled_from([c for c in columns if c in TYPED]).flatmap(lambda c: st.tuples(st.just(c), TYPED[c]))
    anything = st.tuples(st.one_of(st.sampled_from(columns), st.sampled_from(["doc-action", "id", "model-name"]), weird_text), JSON_VALUES)
    return st.lists(st.one_of(typed, typed, typed, anything), max_size=3).map(dict)


def _with(base: dict, extra):
    return extra.map(lambda more: {**base, **more})


VALID_BP = {"Value": UNIQUE, "Name": UNIQUE, "C_BP_Group_ID": GROUP}
BP_BODIES = st.one_of(
    _with(VALID_BP, _extra(BP_COLUMNS)), _with(VALID_BP, _extra(BP_COLUMNS)), _with(VALID_BP, _extra(BP_COLUMNS)),
    _extra(BP_COLUMNS),
    JSON_VALUES,
)
BP_UPDATES = st.one_of(_extra(BP_COLUMNS), _extra(BP_COLUMNS), _extra(BP_COLUMNS), JSON_VALUES)
LINE_BODIES = st.one_of(
    _with({"M_Product_ID": PRODUCT_ID, "QtyOrdered": 2}, _extra(LINE_COLUMNS)),
    _extra(LINE_COLUMNS),
    JSON_VALUES,
)
ORDER_BODIES = st.one_of(
    _with({"C_BPartner_ID": PARTNER_ID}, _extra(ORDER_COLUMNS)),
    _with({"C_BPartner_ID": PARTNER_ID}, _extra(ORDER_COLUMNS)),
    st.tuples(_with({"C_BPartner_ID": PARTNER_ID}, _extra(ORDER_COLUMNS)), st.sampled_from(["C_OrderLine", "c_orderline"]), st.lists(LINE_BODIES, max_size=3)).map(
        lambda t: {**t[0], t[1]: t[2]}
    ),
    _extra(ORDER_COLUMNS),
    JSON_VALUES,
)
ORDER_UPDATES = st.one_of(
    _extra(ORDER_COLUMNS), _extra(ORDER_COLUMNS), _extra(ORDER_COLUMNS),
    st.tuples(_extra(ORDER_COLUMNS), st.lists(LINE_BODIES, max_size=2)).map(lambda t: {**t[0], "C_OrderLine": t[1]}),
    JSON_VALUES,
)


def _fill(value, ids: dict[str, object]):
    if isinstance(value, str):
        if value == UNIQUE:
            return uuid.uuid4().hex[:12]
        return ids.get(value, value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(demo) -> dict[str, object]:
    joe = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    product = Product.objects.filter(client=joe.client).order_by("pk").first()
    org = Organization.objects.filter(client=joe.client).exclude(pk=0).order_by("pk").first()
    return {GROUP: joe.bp_group_id, PARTNER_ID: joe.pk, PRODUCT_ID: product.pk, ORG: org.pk}


def _counts() -> tuple[int, int, int]:
    return BPartner.objects.count(), Order.objects.count(), OrderLine.objects.count()


def _snapshot(model, pk):
    return model.objects.filter(pk=pk).values().first()


def _send(client, method: str, url: str, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@FUZZ
@given(body=BP_BODIES)
def test_fuzzed_partner_create_never_5xx_and_refusals_write_nothing(garden_admin, ids, body):
    body = _fill(body, ids)
    before = _counts()
    response = _send(garden_admin, "post", BP_URL, body)
    _assert_problem_or_ok(response, body)
    if response.status_code >= 400:
        assert _counts() == before, body
    else:
        assert response.status_code == 201 and _counts() == (before[0] + 1, *before[1:])


@FUZZ
@given(body=BP_UPDATES)
def test_fuzzed_partner_update_never_5xx_and_refusals_write_nothing(garden_admin, ids, body):
    body = _fill(body, ids)
    partner = BPartner.objects.filter(client__name="GardenWorld").order_by("pk").first()
    before, row = _counts(), _snapshot(BPartner, partner.pk)
    response = _send(garden_admin, "put", f"{BP_URL}/{partner.pk}", body)
    _assert_problem_or_ok(response, body)
    assert _counts() == before
    if response.status_code >= 400:
        assert _snapshot(BPartner, partner.pk) == row, body


@FUZZ
@given(body=ORDER_BODIES)
def test_fuzzed_order_create_never_5xx_and_refusals_write_nothing(garden_admin, ids, body):
    body = _fill(body, ids)
    before = _counts()
    response = _send(garden_admin, "post", ORDER_URL, body)
    _assert_problem_or_ok(response, body)
    if response.status_code >= 400:
        assert _counts() == before, body
    else:
        assert response.status_code == 201 and _counts()[1] == before[1] + 1


@FUZZ
@given(body=ORDER_UPDATES)
def test_fuzzed_order_update_never_5xx_and_refusals_write_nothing(garden_admin, ids, body):
    body = _fill(body, ids)
    # A draft order when there is one, so that most updates are allowed and the hooks run.
    garden = Order.objects.filter(client__name="GardenWorld").order_by("pk")
    order = garden.filter(doc_status="DR").first() or garden.first()
    before, row = _counts(), _snapshot(Order, order.pk)
    lines = list(OrderLine.objects.filter(order=order).order_by("pk").values())
    response = _send(garden_admin, "put", f"{ORDER_URL}/{order.pk}", body)
    _assert_problem_or_ok(response, body)
    if response.status_code >= 400:
        assert _counts() == before, body
        assert _snapshot(Order, order.pk) == row, body
        assert list(OrderLine.objects.filter(order=order).order_by("pk").values()) == lines, body


# --- 5xx and wrong statuses the fuzzing found ------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        # An offset that pushes a timestamp past year 9999 (or before year 1) in UTC: OverflowError.
        {"$filter": "Created eq '9999-12-31T23:59:59-23:59'"},
        {"$filter": "Updated lt '0001-01-01T00:00:00+23:00'"},
        {"$expand": "C_OrderLine($filter=Created gt '9999-12-31T22:00:00-05:00')"},
    ],
)
def test_timestamp_out_of_range_is_a_400(garden_admin, params):
    response = garden_admin.get(ORDER_URL, params)
    assert response.status_code == 400, response.content
    assert "Created" in response.json()["detail"] or "Updated" in response.json()["detail"]


def test_null_clears_an_optional_text_column(garden_admin):
    """It used to reach the NOT NULL constraint and answer 409 'conflicts with an existing one'."""
    order = Order.objects.filter(client__name="GardenWorld", doc_status="DR").first()
    response = garden_admin.put(f"{ORDER_URL}/{order.pk}", {"Description": None}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["Description"] == ""
    partner = BPartner.objects.get(client__name="GardenWorld", name="Joe Block")
    response = garden_admin.put(f"{BP_URL}/{partner.pk}", {"Name2": None, "TaxID": None}, format="json")
    assert response.status_code == 200, response.content
    # A mandatory text column still refuses null, with a 400 naming it.
    response = garden_admin.put(f"{BP_URL}/{partner.pk}", {"Name": None}, format="json")
    assert response.status_code == 400 and "Name" in response.json()["detail"]


@pytest.mark.parametrize(
    "expand",
    [
        "C_OrderLine,C_OrderLine",
        "C_OrderLine($top=1),c_orderline($top=5)",
        "C_BPartner_ID($expand=C_BP_Group_ID),C_BPartner_ID",
        "C_OrderLine($expand=M_Product_ID,M_Product_ID)",
    ],
)
def test_an_expansion_named_twice_is_a_400(garden_admin, expand):
    """Both loaded into one attribute: the answer mixed one's rows with the other's options."""
    response = garden_admin.get(ORDER_URL, {"$expand": expand})
    assert response.status_code == 400, response.content
    assert "more than once" in response.json()["detail"]
