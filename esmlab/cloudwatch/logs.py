"""What Lambda writes to CloudWatch Logs for each invocation, written into moto's Logs.

Log group ``/aws/lambda/<function>``, one log stream per execution environment, and per
invocation: ``START RequestId: <id> Version: $LATEST``, everything the handler printed or logged,
the error line of an unhandled exception (or the timeout line), ``END RequestId: <id>`` and the
``REPORT`` line (https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html,
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html). ``logging`` records
get the runtime's text format ``[LEVEL]\\t<time>\\t<request id>\\t<message>``; the root logger's
level is left alone, as on Lambda (WARNING unless the handler sets it).

MODELLING CHOICES (docs/simulator.md):

* An execution environment is reused when it is free (its last invocation has ended); otherwise
  a new one, with its own stream, is made. Streams are named ``YYYY/MM/DD/[$LATEST]<32 hex>``
  like AWS's; the hex is derived from the function name and the environment's number, not drawn
  from ``lab.random`` (so turning logs on changes no trace).
* Everything the handler writes is stamped at the invocation's start (the simulated handler
  runs in an instant); the error, ``END`` and ``REPORT`` lines at its end.
* ``REPORT`` has ``Duration``, ``Billed Duration`` (rounded up to the millisecond) and
  ``Memory Size``; ``Max Memory Used`` and ``Init Duration`` are left out: esmlab models no
  memory and no cold start.
* Lines are written into moto lazily, just before the next CloudWatch Logs call.
* What the handler prints still shows where the lab runs (the notebook), as well as in the log.
  Logging handlers that write to stdout or stderr (Powertools' ``Logger``) are pointed at the
  invocation's log while it runs, so their structured JSON lines reach the log group too.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import sys
import uuid

from moto.logs.models import logs_backends

from .. import functions
from ..clock import START

MEMORY_MB = 128  # what LambdaContext.memory_limit_in_mb reports
_NAMESPACE = uuid.UUID("5f2b8c1e-6a4d-4f0e-9a37-2c1d7e3b9a10")  # esmlab's, for stream ids


class _Tee(io.TextIOBase):
    """Writes to the invocation's log and still to the notebook (or terminal) it ran from."""

    def __init__(self, log, echo):
        self.log, self.echo = log, echo

    def write(self, text):
        self.log.write(text)
        return self.echo.write(text)

    def flush(self):
        self.echo.flush()


def _swap_streams(replacements) -> list:
    """Point the logging handlers that write to stdout or stderr (Powertools' Logger makes one
    when it is created, outside the handler) at the invocation's log for its duration."""
    loggers = [logging.getLogger(), *(logging.Logger.manager.loggerDict.values())]
    swapped = []
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            stream = getattr(handler, "stream", None)
            if type(handler) is logging.StreamHandler and id(stream) in replacements:
                swapped.append((handler, handler.setStream(replacements[id(stream)])))
    return swapped


class _RuntimeFormat(logging.Formatter):
    """The Python runtime's text format for ``logging`` records."""

    def __init__(self, request_id):
        super().__init__()
        self.request_id = request_id

    def format(self, record):
        when = self.formatTime(record)
        return f"[{record.levelname}]\t{when}\t{self.request_id}\t{record.getMessage()}"

    def formatTime(self, record, datefmt=None):
        return iso(record.created * 1000)


def iso(epoch_ms: float) -> str:
    import datetime as dt

    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Logs:
    def __init__(self, lab):
        self.lab = lab
        self._environments: dict = {}  #: function -> [busy until, ...] (index = environment)
        self._pending: list = []  #: (function, stream, start, request id, text, result)

    def install(self) -> None:
        functions.log_sink = self

    def uninstall(self) -> None:
        if functions.log_sink is self:
            functions.log_sink = None

    # --- called by Function.execute ------------------------------------------------------------

    def record(self, function, context, run):
        """Run the invocation (``run()``) with its output captured; returns its Result."""
        start = self.lab.now
        busy = self._environments.setdefault(function.name, [])
        index = next((i for i, until in enumerate(busy) if until <= start), len(busy))
        if index == len(busy):
            busy.append(start)
        stream = self.stream_name(function.name, index)
        context.log_stream_name = stream
        output = io.StringIO()
        handler = logging.StreamHandler(output)
        handler.setFormatter(_RuntimeFormat(context.aws_request_id))
        out, err = _Tee(output, sys.stdout), _Tee(output, sys.stderr)
        swapped = _swap_streams({id(sys.stdout): out, id(sys.stderr): err})
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result = run()
        finally:
            root.removeHandler(handler)
            for stream_handler, original in swapped:
                stream_handler.setStream(original)
        busy[index] = start + result.duration
        self._pending.append((function.name, stream, start, context.aws_request_id,
                              output.getvalue(), result))
        return result

    @staticmethod
    @functools.cache
    def stream_name(function_name, index) -> str:
        day = START.strftime("%Y/%m/%d")
        environment = uuid.uuid5(_NAMESPACE, f"{function_name}/{index}").hex
        return f"{day}/[$LATEST]{environment}"

    # --- written into moto ---------------------------------------------------------------------

    def flush(self) -> None:
        backend = logs_backends[self.lab.account_id][self.lab.region]
        streams: dict = {}
        for name, stream, start, request_id, text, result in self._pending:
            streams.setdefault((name, stream), []).extend(
                self.lines(start, request_id, text, result))
        self._pending.clear()
        for (name, stream), events in streams.items():
            group = f"/aws/lambda/{name}"
            if group not in backend.groups:
                backend.create_log_group(group, {})
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            events.sort(key=lambda e: e["timestamp"])
            backend.put_log_events(group, stream, events)

    def lines(self, start, request_id, text, result) -> list[dict]:
        begin = round(self.lab.clock.epoch(start) * 1000)
        end = round(self.lab.clock.epoch(start + result.duration) * 1000)
        events = [(begin, f"START RequestId: {request_id} Version: $LATEST")]
        events += [(begin, line) for line in text.splitlines() if line]
        if result.outcome == "timeout":
            events.append((end, f"{iso(end)} {request_id} {result.error['errorMessage']}"))
        elif result.outcome == "error":
            error = result.error
            lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
            if error.get("stackTrace"):
                lines.append("Traceback (most recent call last):")
                lines += [frame.rstrip("\n") for frame in error["stackTrace"]]
            events.append((end, "\n".join(lines)))
        milliseconds = result.duration * 1000
        events.append((end, f"END RequestId: {request_id}"))
        report = (f"REPORT RequestId: {request_id}\tDuration: {milliseconds:.2f} ms\t"
                  f"Billed Duration: {math.ceil(milliseconds)} ms\tMemory Size: {MEMORY_MB} MB")
        events.append((end, report))
        return [{"timestamp": t, "message": message} for t, message in events]
