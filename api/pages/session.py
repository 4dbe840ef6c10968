"""Who looks at a page: an API key kept in an HttpOnly, SameSite cookie.

Signing in posts the key once; the browser then sends it back on each page of
this server and no script can read it (SameSite=Lax: a link from elsewhere
opens the page signed in; pages only read). The API itself still takes the key
only as `Authorization: Bearer`, so a page of another site can make a browser send
the cookie but never to an API route. The two forms (sign in, sign out) carry
a token that must equal the `phaselog_csrf` cookie (a double-submit token: a
page of another site can neither read the cookie nor set it), and a browser's
`Origin`, when sent, must be this server's. The API's roles apply: a page
needs what its API route needs. With no key at all (open mode, loopback only)
every page is open, as the API is.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from fastapi import HTTPException, Request

from api.auth import Principal, identify, runs_open

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.responses import Response

    from storage.api_keys import Role

KEY_COOKIE = "phaselog_key"
CSRF_COOKIE = "phaselog_csrf"
CSRF_FIELD = "csrf"
SESSION_SECONDS = 8 * 3600  # a working day; the key itself stays valid


class SignInNeeded(Exception):
    """No (valid) key in the cookie: the page is shown after signing in."""

    def __init__(self, target: str, reason: str | None = None) -> None:
        super().__init__(target)
        self.target, self.reason = target, reason


class NotAllowed(Exception):
    """A signed-in viewer whose role may not see this page."""

    def __init__(self, principal: Principal, roles: tuple[Role, ...]) -> None:
        super().__init__(principal.role)
        self.principal, self.roles = principal, roles


def here(request: Request) -> str:
    """This page's path and query: where signing in comes back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def sign_in_url(target: str) -> str:
    return f"/signin?next={quote(target, safe='')}"


def local(target: str | None) -> str:
    """`target` if it is a path on this server, else the start page (no open
    redirect through `next=`)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return "/"
    if target.startswith("//") or "\\" in target:
        return "/"
    return target


async def viewer_of(request: Request, roles: tuple[Role, ...]) -> Principal:
    """The viewer, if their role is one of `roles`; else sign in or refuse."""
    keys = request.app.state.keys
    key = request.cookies.get(KEY_COOKIE)
    if not key:
        if await runs_open(keys):
            return Principal("admin", open_mode=True)
        raise SignInNeeded(here(request))
    try:
        principal = await identify(keys, key)
    except HTTPException as refused:
        raise SignInNeeded(here(request), str(refused.detail)) from None
    if principal.role not in roles:
        raise NotAllowed(principal, roles)
    return principal


def viewer(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A page dependency admitting viewers whose role is one of `roles`."""

    async def check(request: Request) -> Principal:
        return await viewer_of(request, roles)

    return check


def csrf_token(request: Request) -> str:
    """The browser's form token (the cookie's), or a new one to set."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def keep_csrf(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


def csrf_problem(request: Request, sent: str | None) -> str | None:
    """Why a form post is refused as cross-site, or None."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        if urlsplit(origin).netloc != request.url.netloc:
            return "the form came from another site"
    expected = request.cookies.get(CSRF_COOKIE)
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        return "the form's token does not match this browser's (reload the page)"
    return None


def remember_key(request: Request, response: Response, key: str) -> None:
    response.set_cookie(
        KEY_COOKIE,
        key,
        max_age=SESSION_SECONDS,
        httponly=True,
        # Lax: a shared link opened from mail or chat finds the viewer signed
        # in; only GET pages, which change nothing, are reached that way.
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def forget_key(response: Response) -> None:
    response.delete_cookie(KEY_COOKIE, path="/")
