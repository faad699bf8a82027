"""Per-row values for many rows in one statement.

Recording a batch of sends sets each row's own executed_at and message id. Django's
bulk_update builds a CASE expression per row and field, and at a burst's scale that costs more
than the sends it records; on PostgreSQL one UPDATE … FROM unnest(arrays) does the same work
with one parameter per column, whatever the number of rows (a placeholder per value made the
driver's query parsing the largest cost of a burst's record).
"""

from django.db import connection
from django.db.models import Field, JSONField, Model
from django.db.models.lookups import In
from psycopg.types.json import Jsonb


@Field.register_lookup
class AnyOf(In):
    """`field__any=values`: `field = ANY(array)` on PostgreSQL, `IN (…)` elsewhere. One
    parameter however many values, so the statement's text is the same for every batch and the
    driver parses it once (`__in` spells out a placeholder per value)."""

    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, values = self.process_rhs(compiler, connection)  # EmptyResultSet when none
        cast = self.lhs.output_field.cast_db_type(connection)
        return f"{lhs} = ANY(%s::{cast}[])", [*lhs_params, list(values)]


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
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in columns)
    params = [
        [column.get_db_prep_value(getattr(obj, column.attname), connection) for obj in objs]
        for column in columns
    ]
    names = [quote(c.column) for c in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM unnest({arrays}) AS v({', '.join(names)}) "
        f"WHERE t.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def copy_new(objs: list[Model]) -> None:
    """Insert new objects (all of one model, primary keys set) in one COPY on PostgreSQL: no
    query text to build or parse, each value written by the driver's C dumpers (an INSERT of
    unnest(arrays) spends most of its time quoting the arrays in Python). bulk_create elsewhere.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta, quote = model._meta, connection.ops.quote_name
    fields = [f for f in meta.concrete_fields]
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    columns = ", ".join(quote(f.column) for f in fields)
    names = [f.attname for f in fields]
    sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            row = [getattr(obj, name) for name in names]
            copy.write_row(
                [Jsonb(v) if n in json_fields else v for n, v in zip(names, row, strict=True)]
            )
