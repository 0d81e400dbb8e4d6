"""HTTP: the organisers' read API (customers, bonus operations, items), health and metrics.

`services.bootstrap.api(settings)` builds the FastAPI application (`services.api.app`) with
what it uses (`services.api.resources`); `serve(app, settings)` runs it with uvicorn. Routers
live in modules of their own and are listed once in `app.ROUTERS`.
"""
