"""The parts every `check_pacemaker` subcommand shares: the options, the contexts that turn
findings and counts into Nagios states, the Summary and Check bases, the output layout, and the
group and Runtime set-up that keep the Nagios contract (exit 0/1/2/3, one status line, UNKNOWN for
anything that is not an answer).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from typing import Any, Callable, Generic, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

import click
import nagiosplugin
from nagiosplugin.output import Output
from nagiosplugin.runtime import Runtime
from nagiosplugin.state import Critical, Ok, ServiceState, Unknown, Warn

from nagios_checks.data import DataOptions, DataUnavailable, ExporterOptions
from pacemaker_exporter import __version__
from pacemaker_exporter.health import RULES_BY_CODE, Finding, Severity
from pacemaker_exporter.options import CollectOptions, collect_options

F = Callable[..., Any]

_STATE = {Severity.OK: Ok, Severity.WARNING: Warn, Severity.UNKNOWN: Unknown, Severity.CRITICAL: Critical}
_SEVERITY = {state: severity for severity, state in _STATE.items()}


def rank(state: ServiceState) -> int:
    """health's order of badness (critical > unknown > warning > ok), so every channel agrees on "worst"."""
    return _SEVERITY.get(state, Severity.UNKNOWN).rank


# --- options -------------------------------------------------------------------------------------


class CheckEnv:
    """What the shared options gave: where the data comes from, and how to report."""

    def __init__(self, data: DataOptions, verbose: int, ignore_codes: Tuple[str, ...]) -> None:
        self.data = data
        self.verbose = verbose
        self.ignore_codes = ignore_codes

    @property
    def timeout(self) -> float:
        return self.data.timeout


def _check_codes(ctx: click.Context, param: click.Parameter, value: Tuple[str, ...]) -> Tuple[str, ...]:
    for code in value:
        if code not in RULES_BY_CODE:
            raise click.BadParameter(f"unknown finding code {code!r}; known: {', '.join(RULES_BY_CODE)}")
    return value


def check_options(func: F) -> F:
    """The options of every subcommand; the command receives `env: CheckEnv`."""

    @collect_options
    @click.option(
        "--exporter-url",
        metavar="URL",
        envvar="CHECK_PACEMAKER_EXPORTER_URL",
        help="Read the exporter's /snapshot.json at URL instead of running the commands.",
    )
    @click.option(
        "--ca-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="CA bundle that signed the exporter's TLS certificate.",
    )
    @click.option("--insecure", is_flag=True, help="Do not verify the exporter's TLS certificate.")
    @click.option("--username", envvar="CHECK_PACEMAKER_USERNAME", default=None, help="Basic auth user for the exporter.")
    @click.option(
        "--password",
        envvar="CHECK_PACEMAKER_PASSWORD",
        default=None,
        help="Basic auth password for the exporter (better: $CHECK_PACEMAKER_PASSWORD).",
    )
    @click.option(
        "--max-age",
        type=click.FloatRange(0),
        default=300.0,
        show_default=True,
        help="Refuse an exporter snapshot older than this many seconds (0: any age).",
    )
    @click.option(
        "--events-db",
        default=None,
        metavar="PATH",
        help="The alert agent's event store, read for fencing events when it exists "
        "[default: $PACEMAKER_EXPORTER_EVENTS_DB or /var/lib/pacemaker-exporter/events.db]; "
        "'' to not read it.",
    )
    @click.option(
        "--ignore-code",
        "ignore_codes",
        multiple=True,
        metavar="CODE",
        callback=_check_codes,
        help="Leave out findings of this code (repeatable), e.g. resource-without-monitor.",
    )
    @click.option(
        "-t",
        "--timeout",
        type=click.IntRange(0, 3600),
        default=10,
        show_default=True,
        help="Seconds before the check gives up with UNKNOWN (0: never).",
    )
    @click.option(
        "-v",
        "--verbose",
        count=True,
        help="-v every measurement in the long output, -vv also the data sources, -vvv debug log.",
    )
    @version_option
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        collect: CollectOptions,
        exporter_url: Optional[str],
        ca_file: Optional[str],
        insecure: bool,
        username: Optional[str],
        password: Optional[str],
        max_age: float,
        events_db: Optional[str],
        ignore_codes: Tuple[str, ...],
        timeout: int,
        verbose: int,
        **kwargs: Any,
    ) -> Any:
        exporter = None
        if exporter_url:
            exporter = ExporterOptions(exporter_url, ca_file, insecure, username, password, max_age)
        if events_db is not None:
            collect = dataclasses.replace(collect, events_db=events_db)
        data = DataOptions(collect=collect, exporter=exporter, timeout=float(timeout))
        kwargs["env"] = CheckEnv(data, verbose, ignore_codes)
        return func(*args, **kwargs)

    return wrapper


