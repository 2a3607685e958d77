"""All API routers, in the order they appear in the OpenAPI document."""

from include.api.routes.health import router as health_router

ROUTERS = [health_router]
