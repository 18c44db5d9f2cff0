"""Liveness and readiness over the worker's HTTP port, for Kubernetes probes and `broadcaster status`.

- live: the event loop answers. A worker stuck in a blocking call fails it and is restarted.
- ready: the database answers and the consumer is not in the middle of a rebalance.
"""

from sqlalchemy import text

from streams.context import ProcessorContext


def register(ctx: ProcessorContext) -> None:
    app, services = ctx.app, ctx.services

    @app.page("/health/live")
    async def live(web, request):  # noqa: ANN001, ANN202
        return web.json({"status": "live"})

    @app.page("/health/ready")
    async def ready(web, request):  # noqa: ANN001, ANN202
        problems = []
        try:
            with services.engine.connect() as connection:
                connection.execute(text("select 1"))
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            problems.append(f"database: {error}")
        if app.rebalancing:
            problems.append("kafka: rebalancing")
        status = 503 if problems else 200
        return web.json({"status": "ready" if not problems else "not ready", "problems": problems}, status=status)
