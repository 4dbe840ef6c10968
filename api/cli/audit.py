"""`phaselog audit ...`: the log itself proved, not the read models."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import Listing, err, one_line_errors, opened, out, printable
from storage.audit import NotIntact, check_log, check_proof, checkpoint
from storage.checkpoints import Checkpoint, load_key, make_key
from storage.eventstore import event_store

app = typer.Typer(
    help="Prove the log is the one that was written.",
    no_args_is_help=True,
    cls=Listing,
    rich_markup_mode=None,
)

KeyFile = Annotated[
    Path, typer.Option("--key", help="the Ed25519 key file (keep it off the server)")
]
TrustedKey = Annotated[
    str | None,
    typer.Option(
        "--public-key", help="the public key to trust (base64, from audit keygen)"
    ),
]


@app.command("keygen")
@one_line_errors
def keygen(
    path: Annotated[Path, typer.Argument(help="the key file to create")],
) -> None:
    """Create a signing key file; print its public key for auditors to pin."""
    try:
        public = make_key(path)
    except FileExistsError:
        raise typer.BadParameter(f"{path} exists; a key is never overwritten") from None
    err.print(f"key written to {path} (owner only); its public key:", markup=False)
    out.print(base64.b64encode(public).decode(), soft_wrap=True)


@app.command("checkpoint")
@one_line_errors
def make_checkpoint(key: KeyFile) -> None:
    """Prove the log intact, sign its size, Merkle root and chain head, keep the
    checkpoint (GET /v1/audit/checkpoint serves it) and print it."""
    signing = load_key(key)
    with opened(register=False) as tracker:
        try:
            made = checkpoint(
                event_store(tracker).keys.ledger, signing, dt.datetime.now(dt.UTC)
            )
        except NotIntact as error:
            out.print(printable(str(error)), soft_wrap=True)
            raise typer.Exit(1) from None
    out.print(json.dumps(made.to_json(), indent=2), soft_wrap=True)


@app.command("verify")
@one_line_errors
def verify_log(
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="a checkpoint the log must still extend"),
    ] = None,
    public_key: TrustedKey = None,
) -> None:
    """Recompute every event's hash and chain against what was recorded with it,
    and, given a checkpoint, the Merkle root it signed; exit 0 only when the log
    is intact, else name the first position and deal that differ."""
    signed = _read_checkpoint(checkpoint_file) if checkpoint_file else None
    trusted = _key(public_key)
    with opened(register=False) as tracker:
        checked = check_log(event_store(tracker).keys.ledger)
    if checked.mismatch is not None:
        out.print(printable(f"log altered at {checked.mismatch}"), soft_wrap=True)
        raise typer.Exit(1)
    if signed is not None:
        problem = checked.extends(signed, trusted)
        if problem is not None:
            out.print(printable(f"log altered: {problem}"), soft_wrap=True)
            raise typer.Exit(1)
    extends = f"; extends the checkpoint of {signed.time}" if signed else ""
    out.print(
        f"log intact: {checked.events} events, chain head {checked.head.hex()}"
        f"{extends}",
        soft_wrap=True,
    )


@app.command("check-proof")
@one_line_errors
def check_proof_file(
    proof: Annotated[Path, typer.Argument(help="a deal's proof, as the API gave it")],
    public_key: TrustedKey = None,
) -> None:
    """Check a deal's proof offline, without the log: each event's hash from its
    content, its path to the signed root, the checkpoint's signature."""
    try:
        data = json.loads(proof.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{proof}: not a JSON file ({error})") from None
    proved, problem = check_proof(data, _key(public_key))
    if problem is not None:
        out.print(printable(f"proof fails: {problem}"), soft_wrap=True)
        raise typer.Exit(1)
    size = data["checkpoint"]["size"]
    out.print(
        f"proof holds: {proved} events of deal {data['deal_id']} are in the log of "
        f"{size} events the checkpoint of {data['checkpoint']['time']} signed",
        soft_wrap=True,
    )


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"{path}: {error}") from None


def _key(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise typer.BadParameter("--public-key: 32 bytes in base64, as keygen prints")
    return key
