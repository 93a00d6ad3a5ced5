"""Models and routes of the ``vault`` test plugin."""

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from pcm_ops import audit
from pcm_ops.api.deps import DbSession
from pcm_ops.security import Principal, require
from pcm_ops.security.secrets import EncryptedString


class VaultSecret(SQLModel, table=True):
    __tablename__ = "vault_secret"

    name: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_type=EncryptedString)


class SecretIn(BaseModel):
    name: str
    value: str


class SecretState(BaseModel):
    name: str
    is_set: bool


router = APIRouter()


@router.put("/secrets", response_model=SecretState)
async def store(
    body: SecretIn,
    request: Request,
    session: DbSession,
    _: Annotated[Principal, require("vault:write")],
) -> Any:
    row = await session.get(VaultSecret, body.name) or VaultSecret(name=body.name, value="")
    row.value = body.value
    session.add(row)
    await audit.record(
        session, request, "vault.secret.store", object_type="secret", object_id=body.name
    )
    return SecretState(name=body.name, is_set=True)


@router.get("/secrets/{name}", response_model=SecretState)
async def state(
    name: str, session: DbSession, _: Annotated[Principal, require("vault:read")]
) -> Any:
    row = await session.get(VaultSecret, name)
    return SecretState(name=name, is_set=row is not None and bool(row.value))


@router.get("/secrets/{name}/length", response_model=int)
async def length(
    name: str, session: DbSession, _: Annotated[Principal, require("vault:read")]
) -> Any:
    """Proves the value decrypts, without returning it."""
    row = await session.get(VaultSecret, name)
    return len(row.value) if row else 0
