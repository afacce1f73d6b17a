"""The database bumps a role's table access generation itself, on every write to its
``AD_Table_Access`` rows: ORM, admin, raw SQL and iDempiere-style scripts alike.

``AD_Access_Generation`` holds one counter per role (no row: 0). A trigger on ``AD_Table_Access``
sets the counter of every role whose rows an INSERT, UPDATE (the old and the new role) or DELETE
touches to max(counter + 1, now in ms), in the writing transaction; on PostgreSQL a TRUNCATE bumps
every role. The cached access is filed under the counter (``apps.accounts.table_access_cache``).

PostgreSQL: statement-level triggers with transition tables (one upsert per statement, roles in id
order so that concurrent writers lock counters in one order). SQLite (embedded mode): row triggers.

SQLite rebuilds a table for most later ``AlterField``s of its model, and a rebuilt table has lost its
triggers: a migration that alters ``AD_Table_Access`` must create them again
(``tests/records/test_access_generation.py`` checks they are there).
"""

from django.db import migrations

TABLE = '"AD_Access_Generation"'

CREATE_TABLE = (
    f'CREATE TABLE {TABLE} ("AD_Role_ID" bigint NOT NULL PRIMARY KEY, "Generation" bigint NOT NULL)'
)

POSTGRESQL = [
    CREATE_TABLE,
    f"""
    CREATE FUNCTION ledgerdoc_access_generation_bump(roles bigint[]) RETURNS void
    LANGUAGE sql AS $$
        INSERT INTO {TABLE} AS g ("AD_Role_ID", "Generation")
        SELECT d.role_id, (extract(epoch FROM clock_timestamp()) * 1000)::bigint
        FROM (SELECT DISTINCT role_id FROM unnest(roles) AS u(role_id)
              WHERE role_id IS NOT NULL) d
        ORDER BY d.role_id
        ON CONFLICT ("AD_Role_ID") DO UPDATE
        SET "Generation" = GREATEST(g."Generation" + 1, EXCLUDED."Generation")
    $$
    """,
    """
    CREATE FUNCTION ledgerdoc_table_access_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM ledgerdoc_access_generation_bump(ARRAY(SELECT "AD_Role_ID" FROM new_rows));
        ELSIF TG_OP = 'UPDATE' THEN
            PERFORM ledgerdoc_access_generation_bump(ARRAY(
                SELECT "AD_Role_ID" FROM old_rows UNION SELECT "AD_Role_ID" FROM new_rows));
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM ledgerdoc_access_generation_bump(ARRAY(SELECT "AD_Role_ID" FROM old_rows));
        ELSE  -- TRUNCATE: every role
            PERFORM ledgerdoc_access_generation_bump(ARRAY(SELECT "AD_Role_ID" FROM "AD_Role"));
        END IF;
        RETURN NULL;
    END
    $$
    """,
    'CREATE TRIGGER ledgerdoc_table_access_insert AFTER INSERT ON "AD_Table_Access" '
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledgerdoc_table_access_changed()",
    'CREATE TRIGGER ledgerdoc_table_access_update AFTER UPDATE ON "AD_Table_Access" '
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledgerdoc_table_access_changed()",
    'CREATE TRIGGER ledgerdoc_table_access_delete AFTER DELETE ON "AD_Table_Access" '
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledgerdoc_table_access_changed()",
    'CREATE TRIGGER ledgerdoc_table_access_truncate AFTER TRUNCATE ON "AD_Table_Access" '
    "FOR EACH STATEMENT EXECUTE FUNCTION ledgerdoc_table_access_changed()",
]

POSTGRESQL_REVERSE = [
    'DROP TRIGGER IF EXISTS ledgerdoc_table_access_truncate ON "AD_Table_Access"',
    'DROP TRIGGER IF EXISTS ledgerdoc_table_access_delete ON "AD_Table_Access"',
    'DROP TRIGGER IF EXISTS ledgerdoc_table_access_update ON "AD_Table_Access"',
    'DROP TRIGGER IF EXISTS ledgerdoc_table_access_insert ON "AD_Table_Access"',
    "DROP FUNCTION IF EXISTS ledgerdoc_table_access_changed()",
    "DROP FUNCTION IF EXISTS ledgerdoc_access_generation_bump(bigint[])",
    f"DROP TABLE IF EXISTS {TABLE}",
]


def _sqlite_bump(row: str) -> str:
    return (
        f'INSERT INTO {TABLE} ("AD_Role_ID", "Generation") '
        f"""VALUES ({row}."AD_Role_ID", CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) """
        f'ON CONFLICT ("AD_Role_ID") DO UPDATE '
        f'SET "Generation" = MAX({TABLE}."Generation" + 1, excluded."Generation");'
    )


SQLITE = [
    CREATE_TABLE,
    'CREATE TRIGGER ledgerdoc_table_access_insert AFTER INSERT ON "AD_Table_Access" '
    f"BEGIN {_sqlite_bump('NEW')} END",
    'CREATE TRIGGER ledgerdoc_table_access_update AFTER UPDATE ON "AD_Table_Access" '
    f"BEGIN {_sqlite_bump('OLD')} {_sqlite_bump('NEW')} END",
    'CREATE TRIGGER ledgerdoc_table_access_delete AFTER DELETE ON "AD_Table_Access" '
    f"BEGIN {_sqlite_bump('OLD')} END",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledgerdoc_table_access_delete",
    "DROP TRIGGER IF EXISTS ledgerdoc_table_access_update",
    "DROP TRIGGER IF EXISTS ledgerdoc_table_access_insert",
    f"DROP TABLE IF EXISTS {TABLE}",
]

STATEMENTS = {"postgresql": (POSTGRESQL, POSTGRESQL_REVERSE), "sqlite": (SQLITE, SQLITE_REVERSE)}


def _run(schema_editor, forward: bool) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"No access generation triggers for {vendor}: PostgreSQL or SQLite only.")
    for sql in STATEMENTS[vendor][0 if forward else 1]:
        schema_editor.execute(sql, params=None)


def forwards(apps, schema_editor) -> None:
    _run(schema_editor, forward=True)


def backwards(apps, schema_editor) -> None:
    _run(schema_editor, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_system_rows"),
        ("records", "0002_column_default_value"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
