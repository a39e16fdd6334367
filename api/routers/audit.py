"""The verifiable audit log: the signing key, signed tree heads, proofs and verification
(auditor and admin keys)."""

from typing import Annotated, Any, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from psycopg import Connection

from api import problems
from api.commanding import read
from api.policing import PolicedRoute
from api.views.audit import ConsistencyProof, InclusionProof, PublicKey, TreeHead, Verification
from infra.audit import tree_store
from infra.audit.signing import (
    SigningKeyMissing,
    load_signing_key,
    public_key_document,
    signing_key_path,
)
from infra.audit.verification import verify_store

router = APIRouter(
    route_class=PolicedRoute,  # auditor and admin keys (api.access_policy)
    prefix="/v1/audit",
    tags=["audit"],
    responses=problems.documented(401, 403, 422, 503),
)
Size = Annotated[int, Query(ge=1, le=2**62, description="a tree size (a number of leaves)")]


@router.get("/public-key", response_model=PublicKey)
def get_public_key(request: Request) -> dict[str, str]:
    """The Ed25519 key that signs the tree heads (base64 of its 32 bytes) and its id."""
    return public_key_document(_public_key(request))


@router.get("/tree-heads/latest", response_model=TreeHead, responses=problems.documented(404))
def get_latest_tree_head(request: Request) -> dict[str, Any]:
    """The latest signed tree head; 404 before the first is signed."""
    head = read(request, tree_store.latest_head)
    if head is None:
        raise HTTPException(404, "no tree head is signed yet")
    return head.as_json()


@router.get("/proofs/inclusion", response_model=InclusionProof, responses=problems.documented(404))
def get_inclusion_proof(
    request: Request,
    position: Annotated[int, Query(ge=1, le=2**62, description="the event's position")],
    tree_size: Annotated[
        int | None,
        Query(ge=1, le=2**62, description="a signed tree's size; unset: the latest signed tree"),
    ] = None,
) -> dict[str, Any]:
    """The audit path of the event at `position` in the tree of `tree_size` leaves; 404 if
    the event is not among them."""

    def prove(conn: Connection[Any]) -> dict[str, Any]:
        size = tree_size or _signed_size(conn)
        _within_signed(conn, "tree_size", size)
        found = tree_store.inclusion_proofs(conn, [position], size)
        if position not in found:
            raise HTTPException(404, f"no event at position {position} in the tree of {size}")
        return found[position].as_json()

    return read(request, prove)


@router.get(
    "/proofs/consistency", response_model=ConsistencyProof, responses=problems.documented(404)
)
def get_consistency_proof(request: Request, first: Size, second: Size) -> dict[str, Any]:
    """The proof that the tree of `first` leaves is a prefix of the tree of `second` leaves
    (`first` at most `second`, both at most the latest signed size); 404 before the first
    tree head is signed."""
    if first > second:
        _invalid("first", "must not be larger than second")

    def prove(conn: Connection[Any]) -> dict[str, Any]:
        _within_signed(conn, "second", second)
        proof = tree_store.consistency_proof(conn, first, second)
        return {"first": first, "second": second, "proof": [h.hex() for h in proof]}

    return read(request, prove)


@router.get("/verify", response_model=Verification)
def get_verification(request: Request) -> dict[str, Any]:
    """Recomputes every leaf from the stored events and checks it against the tree, and every
    signed tree head against its root and signature (reads the whole store: seconds per
    million events)."""
    key = _public_key(request)
    return read(request, verify_store, key).as_json()


def _public_key(request: Request) -> Ed25519PublicKey:
    state = request.app.state
    if getattr(state, "audit_public_key", None) is None:
        try:
            state.audit_public_key = load_signing_key(signing_key_path(state.settings)).public_key()
        except SigningKeyMissing:
            raise HTTPException(503, "the audit log's signing key is not available") from None
    key: Ed25519PublicKey = state.audit_public_key
    return key


def _signed_size(conn: Connection[Any]) -> int:
    head = tree_store.latest_head(conn)
    if head is None:
        raise HTTPException(404, "no tree head is signed yet")
    return head.tree_size


def _within_signed(conn: Connection[Any], name: str, size: int) -> None:
    signed = _signed_size(conn)
    if size > signed:
        _invalid(name, f"must not be larger than the latest signed tree size, {signed}")


def _invalid(name: str, message: str) -> NoReturn:
    raise RequestValidationError([{"loc": ("query", name), "msg": message, "type": "value_error"}])
