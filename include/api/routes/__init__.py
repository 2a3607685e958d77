"""All API routers, in the order they appear in the OpenAPI document."""

from include.api.routes.connections import router as connections_router
from include.api.routes.dry_runs import router as dry_runs_router
from include.api.routes.editor import router as editor_router
from include.api.routes.identities import router as identities_router
from include.api.routes.learning import router as learning_router
from include.api.routes.ops import router as ops_router
from include.api.routes.outcomes import router as outcomes_router
from include.api.routes.predictions import router as predictions_router
from include.api.routes.projects import router as projects_router
from include.api.routes.recommendations import router as recommendations_router
from include.api.routes.reviews import router as reviews_router
from include.api.routes.runs import router as runs_router
from include.api.routes.schemas import router as schemas_router
from include.api.routes.templates import router as templates_router
from include.api.routes.webhooks import router as webhooks_router
from include.api.routes.workflows import router as workflows_router

ROUTERS = [ops_router, projects_router, identities_router, editor_router, reviews_router, webhooks_router, workflows_router, runs_router, dry_runs_router, outcomes_router, templates_router, schemas_router, connections_router, predictions_router, recommendations_router, learning_router]
