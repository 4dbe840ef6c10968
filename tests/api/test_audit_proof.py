"""Signed checkpoints and a deal's proof: what an auditor checks without the log.

`phaselog audit keygen` makes the key, `audit checkpoint` signs the log's Merkle
root, `GET /v1/audit/checkpoint` serves it, `audit verify --checkpoint` proves a
longer log still extends it, `GET /v1/deals/{id}/proof` and `audit check-proof`
prove a deal's events offline, and fail when any byte changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from api.cli import app
from storage.eventstore import event_store
from storage.ledger import GENESIS, leaves_of
from tests.helpers.tampering import tamper

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient

    from api.settings import Settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def keygen(tmp_path: Path, name: str = "signing.pem") -> tuple[Path, str]:
    path = tmp_path / name
    result = runner.invoke(app, ["audit", "keygen", str(path)])
    assert result.exit_code == 0, result.output
    return path, result.stdout.strip().splitlines()[-1]


def log(client: TestClient, contact: str, *kinds: str) -> str:
    deal_id = ""
    for kind in kinds:
        body = {"pipeline": "nl-tesoro", "contact_id": contact, "type": kind}
        answer = client.post("/v1/actions", json=body)
        assert answer.status_code == 201, answer.text
        deal_id = answer.json()["deal_id"]
    return deal_id


def signed(client: TestClient, tmp_path: Path, key: Path) -> Path:
    code, said = cli("audit", "checkpoint", "--key", str(key))
    assert code == 0, said
    served = client.get("/v1/audit/checkpoint")
    assert served.status_code == 200, served.text
    path = tmp_path / f"checkpoint-{served.json()['size']}.json"
    path.write_text(json.dumps(served.json()))
    return path


def test_a_checkpoint_from_yesterday_still_verifies_against_a_longer_log(
    client: TestClient, tmp_path: Path
) -> None:
    key, public = keygen(tmp_path)
    assert client.get("/v1/audit/checkpoint").status_code == 404
    log(client, "ann", "contact_captured", "budget_confirmed")
    yesterday = signed(client, tmp_path, key)

    log(client, "bob", "contact_captured", "budget_confirmed", "viewing")
    code, said = cli(
        "audit", "verify", "--checkpoint", str(yesterday), "--public-key", public
    )

    assert code == 0, said
    assert "extends the checkpoint of" in said
    events = int(said.split("log intact: ")[1].split(" events")[0])
    assert events > json.loads(yesterday.read_text())["size"]


def test_a_log_rewritten_whole_no_longer_extends_its_checkpoint(
    client: TestClient, tmp_path: Path
) -> None:
    key, public = keygen(tmp_path)
    log(client, "ann", "contact_captured", "budget_confirmed", "viewing")
    checkpoint = signed(client, tmp_path, key)
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    ledger = event_store(tracker).keys.ledger
    events, _ = ledger.ledger_window(0, ledger.ledger_bounds())
    target = events[2]
    state = json.loads(target.state)
    state["note"] = "rewritten"
    forged = json.dumps(state).encode()
    tamper(
        tracker,
        "UPDATE {events} SET state = ? WHERE {position} = ?",
        (forged, target.position),
    )
    # Whoever rewrote the event rewrote its leaf and every chain hash after it.
    events, _ = ledger.ledger_window(0, ledger.ledger_bounds())
    tamper(tracker, "DELETE FROM {leaves}")
    for leaf in leaves_of(events, GENESIS):
        tamper(tracker, "INSERT INTO {leaves} VALUES (?, ?, ?)", tuple(leaf))

    chain_only = cli("audit", "verify")
    against = cli(
        "audit", "verify", "--checkpoint", str(checkpoint), "--public-key", public
    )

    assert chain_only[0] == 0  # the chain alone cannot tell
    assert against[0] == 1
    assert "are not those the checkpoint of" in against[1]


def test_a_forged_or_foreign_checkpoint_is_not_trusted(
    client: TestClient, tmp_path: Path
) -> None:
    key, public = keygen(tmp_path)
    _, other = keygen(tmp_path, "other.pem")
    log(client, "ann", "contact_captured")
    checkpoint = signed(client, tmp_path, key)
    forged = json.loads(checkpoint.read_text())
    forged["size"] += 1
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))

    foreign = cli(
        "audit", "verify", "--checkpoint", str(checkpoint), "--public-key", other
    )
    altered = cli(
        "audit", "verify", "--checkpoint", str(forged_file), "--public-key", public
    )

    assert foreign[0] == 1 and "another key" in foreign[1]
    assert altered[0] == 1 and "signature does not match" in altered[1]


def test_a_deals_proof_checks_offline_and_fails_when_any_byte_changes(
    client: TestClient, tmp_path: Path
) -> None:
    key, public = keygen(tmp_path)
    deal_id = log(client, "ann", "contact_captured", "budget_confirmed")
    log(client, "bob", "contact_captured")
    signed(client, tmp_path, key)
    log(client, "ann", "viewing")  # after the checkpoint: pending

    answer = client.get(f"/v1/deals/{deal_id}/proof")
    assert answer.status_code == 200, answer.text
    proof: dict[str, Any] = answer.json()
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(json.dumps(proof))
    code, said = cli("audit", "check-proof", str(proof_file), "--public-key", public)

    assert code == 0, said
    assert f"proof holds: {len(proof['events'])} events of deal {deal_id}" in said
    assert len(proof["events"]) == 3 and len(proof["pending"]) == 1

    def changed(edit: Any) -> tuple[int, str]:
        copy = json.loads(json.dumps(proof))
        edit(copy)
        path = tmp_path / "changed.json"
        path.write_text(json.dumps(copy))
        return cli("audit", "check-proof", str(path), "--public-key", public)

    def flip_state(p: dict[str, Any]) -> None:
        raw = bytearray(base64.b64decode(p["events"][1]["state"]))
        raw[-2] ^= 1
        p["events"][1]["state"] = base64.b64encode(bytes(raw)).decode()

    def flip_path(p: dict[str, Any]) -> None:
        first = p["events"][0]["path"][0]
        p["events"][0]["path"][0] = ("0" if first[0] != "0" else "1") + first[1:]

    def flip_root(p: dict[str, Any]) -> None:
        root = p["checkpoint"]["root"]
        p["checkpoint"]["root"] = ("0" if root[0] != "0" else "1") + root[1:]

    def move(p: dict[str, Any]) -> None:
        p["events"][0]["position"] += 1

    for edit in (flip_state, flip_path, flip_root, move):
        code, said = changed(edit)
        assert code == 1, (edit.__name__, said)
        assert said.startswith("proof fails: "), said


def test_an_altered_log_is_not_signed(client: TestClient, tmp_path: Path) -> None:
    key, _ = keygen(tmp_path)
    log(client, "ann", "contact_captured", "budget_confirmed")
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    tamper(tracker, "DELETE FROM {events} WHERE {position} = ?", (2,))

    code, said = cli("audit", "checkpoint", "--key", str(key))

    assert code == 1
    assert "no checkpoint signed" in said
    assert client.get("/v1/audit/checkpoint").status_code == 404


def test_a_key_file_is_never_overwritten(tmp_path: Path) -> None:
    keygen(tmp_path)

    code, said = cli("audit", "keygen", str(tmp_path / "signing.pem"))

    assert code != 0
    assert "never overwritten" in said


def test_the_readmes_procedure_checks_a_proof_by_hand(
    client: TestClient, tmp_path: Path
) -> None:
    """The README's three steps, written from it with rfc8785, hashlib and
    cryptography alone: no phaselog code checks this proof."""
    key, public = keygen(tmp_path)
    deal_id = log(client, "ann", "contact_captured", "budget_confirmed", "viewing")
    log(client, "bob", "contact_captured", "budget_confirmed")
    signed(client, tmp_path, key)
    proof = client.get(f"/v1/deals/{deal_id}/proof").json()
    checkpoint = proof["checkpoint"]

    # 1. the signature, with the pinned key
    unsigned = {k: v for k, v in checkpoint.items() if k != "signature"}
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(checkpoint["signature"]), rfc8785.dumps(unsigned)
    )
    for event in proof["events"]:
        # 2. the leaf
        content = {
            "deal": event["deal_id"],
            "position": event["position"],
            "state": event["state"],
            "topic": event["topic"],
            "version": event["version"],
        }
        leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(content)).digest()
        # 3. the path, as RFC 9162 section 2.1.3.2 folds it
        fn, sn, r = event["index"], checkpoint["size"] - 1, leaf
        for sibling in map(bytes.fromhex, event["path"]):
            if fn & 1 or fn == sn:
                r = hashlib.sha256(b"\x01" + sibling + r).digest()
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
            else:
                r = hashlib.sha256(b"\x01" + r + sibling).digest()
            fn, sn = fn >> 1, sn >> 1
        assert sn == 0 and r.hex() == checkpoint["root"]
    assert len(proof["events"]) == 4