#: -V/--version, as the Monitoring Plugins guidelines reserve it: "check_pacemaker 0.1.0", exit 0
version_option = click.version_option(
    __version__, "-V", "--version", prog_name="check_pacemaker", message="%(prog)s %(version)s"
)


def range_option(*names: str, help: str) -> Callable[[F], F]:
    """A threshold in Nagios range syntax (10, 10:, ~:10, 10:20, @10:20); a bad one is a usage error."""

    def validate(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
        if value is None or value == "":
            return None
        if not re.fullmatch(r"@?(~|[-+]?\d+(\.\d+)?)?(:([-+]?\d+(\.\d+)?)?)?", value) or value in ("@", ":", "@:"):
            raise click.BadParameter(f"{value!r} is not a Nagios range (e.g. 2, 2:, ~:5, 1:3, @1:3)")
        try:
            nagiosplugin.Range(value)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r}: {exc}") from None
        return value

    return click.option(*names, default=None, metavar="RANGE", callback=validate, help=help)


# --- contexts ------------------------------------------------------------------------------------


class FindingContext(nagiosplugin.Context):
    """A health finding: its severity is the state, its message the text."""

    def __init__(self) -> None:
        super().__init__("finding")

    def evaluate(self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource) -> nagiosplugin.Result:
        f: Finding = metric.value
        return nagiosplugin.Result(_STATE[f.severity], f"{f.message} [{f.code}]", metric)

    def performance(self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource) -> None:
        return None


class UnavailableContext(nagiosplugin.Context):
    """The data could not be had: UNKNOWN with the reason."""

    def __init__(self) -> None:
        super().__init__("unavailable")

    def evaluate(self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource) -> nagiosplugin.Result:
        return nagiosplugin.Result(Unknown, str(metric.value), metric)

    def performance(self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource) -> None:
        return None


class Count(nagiosplugin.ScalarContext):
    """A number with optional thresholds; the text names what was counted (a string, or a
    function of the metric when one context serves many metrics)."""

    def __init__(
        self,
        name: str,
        warning: Optional[str] = None,
        critical: Optional[str] = None,
        what: Union[None, str, Callable[[nagiosplugin.Metric], str]] = None,
    ) -> None:
        self.what = what
        super().__init__(name, warning, critical, fmt_metric=self._fmt)

    def what_of(self, metric: nagiosplugin.Metric) -> str:
        if callable(self.what):
            return self.what(metric)
        return self.what or metric.name.replace("_", " ")

    def _fmt(self, metric: nagiosplugin.Metric, context: nagiosplugin.Context) -> str:
        return f"{self.what_of(metric)}: {metric.valueunit}"

    def evaluate(self, metric: nagiosplugin.Metric, resource: nagiosplugin.Resource) -> nagiosplugin.Result:
        result = super().evaluate(metric, resource)
        if result.state != Ok:
            rng = self.critical if result.state == Critical else self.warning
            return nagiosplugin.Result(result.state, f"outside {rng}", metric)
        return result


def count(
    name: str,
    value: float,
    uom: str = "",
    context: Optional[str] = None,
    min: Optional[float] = 0,
    max: Optional[float] = None,
) -> nagiosplugin.Metric:
    return nagiosplugin.Metric(name, value, uom, min=min, max=max, context=context or name)


# --- resources -----------------------------------------------------------------------------------


class PacemakerResource(nagiosplugin.Resource):
    """Base of every check's Resource: loads the data once, keeps it for the Summary, and
    turns a failure to get it into one UNKNOWN metric."""

    #: groups of sources (one of each must have worked), see data.require
    needs: Tuple[Tuple[str, ...], ...] = (("crm_mon",),)

    def __init__(self, env: CheckEnv) -> None:
        self.env = env
        self.data: Any = None
        self.unavailable: Optional[str] = None

    def load(self) -> Any:
        from nagios_checks.data import load

        return load(self.env.data)

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        from nagios_checks.data import require

        try:
            self.data = self.load()
            require(self.data.snapshot, self.data.origin, *self.needs)
        except DataUnavailable as exc:
            self.unavailable = str(exc)
            yield nagiosplugin.Metric("unavailable", str(exc), context="unavailable")
            return
        yield from self.measure()

    def measure(self) -> Iterator[nagiosplugin.Metric]:
        raise NotImplementedError

    # helpers for the subclasses
    def findings(self, select: Callable[[Finding], bool]) -> List[Finding]:
        return [f for f in self.data.findings if select(f) and f.code not in self.env.ignore_codes]

    @staticmethod
    def finding_metrics(findings: Iterable[Finding]) -> Iterator[nagiosplugin.Metric]:
        for i, f in enumerate(findings):
            yield nagiosplugin.Metric(f"finding{i}:{f.code}:{f.subject}", f, context="finding")


R = TypeVar("R", bound=PacemakerResource)


