"""What PHASELOG_DATABASE_URL may say: a URL, or libpq's key=value settings.

`sqlite:///path`, `postgresql://user[:pw]@host:port/db[?schema=s]`, or what
`psql` takes, as many PostgreSQL users have it at hand:
`host=127.0.0.1 port=5432 dbname=test user=postgres [password=...] [schema=s]`.
`schema` is phaselog's own word in both forms (libpq does not know it): the
PostgreSQL schema that holds phaselog's tables. It is taken out before libpq
reads the rest. What either form leaves out is the same: host 127.0.0.1, port
5432, user and database `postgres`, schema `public`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

URL_SCHEMES = ("sqlite", "postgresql", "postgres")
# The libpq settings the storage library passes on; libpq reads any other
# (sslmode, options, ...) from its own environment variables (PGSSLMODE, ...).
READ = ("host", "port", "dbname", "user", "password")
FORMS = (
    "sqlite:///path, postgresql://user@host:5432/db or libpq's key=value "
    "settings (host=127.0.0.1 port=5432 dbname=db user=postgres)"
)
# One `key = value` of a libpq string: a value is quoted ('a b', with \' and
# \\ inside) or runs to the next space.
_PAIR = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)+)\s*")


@dataclass(frozen=True)
class Postgres:
    host: str = "127.0.0.1"
    port: str = "5432"
    dbname: str = "postgres"
    user: str = "postgres"
    password: str = ""
    schema: str = "public"


def is_sqlite(value: str) -> bool:
    return urlsplit(value).scheme == "sqlite"


def check(value: str) -> None:
    """ValueError saying why `value` is neither form."""
    scheme = urlsplit(value).scheme
    if scheme in URL_SCHEMES:
        return
    if "=" in value and "://" not in value:
        postgres(value)
        return
    got = f"a {scheme!r} URL" if scheme else "neither"
    raise ValueError(f"must be {FORMS}; got {got}")


def postgres(value: str) -> Postgres:
    """Where a PostgreSQL database is, from either form."""
    if urlsplit(value).scheme in URL_SCHEMES:
        return _from_url(value)
    rest, schema = _schema_apart(value)
    try:
        given = conninfo_to_dict(rest)
    except psycopg.ProgrammingError as error:
        said = str(error).strip()
        raise ValueError(f"not libpq's key=value settings: {said}") from None
    ignored = sorted(set(given) - set(READ))
    if ignored:
        raise ValueError(
            f"{', '.join(ignored)}: not read from here, only {', '.join(READ)} "
            "and schema; libpq reads its other settings from its environment "
            "(PGSSLMODE, PGOPTIONS, ...)"
        )
    found = {name: str(given[name]) for name in READ if given.get(name)}
    return Postgres(**found, **({"schema": schema} if schema else {}))


def _from_url(value: str) -> Postgres:
    url = urlsplit(value)
    query = parse_qs(url.query)
    return Postgres(
        host=query.get("host", [url.hostname or "127.0.0.1"])[0],
        port=str(url.port or 5432),
        dbname=unquote(url.path.lstrip("/")) or "postgres",
        user=unquote(url.username or "postgres"),
        password=unquote(url.password or ""),
        schema=query.get("schema", ["public"])[0],
    )


def _schema_apart(text: str) -> tuple[str, str | None]:
    """`text` without its `schema=...`, and that schema. Text that does not
    parse is returned whole, for libpq to say what is wrong with it."""
    kept, schema, at = [], None, 0
    while at < len(text.rstrip()):
        pair = _PAIR.match(text, at)
        if pair is None:
            return text, None
        key, value = pair.groups()
        if key == "schema":
            quoted = value.startswith("'")
            schema = re.sub(r"\\(.)", r"\1", value[1:-1] if quoted else value)
        else:
            kept.append(pair.group().strip())
        at = pair.end()
    return " ".join(kept), schema
