"""Screenshots of each page at 1280x800, for docs/ and the README.

    python -m bench.screenshots [--out docs] [--actions 3000]

Loads the demo history (`phaselog demo`) into a fresh SQLite database, serves
it keyed with `phaselog serve`, signs in through the form in Debian's Chromium
(/usr/bin/chromium, driven by Playwright) and photographs the pages of the
Dutch Tesoro pipeline and one of its deals.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.server import free_port, wait_ready

PHASELOG = Path(sys.executable).parent / "phaselog"
KEY = "screenshots-only-admin-key"
PIPELINE = "nl-tesoro"
PAGES = [
    ("signin", "/signin"),
    ("home", "/"),
    ("board", f"/pipelines/{PIPELINE}/board"),
    ("funnel", f"/pipelines/{PIPELINE}/funnel"),
    ("time-in-stage", f"/pipelines/{PIPELINE}/time-in-stage"),
    ("stale", f"/pipelines/{PIPELINE}/stale"),
    ("lost-reasons", f"/pipelines/{PIPELINE}/lost-reasons"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--actions", type=int, default=3000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="phaselog-shots-") as folder:
        env = {
            **os.environ,
            "PHASELOG_DATABASE_URL": f"sqlite:///{folder}/demo.db",
            "PHASELOG_ADMIN_KEY": KEY,
        }
        subprocess.run(
            [str(PHASELOG), "demo", "--actions", str(args.actions)], env=env, check=True
        )
        port = free_port()
        server = subprocess.Popen(
            [str(PHASELOG), "serve", "--port", str(port)], env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(server, base, 60)
            _photograph(base, args.out)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


def _entries(base: str, auth: dict[str, str], deal_id: str) -> int:
    timeline = httpx.get(f"{base}/v1/deals/{deal_id}/timeline", headers=auth).json()
    return len(timeline["entries"])


def _photograph(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    auth = {"Authorization": f"Bearer {KEY}"}
    deals = httpx.get(
        f"{base}/v1/deals", params={"pipeline": PIPELINE, "limit": 200}, headers=auth
    ).json()["data"]
    # A deal with a story: the one with the longest timeline.
    deal = max(deals, key=lambda d: _entries(base, auth, d["deal_id"]))
    pages = [*PAGES, ("deal", f"/deals/{deal['deal_id']}")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="en-GB"
        )
        page = context.new_page()
        page.goto(f"{base}/signin")
        page.screenshot(path=str(out / "page-signin.png"))
        page.fill("#key", KEY)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for name, path in pages[1:]:
            page.goto(base + path)
            page.screenshot(path=str(out / f"page-{name}.png"))
            print(f"docs: page-{name}.png ({path})")
        page.goto(f"{base}/docs")
        page.wait_for_selector(".swagger-ui .info")
        page.screenshot(path=str(out / "page-api-docs.png"))
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
