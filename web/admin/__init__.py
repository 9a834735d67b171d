"""The sync dashboard under `/admin`: every route here sits behind `auth.AdminGuard`."""

from __future__ import annotations

from starlette.routing import Mount

from web.admin import (
    activity,
    auth,
    levers,
    overview,
    people,
    submission_pages,
    upload_pages,
)

routes = [
    Mount(
        auth.PREFIX,
        routes=[
            *auth.routes,
            *overview.routes,
            *submission_pages.routes,
            *upload_pages.routes,
            *levers.routes,
            *people.routes,
            *activity.routes,
        ],
    )
]
