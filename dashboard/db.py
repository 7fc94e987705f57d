"""Database engine, schema creation and bulk frame I/O (ADBC); no queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from dashboard import models  # noqa: F401  (registers the tables on SQLModel.metadata)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or opened; the message says what to check."""


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for url; SQLite files get WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every table and index that does not exist yet, and add columns that a newer version defines."""
    try:
        SQLModel.metadata.create_all(engine)
        _add_missing_columns(engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(describe_connection_error(engine.url, exc)) from exc


def _add_missing_columns(engine: Engine) -> None:
    # A database made by an earlier version lacks the columns added since; each new column is nullable or has
    # a default, so adding it keeps every existing row valid.
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                clause = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                if not column.nullable and column.server_default is not None:
                    default = column.server_default.arg
                    literal = default if isinstance(default, str) else default.compile(dialect=engine.dialect)
                    clause += f" NOT NULL DEFAULT {literal}"
                conn.execute(sa.text(clause))  # names and types come from the schema, never from input


def describe_connection_error(url: sa.URL, exc: Exception) -> str:
    """A sentence for a person: which database failed and what to check."""
    where = url.render_as_string(hide_password=True)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"Handoff cannot reach its database ({where}): {first_line}. "
        "Check that the server is running and that DATABASE_URL is right."
    )


@contextmanager
def transaction(url: str) -> Iterator[Session]:
    """A session whose work is committed at the end, or rolled back entirely with a clear error."""
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            yield session
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(describe_connection_error(engine.url, exc)) from exc
    finally:
        engine.dispose()


def session(engine: Engine) -> Session:
    """A new ORM session on engine."""
    return Session(engine)


def adbc_uri(url: str) -> str:
    """The URI that polars' ADBC reader and writer expect for a SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///{parsed.database}"
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def adbc_connect(url: str):
    """A DB-API connection over ADBC (not autocommitting: the caller commits or rolls back)."""
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            import adbc_driver_sqlite.dbapi as driver

            return driver.connect(parsed.database)
        import adbc_driver_postgresql.dbapi as driver

        return driver.connect(adbc_uri(url))
    except Exception as exc:  # ADBC raises driver-specific errors; all mean "cannot connect"
        raise DatabaseUnavailable(describe_connection_error(parsed, exc)) from exc


def _columns(table: type[SQLModel]) -> list[sa.Column]:
    return list(table.__table__.columns)


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


def _conformed(frame: pl.DataFrame, table: type[SQLModel]) -> pl.DataFrame:
    exprs = []
    for column in _columns(table):
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


def read_table(table: type[SQLModel], *, url: str) -> pl.DataFrame:
    """All rows of table as a polars frame with the schema's types, read in bulk over ADBC."""
    names = ", ".join(c.name for c in _columns(table))
    query = f"SELECT {names} FROM {table.__tablename__}"  # table and column names come from the schema
    try:
        frame = pl.read_database_uri(query, adbc_uri(url), engine="adbc")
    except Exception as exc:  # ADBC raises driver-specific errors; all mean "cannot read"
        raise DatabaseUnavailable(describe_connection_error(make_url(url), exc)) from exc
    return _conformed(frame, table)
