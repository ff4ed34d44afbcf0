"""`/tokens`: API tokens, for admins. A token's value is shown once, when it is created; only
its hash is stored, and lists show neither. A tenant's token sees its tenant's tokens only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hookhub.api.responses import JSON
from hookhub.api.routing import JSONRoute
from hookhub.api.v1.common import Admin, ContextDep, Cursor, Limit, TenantId, page
from hookhub.services import tokens

router = APIRouter(tags=["tokens"], route_class=JSONRoute)


class TokenIn(BaseModel):
    """A new API token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="what the token is for")
    scope: Literal["read", "write", "admin"] = Field(
        description="read < write < admin: what the token may do"
    )
    tenant_id: str | None = Field(
        None,
        max_length=64,
        description="hold the token to this tenant: it sees and changes that tenant's objects"
        " only (a tenant's token: always its own tenant)",
    )


@router.post("/tokens", status_code=201, summary="Create an API token; its value is shown once")
async def create_token(body: TokenIn, ctx: ContextDep, _: Admin) -> JSON:
    created = await tokens.create(ctx, body.name, body.scope, body.tenant_id)
    return JSON({**created.token, "token": created.plaintext}, status_code=201)


@router.get("/tokens", summary="List API tokens, newest first (revoked ones too)")
async def list_tokens(
    ctx: ContextDep,
    _: Admin,
    cursor: Cursor = None,
    limit: Limit = 50,
    tenant_id: TenantId = None,
) -> JSON:
    return JSON(page(*await tokens.listed(ctx, cursor, limit, tenant_id)))


@router.get("/tokens/{token_id}", summary="Get an API token (not its value)")
async def get_token(token_id: str, ctx: ContextDep, _: Admin) -> JSON:
    return JSON(await tokens.get(ctx, token_id))


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke an API token")
async def revoke_token(token_id: str, ctx: ContextDep, _: Admin) -> None:
    await tokens.revoke(ctx, token_id)
