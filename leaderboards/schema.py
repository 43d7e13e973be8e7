"""What a results store holds, written once for every database that holds it: the tables, the
view the board reads, the key that names a run, and the schema's version.

A column has a logical type ("text", "integer", "real", "row_order"); :data:`SPELLINGS` says
how SQLite and PostgreSQL write each, and :meth:`Table.create` renders a table's DDL in
either. The one difference beyond names of types is ``row_order``: PostgreSQL gives ``runs``
a ``seq`` column to order runs written in the same second, where SQLite has its ``rowid``
already, so SQLite leaves that column out.

The run key is :class:`RunKey`: its fields are the ``runs`` table's UNIQUE constraint, the
store's look-ups, merge's matching, and - without the split - the benchmark cell a claim names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

SCHEMA_VERSION = 2  # 2: the data hash is part of a run's key


@dataclass(frozen=True)
class RunKey:
    """What makes two runs 'the same run' for resume and de-duplication: the benchmark cell
    (method, protocol, data set, seed, configuration hash, data hash) and the split. Writing a
    key the store holds replaces that run; a rebuilt data set has a new data hash, so its runs
    stand beside the old version's instead of replacing them."""

    method: str
    protocol: str
    dataset: str
    split: str
    seed: int
    config_hash: str
    data_hash: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> RunKey:
        """The key of a ``runs`` (or ``figure_rows``) row."""
        return cls(*(row[name] for name in RUN_KEY))

    def values(self) -> tuple[Any, ...]:
        """The key's values in column order (the order of :data:`RUN_KEY`)."""
        return tuple(getattr(self, name) for name in RUN_KEY)

    @staticmethod
    def cell_of(row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The benchmark cell a run (a ``runs`` row) belongs to: its key without the split, in
        the order of :data:`CELL_KEY`."""
        return tuple(row[name] for name in CELL_KEY)

    @classmethod
    def cell_id(
        cls, method: str, protocol: str, dataset: str, seed: int, config_hash: str, data_hash: str
    ) -> str:
        """The text that names a benchmark cell - every split of one (method, protocol, data set,
        seed, configuration hash, data hash) - so that two runs of one plan agree on it: what a
        claim names. The parts of :meth:`cell_of`, in its order, joined by ``|``."""
        return "|".join(map(str, (method, protocol, dataset, seed, config_hash, data_hash)))


#: the run key's columns, in the order of :class:`RunKey`'s fields
RUN_KEY = tuple(field.name for field in fields(RunKey))
#: a benchmark cell's columns: the run key without the split
CELL_KEY = tuple(name for name in RUN_KEY if name != "split")


@dataclass(frozen=True)
class Spelling:
    """How one database writes the schema: its name for each logical column type (``None``: the
    database has the column built in and the schema leaves it out), how it creates a view
    that may exist already, and the column that orders runs written in the same second."""

    types: Mapping[str, str | None]
    create_view: str
    row_order: str


SPELLINGS = {
    "sqlite": Spelling(
        types={"text": "TEXT", "integer": "INTEGER", "real": "REAL", "row_order": None},
        create_view="CREATE VIEW IF NOT EXISTS",
        row_order="rowid",
    ),
    "postgresql": Spelling(
        types={"text": "TEXT", "integer": "BIGINT", "real": "DOUBLE PRECISION", "row_order": "BIGSERIAL"},
        create_view="CREATE OR REPLACE VIEW",
        row_order="seq",
    ),
}


@dataclass(frozen=True)
class Column:
    """One column: its name, logical type (a key of :attr:`Spelling.types`) and constraint."""

    name: str
    type: str
    constraint: str = "NOT NULL"


@dataclass(frozen=True)
class Table:
    """A table as every database holds it; :meth:`create` writes it in one database's types."""

    name: str
    columns: tuple[Column, ...]
    constraints: tuple[str, ...] = ()

    @property
    def recorded(self) -> tuple[str, ...]:
        """The columns a writer fills (all but a database's own row order), in table order."""
        return tuple(column.name for column in self.columns if column.type != "row_order")

    def create(self, dialect: str, name: str | None = None) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for ``dialect`` (a key of :data:`SPELLINGS`), under
        ``name`` where given (a migration builds the new table beside the old one)."""
        types = SPELLINGS[dialect].types
        lines = [
            f"{column.name} {types[column.type]} {column.constraint}".rstrip()
            for column in self.columns
            if types[column.type] is not None
        ]
        body = ",\n    ".join([*lines, *self.constraints])
        return f"CREATE TABLE IF NOT EXISTS {name or self.name} (\n    {body}\n)"

    def insert(self) -> str:
        """``INSERT`` of one row's :attr:`recorded` columns, with ``?`` placeholders."""
        names = self.recorded
        return f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


RUNS = Table(
    "runs",
    (
        Column("run_id", "text", "PRIMARY KEY"),
        Column("method", "text"),
        Column("protocol", "text"),
        Column("dataset", "text"),
        Column("split", "text"),
        Column("seed", "integer"),
        Column("config_hash", "text"),
        Column("config_json", "text"),
        Column("data_hash", "text"),
        Column("git_sha", "text"),
        Column("package_versions", "text"),
        Column("device", "text"),
        Column("wall_time_s", "real"),
        Column("details_json", "text"),
        Column("created_at", "text"),
        Column("seq", "row_order", ""),
    ),
    (f"UNIQUE ({', '.join(RUN_KEY)})",),
)

FIGURES = Table(
    "figures",
    (
        Column("run_id", "text", "NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE"),
        Column("metric", "text"),
        Column("value", "real"),
        Column("ci_low", "real", ""),
        Column("ci_high", "real", ""),
    ),
    ("PRIMARY KEY (run_id, metric)",),
)

#: claims on benchmark cells (:mod:`leaderboards.claims`): coordination between runs, not
#: results - created on first use, never read by the board
CLAIMS = Table(
    "claims",
    (Column("cell", "text", "PRIMARY KEY"), Column("owner", "text"), Column("expires_at", "real")),
)

#: the schema version, where a database keeps it in a table (PostgreSQL; SQLite has
#: ``PRAGMA user_version``)
META = Table("modelprint_meta", (Column("key", "text", "PRIMARY KEY"), Column("value", "text")))

#: one row per figure with its run's provenance: what every reader of the store reads
FIGURE_ROWS = (
    "figure_rows",
    """SELECT r.run_id, r.method, r.protocol, r.dataset, r.split, r.seed, f.metric, f.value,
           f.ci_low, f.ci_high, r.config_hash, r.data_hash, r.git_sha, r.package_versions,
           r.device, r.wall_time_s, r.created_at, r.details_json
    FROM figures AS f JOIN runs AS r USING (run_id)""",
)


def create_statements(dialect: str) -> list[str]:
    """The statements that create the results' tables and view in ``dialect``, in order."""
    name, query = FIGURE_ROWS
    return [
        RUNS.create(dialect),
        FIGURES.create(dialect),
        f"{SPELLINGS[dialect].create_view} {name} AS\n    {query}",
    ]
