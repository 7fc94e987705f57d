"""The database: one engine per URL for the process, one transaction(), one sentence for a database that fails;
schema creation (and its id sequences after a bulk write) and bulk frame I/O (ADBC). No queries."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from dashboard import models  # noqa: F401  (registers the tables on SQLModel.metadata)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or opened; the message says what to check."""


def describe_connection_error(url: str | sa.URL, exc: BaseException) -> str:
    """A sentence for a person: which database failed and what to check."""
    where = make_url(url).render_as_string(hide_password=True)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"Handoff cannot reach its database ({where}): {first_line}. "
        "Check that the server is running and that DATABASE_URL is right."
    )


@contextmanager
def reporting(url: str | sa.URL, *errors: type[BaseException]) -> Iterator[None]:
    """The one place a failing database becomes DatabaseUnavailable, whose message is the sentence a user sees.

    errors: what means "cannot reach or open the database" at this point; SQLAlchemy's OperationalError unless
    given (ADBC raises its drivers' own errors, so its callers name them).
    """
    caught = errors or (sa.exc.OperationalError,)
    try:
        yield
    except caught as exc:
        raise DatabaseUnavailable(describe_connection_error(url, exc)) from exc


_engine_lock = threading.Lock()


def engine(url: str) -> Engine:
    """The engine for url, made once for the life of the process (every session and thread shares it)."""
    with _engine_lock:
        return _engine(url)


@functools.cache
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # No pool: a SQLite connection costs little to open, and none stays open beside the ADBC driver's, which
    # writes the same file.
    made = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool)

    @event.listens_for(made, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return made


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session whose work is committed at the end, or rolled back entirely (a database that fails is reported as
    DatabaseUnavailable)."""
    with reporting(url), Session(engine(url)) as session, session.begin():
        yield session


def create_schema(url: str) -> None:
    """Create every table and index that does not exist yet, and add columns that a newer version defines."""
    with reporting(url):
        SQLModel.metadata.create_all(engine(url))
        _add_missing_columns(engine(url))


def _add_missing_columns(bound: Engine) -> None:
    # A database made by an earlier version lacks the columns added since; each new column is nullable or has
    # a default, so adding it keeps every existing row valid.
    inspector = sa.inspect(bound)
    with bound.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=bound.dialect)
                clause = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                if not column.nullable and column.server_default is not None:
                    default = column.server_default.arg
                    literal = default if isinstance(default, str) else default.compile(dialect=bound.dialect)
                    clause += f" NOT NULL DEFAULT {literal}"
                conn.execute(sa.text(clause))  # names and types come from the schema, never from input


def move_id_sequences(url: str) -> None:
    """Move every table's id sequence on to the table's largest id (PostgreSQL), after rows were written with ids of
    their own (the demo seed): otherwise the next insert that takes its id from the sequence collides."""
    if make_url(url).get_backend_name() != "postgresql":
        return  # SQLite takes the next id from the rows themselves
    with reporting(url), engine(url).begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if "id" not in table.c:
                continue
            sequence = sa.func.pg_get_serial_sequence(table.name, "id")
            # is_called false: the next value handed out is max + 1 (1 for an empty table)
            conn.execute(sa.select(sa.func.setval(sequence, sa.func.coalesce(sa.func.max(table.c.id), 0) + 1, False)))


def adbc_uri(url: str) -> str:
    """The URI that polars' ADBC reader and writer expect for a SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///{parsed.database}"
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def adbc_connect(url: str):
    """A DB-API connection over ADBC (not autocommitting: the caller commits or rolls back)."""
    parsed = make_url(url)
    with reporting(url, Exception):  # ADBC raises driver-specific errors; here all mean "cannot connect"
        if parsed.get_backend_name() == "sqlite":
            import adbc_driver_sqlite.dbapi as driver

            return driver.connect(parsed.database)
        import adbc_driver_postgresql.dbapi as driver

        return driver.connect(adbc_uri(url))


def _columns(table: type[SQLModel], names: Sequence[str] | None = None) -> list[sa.Column]:
    """The table's columns, or the ones named (in that order; a name the table lacks is an error)."""
    columns = table.__table__.columns
    return list(columns) if names is None else [columns[name] for name in names]


def sqlite_text(frame: pl.DataFrame) -> pl.DataFrame:
    # SQLAlchemy stores SQLite datetimes as "YYYY-MM-DD HH:MM:SS.ffffff" text; match it.
    return frame.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S%.6f") for c, t in frame.schema.items() if t == pl.Datetime]
        + [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Date]
    )


