"""``custdim`` commands. Each one parses its options, calls the Project facade and renders the result."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, ParamSpec

import typer
from rich.console import Console
from rich.markup import escape

from custdim.errors import CustdimError, UsageError
from custdim.stages import STAGE_NAMES

app = typer.Typer(
    help="custdim: build an enhanced customer dimension in your data lake.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
if not console.is_terminal:
    # Piped or captured output: do not squeeze tables into 80 columns.
    console = Console(width=160)
err_console = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}
P = ParamSpec("P")


MAX_MESSAGE = 4000  # a config error listing several problems stays whole; a dump of a binary file does not
MAX_UNEXPECTED = 300


def printable(text: str, limit: int = MAX_MESSAGE) -> str:
    """Text safe to print on a terminal: no control characters or undecodable bytes, at most ``limit`` characters.

    Messages may quote the content of a user's file, which can be binary: its undecodable bytes (U+FFFD) go too.
    """
    clean = "".join(
        ch if (ch.isprintable() and ch != "\ufffd") or ch == "\n" else " " if ch == "\t" else "" for ch in text
    )
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def _fail(message: str, code: int = 1) -> NoReturn:
    # escape(): messages hold key paths and file content such as '[0]' or '[bold]' that rich would read as markup.
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _os_message(exc: OSError) -> str:
    if not exc.strerror:
        return str(exc)
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    return f"{exc.strerror}: {' -> '.join(files)}" if files else exc.strerror


def _errors(command: Callable[P, None]) -> Callable[P, None]:
    """The one error boundary: every failure becomes one 'Error: ...' line and an exit status from EXIT_CODES.

    custdim's own errors name the file and key; OSError and anything unexpected are a last-resort net so that a
    user never sees a traceback unless they ask for it with --debug.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own signals (an explicit exit, a usage error) are not failures to reword
        except CustdimError as exc:
            if _state["debug"]:
                raise
            _fail(printable(str(exc)), exc.exit_code)
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            _fail("interrupted", 130)
        except OSError as exc:
            if _state["debug"]:
                raise
            _fail(printable(_os_message(exc)))
        except Exception as exc:
            if _state["debug"]:
                raise
            detail = printable(" ".join(str(exc).split()), MAX_UNEXPECTED)
            what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            _fail(f"unexpected {what} (run with --debug for the traceback)")

    return wrapper


ProjectDir = Annotated[Path, typer.Option("--project", "-p", help="Project folder (holding custdim.yaml) or file.")]


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("CUSTDIM_DEBUG"))


@app.command()
@_errors
def run(
    project: ProjectDir = Path(),
    stage: Annotated[str | None, typer.Option(help=f"Run one stage only: {', '.join(STAGE_NAMES)}.")] = None,
    engine: Annotated[str | None, typer.Option(help="Override the project's engine: duckdb or spark.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another run is using the lake, wait for it instead of failing.")
    ] = False,
    keep_steps: Annotated[
        bool, typer.Option("--keep-steps", help="Debug: also write every intermediate step to lake/work/<run>/steps.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="If the last run failed or was killed, run only its unfinished stages (on its committed outputs); "
            "do nothing if it succeeded.",
        ),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Match every record afresh. By default a run compares only the records that are new or changed "
            "since the last run with all others; both give the same profiles.",
        ),
    ] = False,
) -> None:
    """Run the pipeline (or one stage) and print a summary.

    Exit status: 0 success; 1 the run failed; 2 wrong command line; 3 the project file is wrong; 4 a source cannot
    be read; 75 the lake is busy (another run holds its lock: retry later, or use --wait); 130 interrupted.
    """
    from custdim.cli.progress import progress_bars
    from custdim.cli.render import match_rates, predictions_summary, run_summary, segment_sizes
    from custdim.project import Project

    p = Project.load(project)
    with progress_bars(console) as progress:
        report = p.run(
            stage=stage, progress=progress, engine=engine, wait=wait, keep_steps=keep_steps, resume=resume, full=full
        )
    run_summary(console, report)
    match_rates(console, report)
    predictions_summary(console, report)
    segment_sizes(console, report)


@app.command()
@_errors
def validate(project: ProjectDir = Path()) -> None:
    """Check the project without running it: the project file, source files and their columns, referenced files."""
    from custdim.project import Project

    p = Project.load(project)
    for note in p.validate():
        console.print(f"  {note}", highlight=False, markup=False)
    console.print(f"[green]ok[/] {escape(p.config.file)}")


