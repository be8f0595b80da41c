"""RunPod entry point: the service (and its model) is built once, before the first job."""

import logging

import runpod

from enhancer.service import EnhancementService

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

service = EnhancementService.build()


async def handler(job: dict) -> dict:
    return await service.handle(job.get("input"))


def concurrency_modifier(current_concurrency: int) -> int:
    return service.settings.max_concurrency


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler, "concurrency_modifier": concurrency_modifier})
