"""HTTP: the organisers' read API (customers, bonus operations, items), health and metrics.

`services.api.app.create_app(settings)` builds the FastAPI application; `serve(settings)` runs it
with uvicorn. Routers live in modules of their own and are listed once in `app.ROUTERS`.
"""
