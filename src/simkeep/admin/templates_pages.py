"""Back-office preview of every message template in every language, with SMS encoding and segment count."""

from __future__ import annotations

from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from simkeep.admin.access import StaffMember, allowed
from simkeep.notification import templates
from simkeep.web.deps import Config
from simkeep.web.pages import render

router = APIRouter(prefix="/admin", include_in_schema=False)


@router.get("/templates", response_class=HTMLResponse)
def message_templates(request: Request, settings: Config, member: Annotated[StaffMember,
                      Depends(allowed("templates.read"))]) -> Response:
    previews = templates.previews(settings.base_url)
    groups = [(key, list(rows)) for key, rows in groupby(previews, key=lambda p: (p.topic, p.variant))]
    return render(request, "admin/templates.html", groups=groups, staff=member.username)
