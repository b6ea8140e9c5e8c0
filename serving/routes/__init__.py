"""One small module per group of endpoints; `app.create_app` includes each router.

Adding an endpoint group (admin, feedback, shadow) means a new module with an `APIRouter` named
`router`, and one line in `ROUTERS` below.
"""

from __future__ import annotations

from serving.routes import admin, classify, feedback, health, metrics

ROUTERS = (classify.router, health.router, metrics.router, admin.router, feedback.router)
