"""A readable account of a Lab's run, for a failing test: invocations, errors, where records are."""

from __future__ import annotations

ROWS = 40  # invocations shown in full; the rest are summarised


def report(lab, rows: int = ROWS) -> str:
    """The run as text: every invocation (start, end, records, outcome, the handler's error),
    then where every message is and how each stream mapping's records ended."""
    lines = [f"esmlab run, seed {lab.seed}, simulated time {lab.now:.1f} s"]
    invocations = lab.trace.invocations
    lines.append(f"{len(invocations)} invocations"
                 + (f" (first {rows} shown)" if len(invocations) > rows else "") + ":")
    lines.append(f"  {'start s':>8} {'end s':>8} {'function':<16} {'records':>7}  outcome")
    for invocation in invocations[:rows]:
        end = "running" if invocation.end is None else f"{invocation.end:.2f}"
        outcome = invocation.outcome or "running"
        if invocation.error:
            error = invocation.error
            outcome += f": {error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
        elif invocation.failed and outcome == "partial":
            outcome += f" (failed: {', '.join(map(str, invocation.failed[:5]))})"
        lines.append(f"  {invocation.start:>8.2f} {end:>8} {invocation.function:<16.16} "
                     f"{len(invocation.records):>7}  {outcome}")
    errors = [i for i in invocations if i.error]
    if errors:
        kinds = {}
        for invocation in errors:
            kind = invocation.error.get("errorType", "Error")
            kinds[kind] = kinds.get(kind, 0) + 1
        lines.append("handler errors: " + ", ".join(f"{k} x{n}" for k, n in kinds.items()))
    repeated = _repeated(lab)
    if repeated:  # what a handler that is not idempotent counts twice
        lines.append("delivered more than once: " + repeated)
    denied = {}
    for event in lab.trace.of("denied"):
        key = (event.mapping[:8], event.detail["action"])
        denied[key] = denied.get(key, 0) + 1
    if denied:  # IAM at run time: the execution role lost a permission the poller needs
        lines.append("calls the execution role was denied: " + ", ".join(
            f"{action} x{n} (mapping {uuid})" for (uuid, action), n in denied.items()))
    conservation = lab.conservation()
    if conservation.counts:
        lines.append("queues:")
        lines += [f"  {line}" for line in str(conservation).splitlines()]
    for uuid, mapping in lab.mappings.items():
        if mapping.kind != "sqs":
            fates = lab.stream_conservation(uuid)
            lines.append(f"stream mapping {uuid[:8]} ({mapping.kind}): {fates['counts']}"
                         + (f", lost {fates['lost'][:5]}" if fates["lost"] else ""))
    return "\n".join(lines)


def _repeated(lab, shown: int = 10) -> str:
    """Records delivered to a function more than once, and why: a standard queue's own copy
    (at-least-once delivery, ``Lab(duplicates=...)``) or a retry after a failure or timeout."""
    counts = {}
    for invocation in lab.trace.invocations:
        for record in invocation.records:
            counts[record] = counts.get(record, 0) + 1
    copies = {r for event in lab.trace.of("duplicate") for r in event.records}
    again = [(record, n) for record, n in counts.items() if n > 1]
    parts = [f"{record[:12]} x{n}" + (" (a copy the queue delivered)" if record in copies
                                       else " (retried)")
             for record, n in again[:shown]]
    if len(again) > shown:
        parts.append(f"and {len(again) - shown} more")
    return ", ".join(parts)
