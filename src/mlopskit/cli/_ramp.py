"""``mlopskit ramp``: one gated step of a canary ramp (cron- and CI-friendly)."""

from __future__ import annotations

import sys

import click

from mlopskit.cli._app import EXIT_FAILED, State, cli, completer, emit, json_option, model_uris


def _steps(ctx: click.Context, param: click.Parameter, value: str) -> list[float]:
    try:
        return [float(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"comma-separated shares such as 0.05,0.5,1, found {value!r}"
        ) from None


@cli.command("ramp")
@click.argument("champion", shell_complete=completer(model_uris))
@click.argument("canary", shell_complete=completer(model_uris))
@click.option("--deployment", required=True, help="The durable split's name (Router deployment=).")
@click.option("--log", "log_name", required=True, help="The prediction log the servers write.")
@click.option(
    "--steps",
    default="0.05,0.25,0.5,1",
    show_default=True,
    callback=_steps,
    help="Canary shares, increasing to 1.",
)
@click.option(
    "--max-error-rate",
    type=float,
    default=0.01,
    show_default=True,
    help="Share of failed requests that rolls back.",
)
@click.option("--max-p99-ms", type=float, default=None, help="Latency p99 bound (ms).")
@click.option("--max-drift-share", type=float, default=None, help="Share of drifted columns.")
@click.option(
    "--min-requests",
    type=int,
    default=100,
    show_default=True,
    help="Canary requests a step needs before it is judged.",
)
@click.option(
    "--interval", type=float, default=300.0, show_default=True, help="Seconds each step holds."
)
@click.option("--watch", is_flag=True, help="Step until the ramp promotes or rolls back.")
@json_option
@click.pass_obj
def ramp_cmd(
    state: State,
    champion: str,
    canary: str,
    deployment: str,
    log_name: str,
    steps: list[float],
    max_error_rate: float,
    max_p99_ms: float | None,
    max_drift_share: float | None,
    min_requests: int,
    interval: float,
    watch: bool,
    as_json: bool,
) -> None:
    """Ramp CANARY (NAME@ALIAS) next to CHAMPION (NAME@ALIAS): one gated step.

    Reads the canary's logged traffic since its current step began and starts, waits,
    advances, promotes (moves CHAMPION's alias) or rolls back (canary weight 0, the
    reason in the registry history). Servers whose mk.deploy.Router was made with
    deployment=DEPLOYMENT and the variants "champion" and "canary" follow the split.
    Exit code 1 when the canary was rolled back.

    \b
    Example:
      mlopskit ramp churn@champion churn@canary --deployment churn --log churn \\
        --max-error-rate 0.02 --max-p99-ms 50 --min-requests 200 --interval 600
    """
    from mlopskit.deploy import Ramp, RampGate, Router

    ws = state.workspace()
    router = Router(
        {"champion": champion, "canary": canary},
        {"champion": 1.0, "canary": 0.0},
        store=ws.store,
        deployment=deployment,
    )
    gate = RampGate(
        max_error_rate=max_error_rate,
        max_p99_ms=max_p99_ms,
        max_drift_share=max_drift_share,
        min_requests=min_requests,
    )
    ramp = Ramp(router, "canary", steps=steps, gate=gate, interval=interval, log=log_name)
    result = ramp.run() if watch else ramp.step()
    payload = {
        "action": result.action,
        "share": result.share,
        "step": result.step,
        "reason": result.reason,
        "promoted": result.promoted.uri if result.promoted is not None else None,
        "state": router.ramp_state,
    }
    emit(as_json, payload, lambda: click.echo(f"{result.action}: {result.reason}"))
    rolled_back = result.action == "rollback" or (
        result.action == "done" and (router.ramp_state or {}).get("status") == "rolled_back"
    )
    if rolled_back:
        sys.exit(EXIT_FAILED)
