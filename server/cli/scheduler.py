"""``flask --app server scheduler run|status|run-job``: run it, see how its jobs went, run one now."""

from __future__ import annotations

import signal
import threading
from datetime import UTC

import click
from flask import current_app
from flask.cli import AppGroup

from server.clock import system_now
from server.scheduling.scheduler import SchedulerService, all_job_specs, execute, runner_name, status


@click.group("scheduler", cls=AppGroup)
def scheduler() -> None:
    """The scheduler: run it, see how its jobs went, run a job now."""


@scheduler.command("run")
def run() -> None:
    """Run the scheduler in this process (standing by while another process leads)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    who = runner_name()
    service = SchedulerService(app, announce=lambda message: click.echo(f"scheduler {who}: {message}"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"scheduler {who}: standing by for the lease; Ctrl+C stops")
    service.start()
    while not stop.wait(1):
        pass
    service.stop()
    click.echo(f"scheduler {who}: stopped")


@scheduler.command("status")
def show_status() -> None:
    """Print who leads, each job's last run (duration, tickets changed, error) and the outbox."""
    report = status(current_app.config)
    lease = report["lease"]
    if lease is None:
        click.echo("leader: none yet (no scheduler has run)")
    else:
        expiry = f", lease until {lease['expires_at']}" if lease["expires_at"] else ""
        click.echo(f"leader: {lease['host']} pid {lease['pid']} since {lease['acquired_at']}{expiry}")
    click.echo(
        f"{'job':<18} {'last slot (UTC)':<20} {'ms':>7} {'changed':>8} {'runs 24h':>8} {'errors':>6}  result"
    )
    for job in report["jobs"]:
        last = job["last"]
        if last is None:
            click.echo(
                f"{job['id']:<18} {'-':<20} {'-':>7} {'-':>8} {job['runs_24h']:>8} {job['errors_24h']:>6}"
            )
            continue
        slot = last["slot"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        ms = last["duration_ms"] if last["finished"] else "running"
        click.echo(
            f"{job['id']:<18} {slot:<20} {ms:>7} {last['changed']:>8} {job['runs_24h']:>8} "
            f"{job['errors_24h']:>6}  {(last['error'] or last['detail'])[:80]}"
        )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report["outbox"].items()))
    click.echo(f"outbox: {counts or 'empty'}")


@scheduler.command("run-job")
@click.argument("job_id")
@click.option(
    "--full", is_flag=True, help="flag_scan only: re-evaluate every ticket (after a rule or calendar change)"
)
def run_job(job_id: str, full: bool) -> None:
    """Run one job now, recorded like a scheduled run."""
    specs = all_job_specs(current_app.config)
    spec = specs.get(job_id)
    if spec is None:
        raise click.BadParameter(f"unknown job {job_id!r}; known: {', '.join(specs)}", param_hint="JOB_ID")
    if full and job_id != "flag_scan":
        raise click.BadParameter("--full applies to flag_scan only", param_hint="--full")
    options = {"full": True} if full else {}
    done = execute(spec, system_now(), "manual", **options)
    assert done is not None  # no lease to lose, and a manual slot (now) is never taken
    error = f" error: {done.error}" if done.error else ""
    click.echo(f"{job_id}: {done.detail} ({done.duration_ms} ms){error}")
    if done.error:
        raise SystemExit(1)
