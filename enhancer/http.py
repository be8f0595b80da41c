"""The seed's HTTP routes on port 7861, over the same service (for pods and old integrations)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .config import Settings
from .service import EnhancementService


def create_app(service: EnhancementService) -> FastAPI:
    app = FastAPI(title="prompt-enhancer", version="2")

    async def run(payload: Any, action: str) -> JSONResponse:
        if isinstance(payload, dict):
            payload = {**payload, "action": action}
        result = await service.handle(payload)
        return JSONResponse(result, status_code=400 if result.get("success") is False else 200)

    async def body(request: Request) -> Any:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return None  # reported as "input: must be a JSON object"

    @app.post("/enhance")
    async def enhance(request: Request) -> JSONResponse:
        return await run(await body(request), "enhance")

    @app.post("/enhance/intelligent")
    async def intelligent(request: Request) -> JSONResponse:
        return await run(await body(request), "intelligent")

    @app.post("/enhance/legacy")
    async def legacy(request: Request) -> JSONResponse:
        return await run(await body(request), "legacy")

    @app.get("/enhancement/info")
    async def info() -> JSONResponse:
        return await run({}, "info")

    @app.post("/enhancement/cache/clear")
    async def cache_clear(request: Request) -> JSONResponse:
        payload = await body(request)
        return await run(payload if payload is not None else {}, "cache_clear")

    @app.post("/enhancement/feedback")
    async def feedback(request: Request) -> JSONResponse:
        return await run(await body(request), "feedback")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "healthy",
            "model_loaded": service.generator is not None and not service.device_lost,
            "model": service.generator.model_id if service.generator else None,
        }

    return app


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    app = create_app(EnhancementService.build(settings))
    uvicorn.run(app, host=os.environ.get("HTTP_HOST", "0.0.0.0"), port=settings.http_port)


if __name__ == "__main__":
    main()
