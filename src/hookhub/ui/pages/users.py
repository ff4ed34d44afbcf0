"""UI users and their roles (admins only); creating one stays `hookhub user create`."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from hookhub.services import users
from hookhub.ui.web import Form, User, context_of, page_router, redirect, render, store_of, text

router = page_router("admin", "admin")


@router.get("/users")
async def list_page(request: Request, _: User) -> Response:
    found = await users.listed(store_of(request))
    return render(request, "users.html", users=found, roles=users.ROLES)


@router.post("/users/{user_id}/role")
async def set_role(request: Request, user_id: str, form: Form) -> Response:
    user = await users.change_role(context_of(request), user_id, text(form, "role"))
    return redirect("/users", f"{user['username']} is now {user['role']}.")
