"""Statements planned once per connection (apps.core.prepared): same answers as a plain execute,
on a connection opened again too."""

import pytest
from django.db import connection

from apps.core import prepared

pytestmark = pytest.mark.django_db

SQL = "SELECT %s + 1, %s"


def _run(a: int, b: str):
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, SQL, [a, b])
        return cursor.fetchone()


def test_answers_as_a_plain_statement_every_time():
    assert _run(1, "x") == (2, "x")
    assert _run(41, "it's") == (42, "it's")  # quoting of the parameters is the driver's


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PREPARE is PostgreSQL's")
@pytest.mark.django_db(transaction=True)  # the connection is closed and opened again
def test_postgresql_plans_once_per_connection():
    _run(1, "a")
    name, _ = prepared._statement(SQL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [name])
        assert cursor.fetchone()[0] == 1
    _run(2, "b")  # no second PREPARE (it would fail: the name exists)
    # A connection opened again has no prepared statements: the next call prepares it again.
    connection.close()
    assert _run(3, "c") == (4, "c")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [name])
        assert cursor.fetchone()[0] == 1


def test_model_read_builds_the_instance_a_queryset_builds():
    import uuid

    from apps.accounts.models import Client, User

    client = Client.objects.create(value="prep", name="Prepared")
    user = User.objects.create_user(username="prep-user", password="x", client=client)
    read = prepared.ModelRead(User, "client", "uid")
    found = read.first(client.pk, user.uid)
    expected = User.objects.get(pk=user.pk)
    assert isinstance(found, User) and not found._state.adding
    for field in User._meta.concrete_fields:  # dates, UUIDs, booleans: converted as the ORM does
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert read.first(client.pk, uuid.uuid4()) is None
    assert read.first(client.pk + 1000, user.uid) is None