class PacemakerSummary(nagiosplugin.Summary, Generic[R]):
    """Status line: the check's own words when OK (each check's Summary says them in `ok`), the
    worst problem (and how many more) when not. Long output: one line per problem, worst first;
    -v adds every measurement, -vv the sources."""

    def __init__(self, resource: R) -> None:
        self.resource = resource

    def ok(self, results: nagiosplugin.Results) -> str:
        raise NotImplementedError

    def problem(self, results: nagiosplugin.Results) -> str:
        problems = _worst_first(r for r in results if r.state != Ok)
        if not problems:
            return self.ok(results)
        first = str(problems[0])
        if self.resource.unavailable is not None:
            return first
        more = len(problems) - 1
        return f"{first} (+{more} more)" if more else first

    def verbose(self, results: nagiosplugin.Results) -> List[str]:
        level = self.resource.env.verbose
        shown = _worst_first(r for r in results if r.state != Ok or level >= 1)
        lines = [f"{r.state.text.upper()}: {r}" for r in shown]
        if self.resource.unavailable is not None and level == 0:
            lines = []  # the status line already says it all
        if level >= 2 and self.resource.data is not None:
            data = self.resource.data
            lines.append(
                f"data: {data.origin}, snapshot of {data.snapshot.hostname or 'unknown host'}"
                + (f", {data.stored_fencing} fencing event(s) from the event store" if data.stored_fencing else "")
            )
            for src in data.snapshot.sources:
                detail = f" ({src.error})" if src.error else ""
                lines.append(f"source {src.name}: {src.state} in {src.duration_seconds:.2f}s{detail}")
        return lines


def _worst_first(results: Iterable[nagiosplugin.Result]) -> List[nagiosplugin.Result]:
    return sorted(results, key=lambda r: -rank(r.state))


class PacemakerCheck(nagiosplugin.Check):
    """A check of one Resource with its Summary and contexts (the finding and unavailable contexts
    always among them), whose overall state follows health's order: CRITICAL outranks UNKNOWN."""

    def __init__(
        self, name: str, resource: PacemakerResource, summary: PacemakerSummary[Any], *contexts: nagiosplugin.Context
    ) -> None:
        super().__init__(resource, FindingContext(), UnavailableContext(), *contexts, summary)
        self.name = name  # not Check(name=...): nagiosplugin 1.3.2 (Debian 12) has no such argument

    @property
    def state(self) -> ServiceState:
        if not self.results:
            return Unknown
        return max((r.state for r in self.results), key=rank)

    @property
    def exitcode(self) -> int:
        return int(self.state)


class PacemakerOutput(Output):
    """Perfdata always on the status line; long output (one finding per line) at every level."""

    def add(self, check: nagiosplugin.Check) -> None:
        self.status = self.format_status(check)
        perfdata = self.format_perfdata(check)
        if perfdata:
            self.status += " " + perfdata
        self.add_longoutput(check.verbose_str)


def start_runtime() -> None:
    """A new nagiosplugin Runtime for this run of check_pacemaker, printing in our layout.

    nagiosplugin keeps one Runtime per process, a singleton whose output and log handler pile up
    from one check to the next. A plugin process runs one check, but the tests (and the golden
    files) run hundreds in one process, so each run drops the previous singleton and its log
    handler; the new instance then starts from the class defaults. Runtime has no setter for the
    output format, so ours is put in its place before any check runs.
    """
    previous = Runtime.instance
    if previous is not None and previous.logchan is not None:
        logging.getLogger("nagiosplugin").removeHandler(previous.logchan)
    Runtime.instance = None
    runtime = Runtime()
    runtime.output = PacemakerOutput(runtime.logchan)
    runtime.stdout = None  # print to sys.stdout as it is then (nagiosplugin < 1.3.3 bound it at import)


# --- the group: usage errors are UNKNOWN -----------------------------------------------------------


class NagiosGroup(click.Group):
    """A click group that keeps the plugin contract: a usage error prints one UNKNOWN line and exits 3
    (click's own code 2 would read as CRITICAL)."""

    def main(
        self,
        args: Optional[Sequence[str]] = None,
        prog_name: Optional[str] = None,  # type: ignore[override]
        complete_var: Optional[str] = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        start_runtime()
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            if exc.__class__.__name__ == "NoArgsIsHelpError":
                unknown("no check given: use check_pacemaker CHECK (check_pacemaker --help lists them)")
            where = f" ({exc.ctx.command_path})" if exc.ctx is not None else ""
            unknown(f"usage error{where}: {exc.format_message()}")
        except click.ClickException as exc:
            unknown(exc.format_message())
        except click.exceptions.Abort:
            unknown("aborted")
        if isinstance(rv, int) and rv != 0:  # click.exceptions.Exit from --help/--version
            raise SystemExit(rv)
        raise SystemExit(0 if rv is None else rv)


def unknown(reason: str) -> None:
    click.echo(f"PACEMAKER UNKNOWN - {' '.join(reason.split())}")
    raise SystemExit(3)
