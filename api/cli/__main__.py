"""`python -m api.cli`, as the bench and `serve --projector-process` run a command."""

from __future__ import annotations

from api.cli import main

main()
