"""All API routers, in the order they appear in the OpenAPI document."""

from include.api.routes.editor import router as editor_router
from include.api.routes.health import router as health_router
from include.api.routes.projects import router as projects_router

ROUTERS = [health_router, projects_router, editor_router]
