"""``broadcaster serve``: the intake API (broadcaster/intake), served by uvicorn."""

import click

from broadcaster.cli.context import CliContext, pass_cli


@click.command()
@click.option("--host", help="Address to listen on (default: BROADCASTER_INTAKE_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65_535), help="Port to listen on (default: BROADCASTER_INTAKE_PORT, 6080).")
@pass_cli
def serve(cli: CliContext, host: str | None, port: int | None) -> None:
    """Serve the intake API: POST /v1/reports, GET /v1/reports/{id}, the OpenAPI document at /docs.

    Stateless: run as many as you like behind a load balancer, on the same database.
    Clients authenticate with keys from `broadcaster api-keys create`.
    """
    import uvicorn

    from broadcaster.intake.app import create_app
    from broadcaster.intake.publishing import PublishingThread

    app = create_app(cli.services, PublishingThread(cli.services))
    uvicorn.run(app, host=host or cli.settings.intake_host, port=port or cli.settings.intake_port,
                log_level="warning", access_log=False)
