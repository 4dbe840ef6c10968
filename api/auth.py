"""API keys: `Authorization: Bearer <key>`, one role per key.

`agent` logs actions, moves and voids and reads deals and pipelines; `manager`
does what an agent does and reads reports, timelines and the projections' status;
`auditor` reads all that and writes nothing; `admin` may do all, rebuilding the
projections included. While the key table is empty the server runs open (every
caller is admin), which `serve` allows on a loopback address only; revoked keys
still count, so revoking every key closes the server, it does not open it.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security, params
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from storage.api_keys import KeyStore, Role

log = logging.getLogger("phaselog.auth")

WRITE: tuple[Role, ...] = ("agent", "manager", "admin")
READ_DEALS: tuple[Role, ...] = ("agent", "manager", "auditor", "admin")
REPORTS: tuple[Role, ...] = ("manager", "auditor", "admin")
ADMIN: tuple[Role, ...] = ("admin",)
AUDIT: tuple[Role, ...] = ("auditor", "admin")  # the log's proof


@dataclass(frozen=True)
class Principal:
    """The caller: their key's role, id and name (no key in open mode)."""

    role: Role
    key_id: str | None = None
    name: str | None = None
    open_mode: bool = False


def recorder_of(principal: Principal) -> dict[str, str]:
    """Who stores what `principal` sends, as each entry records it: the key's
    name and id; in open mode (no keys, loopback only) nobody in particular."""
    if principal.key_id is None:
        return {"via": "open_mode", "name": "local caller (open mode)"}
    return {
        "via": "api_key",
        "key_id": principal.key_id,
        "name": principal.name or principal.key_id,
    }


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: KeyStore) -> None:
    """Refuse to serve without any key on an address other machines can reach."""
    if not keys.empty():
        return
    if not is_loopback(host):
        raise RuntimeError(
            f"no API key exists: refusing to listen on {host}. Set PHASELOG_ADMIN_KEY "
            "or run `phaselog keys create --role admin`, or bind to 127.0.0.1"
        )


def warn_open() -> None:
    log.warning(
        "NO API KEY CONFIGURED: phaselog runs OPEN, every caller is admin. "
        "Set PHASELOG_ADMIN_KEY before exposing it."
    )


async def authenticate(request: Request) -> Principal:
    """Who is calling. Runs on the event loop: a key read in the last
    KEY_CACHE_SECONDS costs no query; else the database is asked, off the loop."""
    keys: KeyStore = request.app.state.keys
    header = request.headers.get("authorization")
    if header is None:
        if await runs_open(keys):
            return Principal("admin", open_mode=True)
        raise _unauthorized("missing Authorization: Bearer <key>")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("expected Authorization: Bearer <key>")
    return await identify(keys, key)


async def runs_open(keys: KeyStore) -> bool:
    """No key exists: every caller is admin (loopback only, see `check_bind`)."""
    return not keys.known_not_empty and await run_in_threadpool(keys.empty)


async def identify(keys: KeyStore, key: str) -> Principal:
    """The holder of `key`; 401 if it is unknown or revoked."""
    found = keys.remembered(key) or await run_in_threadpool(keys.identify, key)
    if found is None:
        raise _unauthorized("unknown API key")
    if not found.active:
        raise _unauthorized("revoked API key")
    return Principal(found.role, found.key_id, found.name)


async def authorize(request: Request, roles: tuple[Role, ...]) -> Principal:
    """The caller, if their role is one of `roles`; else 401 or 403."""
    principal = await authenticate(request)
    if principal.role not in roles:
        needs = " or ".join(roles)
        raise HTTPException(
            403, f"role {principal.role!r} may not do this (needs {needs})"
        )
    return principal


# What the OpenAPI says of keys, so the docs' Authorize button sends one. It
# reads the header for the documentation only: `authenticate` decides.
BEARER = HTTPBearer(
    scheme_name="bearer",
    description="An API key, sent as `Authorization: Bearer <key>`; its role "
    "(agent, manager, auditor or admin) says what it may do. A server with no "
    "key at all runs open, on its own machine only.",
    auto_error=False,
)


def allow(*roles: Role) -> params.Security:
    """A dependency admitting callers whose role is one of `roles`; the OpenAPI
    lists them as the roles of the operation's bearer requirement."""

    async def check(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> Principal:
        return await authorize(request, roles)

    return params.Security(check, scopes=roles)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
