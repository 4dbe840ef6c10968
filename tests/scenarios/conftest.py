"""The API fixtures, for the stories told to the running app on both databases."""

from __future__ import annotations

from tests.api.conftest import api_settings as api_settings
from tests.api.conftest import client as client
