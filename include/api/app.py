"""Build the platform FastAPI app.

The Airflow plugin mounts it at ``/autopr`` inside Airflow's API server; tests
can also serve it on its own.  Each capability adds its router in
``include/api/routes`` and lists it in ``ROUTERS`` below.
"""

from __future__ import annotations

from fastapi import FastAPI

from include.api.methods import MethodsMiddleware
from include.api.problem_handlers import install_problem_handlers
from include.api.routes import ROUTERS


def create_app() -> FastAPI:
    app = FastAPI(
        title="AutoPR Platform API",
        version="1.0.0",
        description="Workflows, review sessions, feedback and predictions of the AutoPR platform.",
    )
    install_problem_handlers(app)
    app.add_middleware(MethodsMiddleware, router=app.router)  # HEAD, OPTIONS and an honest 405 on every path
    for router in ROUTERS:
        app.include_router(router)
    return app