@app.command()
@_errors
def status(
    project: ProjectDir = Path(),
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs to show.")] = 10,
) -> None:
    """Show the last runs and their counts."""
    from custdim.cli.render import status_table
    from custdim.project import Project

    reports = Project.load(project).runs(last)
    if not reports:
        console.print("no runs yet: `custdim run`")
        return
    status_table(console, reports)


@app.command()
@_errors
def sql(
    query: Annotated[str, typer.Argument(help="A SELECT over the views (dim_customer, Customer, ...).")],
    project: ProjectDir = Path(),
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
) -> None:
    """Query the logical data warehouse views."""
    from custdim.cli.render import arrow_output
    from custdim.project import Project

    if fmt not in ("table", "csv", "json"):
        raise CustdimError(f"--format must be table, csv or json, not {fmt!r}")
    result = Project.load(project).sql(query)
    arrow_output(console, result, fmt)


@app.command()
@_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the demo project.")] = Path("demo"),
    customers: Annotated[int, typer.Option(help="Real people in the fictional retailer.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 42,
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
    force: Annotated[bool, typer.Option("--force", help="Write into --dir even if it is not empty.")] = False,
) -> None:
    """Generate a fictional retailer's sources, run the whole pipeline and print what came out."""
    from custdim.cli.progress import progress_bars
    from custdim.cli.render import match_rates, predictions_summary, run_summary, segment_sizes
    from custdim.demo.runner import check_demo_dir, demo_summary, run_demo

    if customers < 10:
        raise UsageError("--customers must be at least 10")
    # Before the progress bars start: a refusal should be the only thing printed.
    check_demo_dir(directory, force)
    with progress_bars(console) as progress:
        result = run_demo(directory, customers=customers, seed=seed, engine=engine, progress=progress, force=force)
    run_summary(console, result.report)
    match_rates(console, result.report)
    predictions_summary(console, result.report)
    segment_sizes(console, result.report)
    demo_summary(console, result)


unify_app = typer.Typer(
    help="Inspect unification: explain profiles, blocking, and preview id changes.", no_args_is_help=True
)
app.add_typer(unify_app, name="unify")


@unify_app.command("explain")
@_errors
def unify_explain(
    customer_id: Annotated[str, typer.Argument(help="A CustomerId from Customer or dim_customer.")],
    project: ProjectDir = Path(),
) -> None:
    """Show why a profile's records were joined: its records, the matching pairs and where each value came from."""
    from custdim.cli.render import explanation
    from custdim.project import Project

    explanation(console, Project.load(project).explain(customer_id))


@unify_app.command("explain-blocking")
@_errors
def unify_explain_blocking(project: ProjectDir = Path()) -> None:
    """Show each rule's blocking passes and, after a run, its candidate pairs and skipped blocks."""
    from custdim.cli.render import blocking
    from custdim.project import Project

    blocking(console, Project.load(project).blocking_plans())


@unify_app.command("train")
@_errors
def unify_train(project: ProjectDir = Path()) -> None:
    """Fit Fellegi-Sunter m/u weights by EM on the mapped fields (no labels); rules may then set min_match_weight."""
    from custdim.cli.render import model_weights
    from custdim.project import Project

    path, model = Project.load(project).train()
    model_weights(console, model)
    console.print(f"saved {path}")


@unify_app.command("diff")
@_errors
def unify_diff(project: ProjectDir = Path()) -> None:
    """Preview which CustomerIds the current project file would merge, split or move, without publishing."""
    from custdim.cli.progress import progress_bars
    from custdim.cli.render import id_changes
    from custdim.project import Project

    with progress_bars(console) as progress:
        changes = Project.load(project).preview_changes(progress)
    id_changes(console, changes)


@unify_app.command("profile")
@_errors
def unify_profile(project: ProjectDir = Path()) -> None:
    """Profile the last run's mapped values per table and field: nulls, junk, formats, top values, normalizers."""
    from custdim.cli.render import value_profile
    from custdim.project import Project

    value_profile(console, Project.load(project).profile())


map_app = typer.Typer(help="Map source columns to semantic types.", no_args_is_help=True)
app.add_typer(map_app, name="map")


@map_app.command("suggest")
@_errors
def map_suggest(
    tables: Annotated[
        list[str] | None, typer.Argument(help="'<source>.<table>' names; all tables when omitted.")
    ] = None,
    project: ProjectDir = Path(),
    min_confidence: Annotated[float, typer.Option(help="Suggestions below this are printed commented out.")] = 0.5,
) -> None:
    """Propose a semantic-type mapping for source tables from column names and values, as YAML to paste."""
    from custdim.project import Project

    for _table, yaml_text in Project.load(project).suggest_mapping(tables or None, min_confidence):
        console.print(yaml_text, highlight=False, markup=False, soft_wrap=True)


models_app = typer.Typer(help="Model cards of the predictions, and their backtest.")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
@_errors
def models(
    ctx: typer.Context,
    project: ProjectDir = Path(),
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Show the model cards of the last run's predictions: parameters and held-out validation."""
    import json

    from custdim.cli.render import model_cards
    from custdim.project import Project

    if ctx.invoked_subcommand is not None:
        return
    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")
    cards = Project.load(project).models()
    if fmt == "json":
        console.print_json(json.dumps(cards))
    elif not cards:
        console.print("no models yet: switch one on under predictions: in custdim.yaml and `custdim run`")
    else:
        model_cards(console, cards)


@models_app.command("backtest")
@_errors
def models_backtest(
    project: ProjectDir = Path(),
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """Re-run every model with as_of moved back by its horizon and score it against what happened next.

    Uses the activities of the last run; the results go to the model cards (backtest) and a run report.
    """
    import json

    from custdim.cli.render import backtest as show
    from custdim.project import Project

    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")
    results = Project.load(project).backtest()
    if fmt == "json":
        console.print_json(json.dumps(results))
    else:
        show(console, results)


export_app = typer.Typer(help="The published export's snapshots: history and rollback.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("history")
@_errors
def export_history(
    project: ProjectDir = Path(),
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List the export snapshots, newest first: which one readers see, and which ones you can roll back to."""
    import json

    from custdim.cli.render import export_history as show
    from custdim.project import Project

    if fmt not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not {fmt!r}")
    snaps = Project.load(project).export_history()
    if fmt == "json":
        console.print_json(json.dumps(snaps))
    else:
        show(console, snaps)


@export_app.command("rollback")
@_errors
def export_rollback(
    snapshot: Annotated[str, typer.Argument(help="A snapshot listed by `custdim export history`.")],
    project: ProjectDir = Path(),
    wait: Annotated[bool, typer.Option("--wait", help="Queue behind a running run instead of failing.")] = False,
) -> None:
    """Publish an earlier snapshot again (readers and `custdim sql` see it at once; the next run publishes anew)."""
    from custdim.project import Project

    done = Project.load(project).export_rollback(snapshot, wait=wait)
    console.print(f"published snapshot {escape(done['snapshot'])} (was {escape(str(done['previous']))})")


@app.command()
@_errors
def ddl(
    project: ProjectDir = Path(),
    dialect: Annotated[str, typer.Option("--dialect", "-d", help="duckdb, synapse, spark or trino.")] = "duckdb",
    location: Annotated[
        str | None,
        typer.Option(
            "--location",
            help="The export folder as the target engine addresses it, e.g. "
            "https://<account>.dfs.core.windows.net/<filesystem>/<path>/export (default: the lake's export folder).",
        ),
    ] = None,
    schema: Annotated[str, typer.Option("--schema", help="Schema (database) the objects are created in.")] = "custdim",
    powerbi: Annotated[
        Path | None,
        typer.Option("--powerbi", help="Write a Power BI .pbids file for `custdim serve sql` here instead."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="The SQL endpoint's host, for --powerbi.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The SQL endpoint's port, for --powerbi.")] = 5433,
) -> None:
    """Print the published views as DDL for another engine (Synapse serverless, Spark, Trino, DuckDB).

    The script points at the published snapshot: run it again after each publish. With --powerbi, write a
    connection file that opens the SQL endpoint (`custdim serve sql`) in Power BI instead.
    """
    import json

    from custdim.project import Project

    if powerbi is not None:
        from custdim.ldw.ddl import pbids
        from custdim.ldw.server import DATABASE

        path = powerbi if powerbi.suffix == ".pbids" else powerbi.with_suffix(".pbids")
        path.write_text(json.dumps(pbids(host, port, DATABASE), indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {escape(str(path))}: open it in Power BI Desktop (DirectQuery to {host}:{port})")
        return
    text = Project.load(project).ddl(dialect, location, schema)
    # Plain stdout, not rich: the script is meant to be piped into a file or another tool unchanged.
    typer.echo(text, nl=False)


serve_app = typer.Typer(help="Serve the published views to other programs.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("sql")
@_errors
def serve_sql(
    project: ProjectDir = Path(),
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 5433,
    users_file: Annotated[
        Path | None,
        typer.Option("--users-file", help="Lines name:password (default: the CUSTDIM_SQL_USERS variable)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--statement-timeout", help="Seconds a query may run.")] = 60.0,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows a result may have.")] = 1_000_000,
) -> None:
    """Serve the published views over the PostgreSQL protocol (psql, psycopg, JDBC, Power BI, Tableau, ...).

    Read-only: every query goes through the same check as `custdim sql`. Users log in with SCRAM-SHA-256.
    A new publish is picked up without a restart. Stop with Ctrl-C.
    """
    import asyncio

    from custdim.ldw.server import is_loopback, load_users, serve
    from custdim.project import Project

    if timeout <= 0 or max_rows <= 0:
        raise UsageError("--statement-timeout and --max-rows must be positive")
    users = load_users(users_file)
    endpoint = Project.load(project).sql_endpoint(timeout, max_rows)
    if not is_loopback(host):
        err_console.print(
            f"[yellow]Warning:[/] listening on {escape(host)}: other machines can connect. The endpoint has no TLS; "
            "put it behind a TLS proxy or a private network.",
            highlight=False,
        )

    def ready(bound: int) -> None:
        views = len(endpoint.views)
        console.print(
            f"custdim SQL endpoint on {escape(host)}:{bound}, database custdim, {views} views, "
            f"{len(users)} user(s); Ctrl-C stops it",
            highlight=False,
        )

    try:
        asyncio.run(serve(endpoint, users, host, port, ready))
    except KeyboardInterrupt:
        console.print("stopped")
    except OSError as exc:
        raise CustdimError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


segment_app = typer.Typer(help="Preview, compare, explain and export segments.", no_args_is_help=True)
app.add_typer(segment_app, name="segment")


@segment_app.command("preview")
@_errors
def segment_preview(
    name: Annotated[str, typer.Argument(help="A segment of the project file.")],
    project: ProjectDir = Path(),
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many members to show.")] = 10,
) -> None:
    """Size and first members of a segment as the project file defines it now, over the published profiles.

    Writes nothing: try a condition before the next run.
    """
    from custdim.cli.render import segment_preview as show
    from custdim.project import Project

    if limit < 0:
        raise UsageError("--limit must be 0 or more")
    show(console, Project.load(project).segment_preview(name, limit))


@segment_app.command("overlap")
@_errors
def segment_overlap(
    names: Annotated[list[str], typer.Argument(help="Two or three published segments.")],
    project: ProjectDir = Path(),
) -> None:
    """How many members two or three published segments share."""
    from custdim.cli.render import segment_overlap as show
    from custdim.project import Project

    show(console, Project.load(project).segment_overlap(names))


@segment_app.command("differentiators")
@_errors
def segment_differentiators(
    name: Annotated[str, typer.Argument(help="A published segment.")],
    project: ProjectDir = Path(),
    top: Annotated[int, typer.Option("--top", "-n", help="How many fields to show.")] = 10,
) -> None:
    """The profile and measure fields whose distribution in the segment differs most from everyone's.

    Score: total variation distance between the two distributions (0 = alike, 1 = no value in common); numbers and
    dates are compared over the population's deciles.
    """
    from custdim.cli.render import segment_differentiators as show
    from custdim.project import Project

    if top < 1:
        raise UsageError("--top must be 1 or more")
    show(console, Project.load(project).segment_differentiators(name, top))


@segment_app.command("export")
@_errors
def segment_export(
    name: Annotated[str, typer.Argument(help="A published segment.")],
    to: Annotated[Path, typer.Option("--to", help="The file to write: members.csv or members.parquet.")],
    project: ProjectDir = Path(),
    fields: Annotated[
        str | None,
        typer.Option(help="Comma-separated dim_customer fields; default: the Customer profile's single-valued fields."),
    ] = None,
) -> None:
    """Write a segment's published members to CSV or Parquet for a campaign tool."""
    from custdim.project import Project

    chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields is not None else None
    if chosen is not None and not chosen:
        raise UsageError("--fields names no field")
    done = Project.load(project).segment_export(name, to, chosen)
    console.print(
        f"wrote {done.rows:,} members of {escape(done.name)} to {escape(str(done.path))} ({done.format}; "
        f"{len(done.fields)} fields: {escape(', '.join(done.fields))})",
        highlight=False,
    )


def main() -> None:
    """Entry point of the ``custdim`` console script."""
    app()


if __name__ == "__main__":
    main()
