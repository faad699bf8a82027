"""Per-row values for many rows in one statement.

Recording a batch of sends sets each row's own executed_at and message id. Django's
bulk_update builds a CASE expression per row and field, and at a burst's scale that costs more
than the sends it records; on PostgreSQL one UPDATE … FROM (VALUES …) does the same work.
"""

from django.db import connection
from django.db.models import Model


def update_rows(objs: list[Model], fields: list[str]) -> None:
    """Write `fields` of each object in `objs` (all of one model) to its row."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    row = "(" + ", ".join(f"%s::{c.db_type(connection)}" for c in columns) + ")"
    params = [
        column.get_db_prep_value(getattr(obj, column.attname), connection)
        for obj in objs
        for column in columns
    ]
    names = [quote(c.column) for c in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM (VALUES {', '.join([row] * len(objs))}) AS v({', '.join(names)}) "
        f"WHERE t.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