def write_frame(frame: pl.DataFrame, table: type[SQLModel], *, url: str) -> int:
    """Append frame's rows to table in one bulk ADBC write; returns the rows written."""
    if frame.is_empty():
        return 0
    columns = [c for c in _columns(table) if c.name in frame.columns]
    # PostgreSQL's binary COPY wants each value in the column's exact width (INTEGER is 32-bit).
    frame = frame.select(
        [
            pl.col(c.name).cast(pl.Int32) if type(c.type) is sa.Integer else pl.col(c.name).cast(_polars_type(c))
            for c in columns
        ]
    )
    if make_url(url).get_backend_name() == "sqlite":
        frame = sqlite_text(frame)
    return frame.write_database(table.__tablename__, adbc_uri(url), engine="adbc", if_table_exists="append")


def _polars_type(column: sa.Column) -> pl.DataType:
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(kind, sa.Date):
        return pl.Date()
    if isinstance(kind, sa.Boolean):
        return pl.Boolean()
    if isinstance(kind, sa.Integer):
        return pl.Int64()
    if isinstance(kind, sa.Float):
        return pl.Float64()
    return pl.String()


def _conformed(frame: pl.DataFrame, table: type[SQLModel], names: Sequence[str] | None = None) -> pl.DataFrame:
    exprs = []
    for column in _columns(table, names):
        want = _polars_type(column)
        have = frame.schema[column.name]
        col = pl.col(column.name)
        if have == pl.String and want == pl.Datetime("us"):
            col = col.str.replace("T", " ", literal=True).str.to_datetime(
                "%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False
            )
        elif have == pl.String and want == pl.Date():
            col = col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        elif have == pl.Null or have != want:
            col = col.cast(want, strict=False)
        exprs.append(col.alias(column.name))
    return frame.select(exprs)


def read_table(table: type[SQLModel], *, url: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """All rows of table (only the columns named, when given) as a polars frame with the schema's types, read in bulk
    over ADBC."""
    sqlite = make_url(url).get_backend_name() == "sqlite"
    names = ", ".join(_selected(c, sqlite=sqlite) for c in _columns(table, columns))
    query = f"SELECT {names} FROM {table.__tablename__}"  # table and column names come from the schema
    with reporting(url, Exception):  # ADBC raises driver-specific errors; here all mean "cannot read"
        frame = pl.read_database_uri(query, adbc_uri(url), engine="adbc")
    return _conformed(frame, table, columns)


def _selected(column: sa.Column, *, sqlite: bool) -> str:
    """The column as read: SQLite keeps a datetime as text, which is slow to parse by the million; it is read as the
    microseconds since 1970 instead, exactly (whole seconds, plus the text's fraction padded to six digits)."""
    if not (sqlite and isinstance(column.type, sa.DateTime)):
        return column.name
    name = column.name
    return f"unixepoch({name}) * 1000000 + CAST(substr({name} || '000000', 21, 6) AS INTEGER) AS {name}"


@dataclass(frozen=True)
class ScoredLeads:
    """How many leads carry something to score them by."""

    any_score: int  # score inputs (profile, activity) or the CRM's own score
    crm_score: int  # the CRM's own score
    model_inputs: int  # inputs for Handoff's scoring model (profile, activity)


def scored_leads(*, url: str, score_inputs: Sequence[str], activity_counts: Sequence[str]) -> ScoredLeads:
    """Count the leads with score inputs (any of score_inputs set, or any of activity_counts above 0) and with the
    CRM's own score, in the database: one pass, without reading the columns."""
    lead = models.Lead.__table__.c
    inputs = sa.or_(
        *(lead[c].isnot(None) for c in score_inputs), *(sa.func.coalesce(lead[c], 0) > 0 for c in activity_counts)
    )
    crm = lead.crm_score.isnot(None)

    def count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = sa.select(count(sa.or_(inputs, crm)), count(crm), count(inputs))
    with reporting(url), engine(url).connect() as conn:
        any_score, crm_score, model_inputs = conn.execute(query).one()
    return ScoredLeads(int(any_score), int(crm_score), int(model_inputs))
