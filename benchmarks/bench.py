"""esmlab benchmark: how fast does simulated time run, and what does moto cost?

    python benchmarks/bench.py            # full run (~1.5 min idle; much of it is bare moto)
    python benchmarks/bench.py --quick    # smaller sizes, a few seconds; targets not judged
    python benchmarks/bench.py --profile  # also print cProfile top functions for (a), (b), (d), (e)
    python benchmarks/bench.py --only de  # just some of the scenarios (letters from abcdefghij)

Scenarios
  (a) 1,000 messages, BatchSize 10, ReportBatchItemFailures; the handler reports every message
      whose index % 10 == 0 as failed (and only those), so they come back after the visibility
      timeout (30 s) and SQS moves them to a DLQ on the receive after their 3rd
      (maxReceiveCount 3). Runs until every message is deleted or redriven.
      ``--whole-batch`` instead raises from the handler (no RBIF), failing the whole batch.
  (b) a 10,000-message backlog sent before the mapping exists, BatchSize 10, duration 0.1 s,
      drained until every message is deleted.
  (c) baseline: plain boto3 send_message_batch + receive_message + delete_message_batch of the
      same messages with no mapping, (c1) inside a Lab (esmlab's moto SQS fixes installed) and
      (c2) under a bare ``moto.mock_aws()`` (moto as shipped). Bare moto is quadratic in the
      queue length, so (c2) uses fewer messages (``--plain-messages``) and the output says so.
  (d) 100,000 Kinesis records over 4 shards (partition keys spread over 1,000 keys), written
      with put_records (500 a call) before the mapping exists; mapping TRIM_HORIZON, BatchSize
      100, ParallelizationFactor 5, duration 0.05 s; runs until lab.stream_conservation(uuid)
      counts every record processed. At most shards x PF = 20 invocations may overlap.
      A shard accepts 1,000 records a second, so the writer sends the entries PutRecords
      refused again after lab.run moves one simulated second on; the mapping is created
      when every record is in the stream (about 26 simulated seconds).
  (h) an idle simulated day: one SQS mapping (defaults, BatchSize 10) on an empty queue, run
      for 86,400 simulated seconds; nothing is ever sent, so every receive is an empty long
      poll (what a lab about idle cost, or a practitioner's quiet day, pays for).
  (e) 10,000 DynamoDB Streams changes: 2,500 items each written 4 times with put_item (a
      changing attribute, so 2,500 INSERTs and 7,500 MODIFYs) on a NEW_AND_OLD_IMAGES table,
      before the mapping exists; mapping TRIM_HORIZON, BatchSize 100, PF 1, duration 0.05 s.
  (f) the default mode's ramp: a 1,400-message backlog, BatchSize 1, 400 s invocations (none
      ends before the ramp does, so every slot added takes a message and stays busy); the
      account's concurrency is raised to 2,000 so that only the mapping's own ceiling (1,250)
      limits it. Runs 300 simulated s after Enabled (the ramp, not the drain, is measured) and
      prints the peak concurrency and the simulated time from Enabled to reaching it.
  (g) the same backlog under provisioned mode (MinimumPollers 2, MaximumPollers 125: a ceiling
      of 125 x 10 = 1,250), and how many times faster than (f) it reached its peak.

  (i) Kinesis live: the mapping of (d) exists first, and a producer writes the same 100,000
      records while it reads, 500 per put_records call and as fast as the shards take them
      (1,000 records a second each), sending the refused entries again a simulated second
      later; reports the write throttles, the throttled reads and the largest IteratorAge.
  (j) as (i), with UpdateShardCount 4 -> 8 once half the records are written: the mapping
      finishes each parent before its children (M9) and must still process every record once.

Wall times are time.perf_counter() seconds. "wall" is the whole scenario (open the Lab, create
queues and the function, send, run, close); "run" is only the time inside lab.run(), which is
what simulated time is compared with: speed-up = simulated seconds / run wall seconds.
"Simulated" is the simulated instant of the last delete or redrive from the source queue, or
for (d) and (e) the end of the invocation that processed the last record (the mapping is created
when the writes end, at t=0 for (e), and starts polling when it becomes Enabled, 2 s later;
DynamoDB writes take no simulated time, Kinesis writes wait out the shards' write limits).
"write" is the time to send the messages (a, b) or write the records (d, e) through boto3.
Targets judge the whole scenario's wall time, writes included. Scenarios missing their target
are re-run under cProfile and the top functions printed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import time
from pathlib import Path

T_IMPORT = time.perf_counter()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

import boto3
import botocore
import moto

from esmlab import Lab
from esmlab.trace import peak_concurrency

IMPORT_SECONDS = time.perf_counter() - T_IMPORT

TARGETS = {"a": 3.0, "b": 20.0, "d": 20.0, "e": 20.0, "h": 2.0, "i": 20.0, "j": 20.0}  # wall s
RAMP_TARGET = 10.0  # wall s for each of (f) and (g), 2 cores
TERMINAL = ("delete", "redrive", "expire", "purge")
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --- helpers ---------------------------------------------------------------------------------


def send_all(sqs, url, count, start=0):
    """Send ``count`` messages with bodies {"i": index} in batches of 10; returns API calls."""
    calls = 0
    for first in range(start, start + count, 10):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps({"i": i})}
            for n, i in enumerate(range(first, min(first + 10, start + count)))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        calls += 1
    return calls


def queue_arn(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def run_until_settled(lab, source_arn, expected, step=1.0, limit=3600.0):
    """Advance the lab ``step`` simulated seconds at a time until ``expected`` messages have
    left ``source_arn`` (deleted, redriven, expired or purged). Reads the public trace, only
    the events added since the last step. Returns (last terminal event time, run wall s)."""
    seen, done, last_t = 0, 0, None
    wall = 0.0
    while done < expected:
        if lab.now >= limit:
            raise RuntimeError(f"not settled after {limit} simulated s: {done}/{expected} gone")
        t0 = time.perf_counter()
        lab.run(until=lab.now + step)
        wall += time.perf_counter() - t0
        events = lab.trace.events
        for event in events[seen:]:
            if event.kind in TERMINAL and event.source == source_arn:
                done += len(event.records)
                last_t = event.t
        seen = len(events)
    return last_t, wall


def run_until_processed(lab, uuid, expected, step=1.0, limit=3600.0):
    """Advance the lab ``step`` simulated seconds at a time until
    ``lab.stream_conservation(uuid)["counts"] == {"processed": expected}``. Returns
    (conservation, lab.run wall s, conservation-check wall s)."""
    run_wall = check_wall = 0.0
    counts = {}
    while True:
        if lab.now >= limit:
            raise RuntimeError(f"not drained after {limit} simulated s: {counts}")
        t0 = time.perf_counter()
        lab.run(until=lab.now + step)
        t1 = time.perf_counter()
        cons = lab.stream_conservation(uuid)
        check_wall += time.perf_counter() - t1
        run_wall += t1 - t0
        counts = cons["counts"]
        if counts == {"processed": expected} or cons["lost"]:
            return cons, run_wall, check_wall


peak_overlap = peak_concurrency

def short(arn):
    return arn.rsplit(":", 1)[-1]


# --- scenarios -------------------------------------------------------------------------------


def scenario_a(messages, whole_batch=False):
    def handler(event, context):
        failed = [
            r["messageId"] for r in event["Records"] if json.loads(r["body"])["i"] % 10 == 0
        ]
        if whole_batch:
            if failed:
                raise RuntimeError(f"{len(failed)} poison message(s) in the batch")
            return None
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
        dlq_arn = queue_arn(sqs, dlq_url)
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
        url = sqs.create_queue(
            QueueName="orders", Attributes={"VisibilityTimeout": "30", "RedrivePolicy": redrive}
        )["QueueUrl"]
        arn = queue_arn(sqs, url)
        lab.function("worker", handler, timeout=10, duration=0.2)
        kwargs = {} if whole_batch else {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
        lam.create_event_source_mapping(
            FunctionName="worker", EventSourceArn=arn, BatchSize=10, **kwargs
        )
        t_setup = time.perf_counter()
        send_all(sqs, url, messages)
        t_sent = time.perf_counter()
        sim, run_wall = run_until_settled(lab, arn, messages)
        t_ran = time.perf_counter()
        cons = lab.conservation()
        invocations = len(lab.trace.invocations)
        peak = peak_overlap(lab.trace.invocations)
        outcomes = {}
        for inv in lab.trace.invocations:
            outcomes[inv.outcome] = outcomes.get(inv.outcome, 0) + 1
        events = len(lab.trace.events)
        src, dlq = cons.counts.get(arn, {}), cons.counts.get(dlq_arn, {})
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    poison = len(range(0, messages, 10))
    if whole_batch:
        expected_ok = src.get("deleted", 0) + src.get("redriven", 0) == messages
    else:
        expected_ok = (
            src == {"entered": messages, "deleted": messages - poison, "redriven": poison}
            and dlq == {"entered": poison, "in_queue": poison}
        )
    return {
        "name": "a",
        "messages": messages,
        "wall": wall,
        "cpu": cpu,
        "setup": t_setup - t0,
        "send": t_sent - t_setup,
        "run": run_wall,
        "check": t_ran - t_sent - run_wall,
        "sim": sim,
        "lab_now": None,
        "invocations": invocations,
        "peak_overlap": peak,
        "outcomes": outcomes,
        "events": events,
        "ok": cons.ok,
        "counts": {short(k): v for k, v in cons.counts.items()},
        "expected_ok": expected_ok,
        "poison": poison,
        "whole_batch": whole_batch,
    }


def scenario_b(messages):
    def handler(event, context):
        return None

    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url = sqs.create_queue(QueueName="backlog", Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"
        ]
        arn = queue_arn(sqs, url)
        lab.function("worker", handler, timeout=10, duration=0.1)
        t_setup = time.perf_counter()
        send_all(sqs, url, messages)  # the backlog exists before the mapping does
        t_sent = time.perf_counter()
        lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=10)
        sim, run_wall = run_until_settled(lab, arn, messages)
        t_ran = time.perf_counter()
        cons = lab.conservation()
        enabled_at = next(
            (e.t for e in lab.trace.of("state") if e.detail.get("state") == "Enabled"), None
        )
        scale = [e.detail["concurrency"] for e in lab.trace.of("scale")]
        invocations = lab.trace.invocations
        iam_checks, iam_seconds = iam_check_cost(lab, arn)
        result = {
            "name": "b",
            "iam_checks": iam_checks,
            "iam_seconds": iam_seconds,
            "messages": messages,
            "setup": t_setup - t0,
            "send": t_sent - t_setup,
            "run": run_wall,
            "check": t_ran - t_sent - run_wall,
            "sim": sim,
            "enabled_at": enabled_at,
            "invocations": len(invocations),
            "events": len(lab.trace.events),
            "peak_scale": max(scale) if scale else 0,
            "peak_overlap": peak_overlap(invocations),
            "polls": lab.trace.count("poll"),
            "empty_polls": lab.trace.empty_receives(),
            "ok": cons.ok,
            "counts": {short(k): v for k, v in cons.counts.items()},
            "expected_ok": cons.counts.get(arn) == {"entered": messages, "deleted": messages},
        }
    result["wall"] = time.perf_counter() - t0
    result["cpu"] = time.process_time() - cpu0
    return result


def peak_reached_at(invocations):
    """(peak invocations in flight, the first instant that many were in flight)."""
    peak = peak_concurrency(invocations)
    points = sorted([(i.start, 1) for i in invocations]
                    + [(i.end if i.end is not None else math.inf, -1) for i in invocations])
    running = 0
    for t, step in points:
        running += step
        if running == peak:
            return peak, t
    return peak, None


def scenario_ramp(provisioned, messages=1_400, horizon=300.0):
    """(f) and (g): how fast a backlog of long invocations takes the mapping to its ceiling."""
    def handler(event, context):
        return None

    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7, account_concurrency=2_000) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url = sqs.create_queue(QueueName="ramp", Attributes={"VisibilityTimeout": "900"})[
            "QueueUrl"]
        arn = queue_arn(sqs, url)
        lab.function("worker", handler, timeout=600, duration=400.0)
        t_setup = time.perf_counter()
        send_all(sqs, url, messages)
        t_sent = time.perf_counter()
        params = {"BatchSize": 1}
        if provisioned:
            params["ProvisionedPollerConfig"] = {"MinimumPollers": 2, "MaximumPollers": 125}
        lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, **params)
        t_run = time.perf_counter()
        lab.run(until=2.0 + horizon)  # Enabled at 2 s (M8)
        run_wall = time.perf_counter() - t_run
        cons = lab.conservation()
        enabled_at = next(
            (e.t for e in lab.trace.of("state") if e.detail.get("state") == "Enabled"), None)
        peak, peak_at = peak_reached_at(lab.trace.invocations)
        scale = lab.trace.of("scale")
        result = {
            "name": "g" if provisioned else "f",
            "messages": messages,
            "setup": t_setup - t0,
            "send": t_sent - t_setup,
            "run": run_wall,
            "sim": lab.now,
            "enabled_at": enabled_at,
            "peak_overlap": peak,
            "ramp_s": None if peak_at is None else peak_at - enabled_at,
            "peak_pollers": max((e.detail.get("pollers") or 0 for e in scale), default=0),
            "invocations": len(lab.trace.invocations),
            "polls": lab.trace.count("poll"),
            "ok": cons.ok,
            "counts": {short(k): v for k, v in cons.counts.items()},
            "expected_ok": peak == 1_250 and cons.counts.get(arn, {}).get("entered") == messages,
        }
    result["wall"] = time.perf_counter() - t0
    result["cpu"] = time.process_time() - cpu0
    return result


def report_ramps(ramps, quick):
    for key, r in ramps.items():
        mode = ("provisioned mode (MinimumPollers 2, MaximumPollers 125)" if key == "g"
                else "default mode")
        print(f"({key}) {mode}: {r['messages']:,}-message backlog, BatchSize 1, 400 s invocations")
        print(f"    wall {fmt(r['wall'])} s = setup {fmt(r['setup'])} + send {fmt(r['send'])} "
              f"+ lab.run {fmt(r['run'])}; process cpu {fmt(r['cpu'])} s")
        pollers = f", {r['peak_pollers']} pollers" if key == "g" else ""
        print(f"    peak concurrency {r['peak_overlap']:,}{pollers}, reached "
              f"{fmt(r['ramp_s'], 1)} simulated s after Enabled (run to t = {fmt(r['sim'], 1)} s)")
        print(f"    {r['invocations']:,} invocations started, {r['polls']:,} ReceiveMessage polls; "
              f"conservation ok = {r['ok']}; counts = {r['counts']}")
        if not quick:
            verdict = "PASS" if r["wall"] < RAMP_TARGET else "MISS"
            print(f"    target < {RAMP_TARGET:.0f} s wall: {verdict}")
    if "f" in ramps and "g" in ramps and ramps["g"]["ramp_s"]:
        print(f"    provisioned mode reached its peak {ramps['f']['ramp_s'] / ramps['g']['ramp_s']:.1f}x "
              "faster than the default mode")
    print()
def iam_check_cost(lab, arn, repeat=10_000):
    """IAM at run time: about how many role checks the SQS poller made (one per ReceiveMessage
    request it started, one per delete, one when it started) and what they cost, timed here by
    calling the poller's own check (``SqsPoller.permitted``, a remembered answer) ``repeat``
    times."""
    poller = next(p for p in lab._pollers.values() if p.queue_arn == arn)
    checks = lab.trace.count("poll") + len(lab.trace.invocations) + 1
    t0 = time.perf_counter()
    for _ in range(repeat):
        poller.permitted("sqs:ReceiveMessage")
    return checks, checks * (time.perf_counter() - t0) / repeat


def drain_raw(sqs, url, messages):
    """Send, then receive 10 at a time and delete each batch until the queue answers empty."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    calls = send_all(sqs, url, messages)
    t1 = time.perf_counter()
    received = 0
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        calls += 1
        if not got:
            break
        received += len(got)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
            ],
        )
        calls += 1
    t2 = time.perf_counter()
    return {"send": t1 - t0, "recv_del": t2 - t1, "total": t2 - t0, "calls": calls,
            "cpu": time.process_time() - cpu0,
            "received": received, "messages": messages}


def scenario_c_lab(messages):
    with Lab(seed=7) as lab:
        sqs = lab.client("sqs")
        url = sqs.create_queue(QueueName="raw", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        result = drain_raw(sqs, url, messages)
        result["ok"] = lab.conservation().ok
    return result


def scenario_c_plain(messages):
    from moto import mock_aws

    os.environ.update(FAKE_ENV)  # never a real account, even without a Lab
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="raw", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        result = drain_raw(sqs, url, messages)
    result["ok"] = None
    return result


def stream_result(name, lab, uuid, records, t0, cpu0, t_setup, t_written, drained, bound):
    """What (d) and (e) report once the mapping has drained the stream."""
    cons, run_wall, check_wall = drained
    invocations = [i for i in lab.trace.invocations if i.mapping == uuid]
    outcomes = {}
    for inv in invocations:
        outcomes[inv.outcome] = outcomes.get(inv.outcome, 0) + 1
    enabled_at = next(
        (e.t for e in lab.trace.of("state")
         if e.mapping == uuid and e.detail.get("state") == "Enabled"), None
    )
    sizes = [len(i.records) for i in invocations]
    peak = peak_overlap(invocations)
    return {
        "name": name,
        "records": records,
        "setup": t_setup - t0,
        "send": t_written - t_setup,
        "run": run_wall,
        "check": check_wall,
        "sim": max((i.end for i in invocations if i.end is not None), default=None),
        "enabled_at": enabled_at,
        "invocations": len(invocations),
        "outcomes": outcomes,
        "mean_batch": sum(sizes) / len(sizes) if sizes else 0.0,
        "full_batches": sum(1 for n in sizes if n == 100),
        "polls": sum(1 for e in lab.trace.of("poll") if e.mapping == uuid),
        "events": len(lab.trace.events),
        "peak_overlap": peak,
        "bound": bound,
        "ok": not cons["lost"],
        "counts": cons["counts"],
        "expected_ok": cons["counts"] == {"processed": records} and peak <= bound,
    }


def write_retrying(lab, kinesis, records, keys, after_call):
    """Write ``records`` to the "clicks" stream, 500 a put_records call. A shard takes 1,000
    records a second, so refused entries are sent again, in order, a simulated second later.
    ``after_call(response, written so far)`` runs after every call. Returns (calls, refused)."""
    pending = [{"Data": json.dumps({"i": i}).encode(), "PartitionKey": f"user-{i % keys}"}
               for i in range(records)]
    calls = throttled = written = 0
    while pending:
        entries, pending = pending[:500], pending[500:]
        response = kinesis.put_records(StreamName="clicks", Records=entries)
        calls += 1
        failed = [e for e, r in zip(entries, response["Records"], strict=True)
                  if "ErrorCode" in r]
        written += len(entries) - len(failed)
        if failed:
            throttled += len(failed)
            pending = failed + pending
            lab.run(until=lab.now + 1)
        after_call(response, written)
    return calls, throttled


def scenario_d(records, shards=4, keys=1_000, pf=5):
    """Kinesis: a backlog of ``records`` written with put_records before the mapping."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName="clicks", ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName="clicks")[
            "StreamDescriptionSummary"]["StreamARN"]
        lab.function("consumer", lambda event, context: None, timeout=10, duration=0.05)
        t_setup = time.perf_counter()
        per_shard = {}

        def count_shards(response, _written):
            for entry in response["Records"]:
                if "ShardId" in entry:
                    per_shard[entry["ShardId"]] = per_shard.get(entry["ShardId"], 0) + 1

        calls, throttled = write_retrying(lab, kinesis, records, keys, count_shards)
        written_at = lab.now
        t_written = time.perf_counter()
        uuid = lam.create_event_source_mapping(
            FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=100, ParallelizationFactor=pf,
        )["UUID"]
        drained = run_until_processed(lab, uuid, records)
        result = stream_result("d", lab, uuid, records, t0, cpu0, t_setup, t_written, drained,
                               bound=shards * pf)
    result.update(wall=time.perf_counter() - t0, cpu=time.process_time() - cpu0,
                  shards=shards, keys=keys, pf=pf, write_calls=calls, throttled=throttled,
                  written_at=written_at, per_shard=[per_shard[k] for k in sorted(per_shard)])
    return result


def scenario_live(name, records, shards=4, keys=1_000, pf=5, reshard_to=None):
    """(i) and (j): a producer writes while the mapping reads; (j) reshards halfway."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        kinesis, lam = lab.client("kinesis"), lab.client("lambda")
        kinesis.create_stream(StreamName="clicks", ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName="clicks")[
            "StreamDescriptionSummary"]["StreamARN"]
        lab.function("consumer", lambda event, context: None, timeout=10, duration=0.05)
        uuid = lam.create_event_source_mapping(
            FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=100, ParallelizationFactor=pf,
        )["UUID"]
        lab.run(until=2.0)  # Enabled
        t_setup = time.perf_counter()
        resharded_at = None

        def reshard_halfway(_response, written):
            nonlocal resharded_at
            if reshard_to and resharded_at is None and written >= records // 2:
                kinesis.update_shard_count(StreamName="clicks", TargetShardCount=reshard_to,
                                           ScalingType="UNIFORM_SCALING")
                resharded_at = lab.now

        # the mapping reads while the writer waits for the shards to take more
        calls, throttled = write_retrying(lab, kinesis, records, keys, reshard_halfway)
        written_at = lab.now
        t_written = time.perf_counter()
        drained = run_until_processed(lab, uuid, records)
        result = stream_result(name, lab, uuid, records, t0, cpu0, t_setup, t_written, drained,
                               bound=(reshard_to or shards) * pf)
        ages = [e.detail["iterator_age_ms"] for e in lab.trace.of("invoke_start")
                if e.mapping == uuid and "iterator_age_ms" in e.detail]
        result.update(
            throttled=throttled, written_at=written_at, resharded_at=resharded_at,
            read_throttled=sum(1 for e in lab.trace.of("read_throttled") if e.mapping == uuid),
            max_age_ms=max(ages, default=0), finished=len(lab.trace.of("shard_finished")))
    result.update(wall=time.perf_counter() - t0, cpu=time.process_time() - cpu0,
                  shards=shards, keys=keys, pf=pf, write_calls=calls, reshard_to=reshard_to)
    return result


def report_live(r):
    reshard = (f", UpdateShardCount {r['shards']} -> {r['reshard_to']} at simulated "
               f"t = {fmt(r['resharded_at'], 1)} s" if r["reshard_to"] else "")
    print(f"({r['name']}) {r['records']:,} Kinesis records written live over {r['shards']} shards "
          f"while the mapping reads ({r['keys']:,} partition keys{reshard})")
    print(f"    TRIM_HORIZON, BatchSize 100, ParallelizationFactor {r['pf']}, duration 0.05 s")
    print(f"    wall {fmt(r['wall'])} s = setup {fmt(r['setup'])} + write and read "
          f"{fmt(r['send'])} + drain {fmt(r['run'])} + conservation checks {fmt(r['check'])}; "
          f"process cpu {fmt(r['cpu'])} s")
    print(f"    writes ended at simulated t = {fmt(r['written_at'], 1)} s after {r['write_calls']} "
          f"put_records calls ({r['throttled']:,} refused entries sent again); last record "
          f"processed at simulated t = {fmt(r['sim'], 2)} s")
    print(f"    {r['invocations']:,} invocations {r['outcomes']}, {r['polls']:,} polls, "
          f"{r['read_throttled']:,} throttled reads, largest IteratorAge {r['max_age_ms']:,} ms, "
          f"{r['finished']} parent shard(s) finished")
    print(f"    peak {r['peak_overlap']} invocation(s) in flight at once (limit open shards x PF "
          f"= {r['bound']}): {'within' if r['peak_overlap'] <= r['bound'] else 'EXCEEDED'}")
    print(f"    stream_conservation counts = {r['counts']}, nothing lost = {r['ok']}; "
          f"all processed: {r['counts'] == {'processed': r['records']}}")
    print()


def scenario_e(items, writes=4):
    """DynamoDB Streams: ``items`` items each written ``writes`` times before the mapping."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        ddb, lam = lab.client("dynamodb"), lab.client("lambda")
        arn = ddb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        lab.function("consumer", lambda event, context: None, timeout=10, duration=0.05)
        t_setup = time.perf_counter()
        for version in range(writes):  # round by round: an item's changes interleave
            for i in range(items):
                ddb.put_item(TableName="orders", Item={
                    "id": {"S": f"order-{i:05d}"},
                    "status": {"S": ("new", "paid", "packed", "shipped")[version % 4]},
                    "version": {"N": str(version)},
                })
        t_written = time.perf_counter()
        shards = len(lab.client("dynamodbstreams").describe_stream(StreamArn=arn)[
            "StreamDescription"]["Shards"])
        uuid = lam.create_event_source_mapping(
            FunctionName="consumer", EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
            BatchSize=100,
        )["UUID"]
        records = items * writes
        drained = run_until_processed(lab, uuid, records)
        result = stream_result("e", lab, uuid, records, t0, cpu0, t_setup, t_written, drained,
                               bound=shards * 1)
    result.update(wall=time.perf_counter() - t0, cpu=time.process_time() - cpu0,
                  shards=shards, items=items, writes=writes, pf=1, write_calls=records)
    return result


def scenario_h(seconds=86_400.0):
    """One mapping on an empty queue for ``seconds`` of simulated time."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    with Lab(seed=7) as lab:
        sqs, lam = lab.client("sqs"), lab.client("lambda")
        url = sqs.create_queue(QueueName="quiet")["QueueUrl"]
        arn = queue_arn(sqs, url)
        lab.function("worker", lambda event, context: None, timeout=3)
        lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn)
        t_setup = time.perf_counter()
        lab.run(until=seconds)
        t_ran = time.perf_counter()
        scale = [e.detail["concurrency"] for e in lab.trace.of("scale")]
        result = {
            "name": "h", "seconds": seconds, "setup": t_setup - t0, "send": 0.0,
            "run": t_ran - t_setup, "sim": seconds, "invocations": len(lab.trace.invocations),
            "peak_overlap": 0, "polls": lab.trace.count("poll"),
            "empty_polls": lab.trace.empty_receives(), "events": len(lab.trace.events),
            "final_scale": scale[-1] if scale else None, "ok": lab.conservation().ok,
        }
        result["expected_ok"] = result["polls"] == result["empty_polls"] > 0
    result["wall"] = time.perf_counter() - t0
    result["cpu"] = time.process_time() - cpu0
    return result


# --- output ----------------------------------------------------------------------------------


def machine():
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "esmlab"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        commit += " (esmlab/ has uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"machine : {platform.platform()}, {cpu}, {os.cpu_count()} cores ({usable} usable)",
        f"python  : {platform.python_implementation()} {platform.python_version()}",
        (
            f"versions: moto {moto.__version__}, boto3 {boto3.__version__}, botocore "
            f"{botocore.__version__}; esmlab at git {commit}"
        ),
        f"import  : esmlab+boto3+moto imported in {IMPORT_SECONDS:.2f} s (not in any figure below)",
        (
            f"load    : {load()} at start (other processes compete for the cores when this"
            " is above 0; compare wall with cpu)"
        ),
    ]


def load():
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def fmt(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def table(headers, rows, indent="    "):
    """Left-align the first column, right-align the others."""
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = " ".join(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))
        print(f"{indent}{first}  {rest}")


def report_a(a):
    variant = (
        "whole-batch failure (handler raises, no RBIF)"
        if a["whole_batch"]
        else "ReportBatchItemFailures, only the failing message reported"
    )
    print(f"(a) {a['messages']:,} messages, BatchSize 10; index % 10 == 0 fails every time "
          f"({a['poison']} messages); {variant}")
    print("    VisibilityTimeout 30 s, DLQ after maxReceiveCount 3, timeout 10 s, duration 0.2 s")
    print(f"    wall {fmt(a['wall'])} s = setup {fmt(a['setup'])} + send {fmt(a['send'])} "
          f"+ lab.run {fmt(a['run'])} + checks {fmt(a['check'])}; process cpu {fmt(a['cpu'])} s")
    print(f"    everything deleted or in the DLQ at simulated t = {fmt(a['sim'], 1)} s; "
          f"{a['invocations']} invocations {a['outcomes']}; {a['events']:,} trace events")
    print(f"    conservation ok = {a['ok']}; counts = {a['counts']}")
    if a["whole_batch"]:
        print(f"    deleted + redriven = all messages: {a['expected_ok']}")
    else:
        kept = a["messages"] - a["poison"]
        print(f"    counts as expected ({kept} deleted, {a['poison']} in the DLQ): "
              f"{a['expected_ok']}")
    print()


def report_b(b):
    after = b["sim"] - (b["enabled_at"] or 0)
    print(f"(b) {b['messages']:,}-message backlog sent before the mapping, BatchSize 10, "
          "duration 0.1 s")
    print(f"    wall {fmt(b['wall'])} s = setup {fmt(b['setup'])} + send {fmt(b['send'])} "
          f"+ lab.run {fmt(b['run'])} + checks {fmt(b['check'])}; process cpu {fmt(b['cpu'])} s")
    print(f"    mapping Enabled at t = {fmt(b['enabled_at'], 1)} s; last delete at simulated "
          f"t = {fmt(b['sim'], 1)} s ({fmt(after, 1)} s after Enabled)")
    print(f"    peak concurrency: {b['peak_scale']} slots (max 'scale' concurrency), "
          f"{b['peak_overlap']} invocations in flight at once")
    print(f"    {b['invocations']:,} invocations, {b['polls']:,} ReceiveMessage polls "
          f"({b['empty_polls']} empty), {b['events']:,} trace events")
    print(f"    IAM at run time: ~{b['iam_checks']:,} role checks, ~{1e3 * b['iam_seconds']:.1f} ms "
          f"({100 * b['iam_seconds'] / b['run']:.2f} % of lab.run; budget 10 %)")
    print(f"    conservation ok = {b['ok']}; counts = {b['counts']}; "
          f"all deleted: {b['expected_ok']}")
    print()


def report_h(h):
    print(f"(h) idle simulated day: one SQS mapping on an empty queue, {h['seconds']:,.0f} "
          "simulated s")
    print(f"    wall {fmt(h['wall'])} s = setup {fmt(h['setup'])} + lab.run {fmt(h['run'])}; "
          f"process cpu {fmt(h['cpu'])} s")
    print(f"    {h['polls']:,} ReceiveMessage polls ({h['empty_polls']:,} empty), concurrency "
          f"at rest {h['final_scale']}, {h['events']:,} trace events; every poll empty: "
          f"{h['expected_ok']}")
    print()


def report_stream(r):
    after = None if r["sim"] is None else r["sim"] - (r["enabled_at"] or 0)
    if r["name"] == "d":
        print(f"(d) {r['records']:,} Kinesis records over {r['shards']} shards "
              f"({r['keys']:,} partition keys; per shard {r['per_shard']}), written with "
              f"{r['write_calls']} put_records calls before the mapping")
        print(f"    the writes took simulated t = 0 to {fmt(r['written_at'], 1)} s: a shard takes "
              f"1,000 records a second, so {r['throttled']:,} refused entries were sent again "
              "a simulated second later")
    else:
        print(f"(e) {r['records']:,} DynamoDB Streams changes ({r['items']:,} items x "
              f"{r['writes']} put_item, NEW_AND_OLD_IMAGES, {r['shards']} stream shard), "
              "written before the mapping")
    print(f"    TRIM_HORIZON, BatchSize 100, ParallelizationFactor {r['pf']}, duration 0.05 s")
    print(f"    wall {fmt(r['wall'])} s = setup {fmt(r['setup'])} + write {fmt(r['send'])} "
          f"+ lab.run {fmt(r['run'])} + conservation checks {fmt(r['check'])}; "
          f"process cpu {fmt(r['cpu'])} s")
    print(f"    wall without the write: {fmt(r['wall'] - r['send'])} s; write: "
          f"{1e6 * r['send'] / r['records']:.0f} us a record, "
          f"{1e3 * r['send'] / r['write_calls']:.2f} ms a call")
    print(f"    mapping Enabled at t = {fmt(r['enabled_at'], 1)} s; last record processed at "
          f"simulated t = {fmt(r['sim'], 2)} s ({fmt(after, 2)} s after Enabled)")
    print(f"    {r['invocations']:,} invocations {r['outcomes']}, mean batch "
          f"{r['mean_batch']:.1f} records ({r['full_batches']:,} full), {r['polls']:,} shard "
          f"polls, {r['events']:,} trace events")
    print(f"    peak {r['peak_overlap']} invocation(s) in flight at once (limit shards x PF = "
          f"{r['bound']}): {'within' if r['peak_overlap'] <= r['bound'] else 'EXCEEDED'}")
    print(f"    stream_conservation counts = {r['counts']}, nothing lost = {r['ok']}; "
          f"all processed: {r['counts'] == {'processed': r['records']}}")
    print()


def report_c(rows, c_lab_small, c_plain, c_plain_half, n_b):
    print("(c) raw boto3: send_message_batch, then receive_message(10) + delete_message_batch "
          "until empty; no mapping")
    table(
        ["", "msgs", "send s", "recv+del s", "total s", "cpu s", "API calls", "ms/call",
         "msgs/s"],
        [
            [label, f"{r['messages']:,}", fmt(r["send"]), fmt(r["recv_del"]), fmt(r["total"]),
             fmt(r["cpu"]), f"{r['calls']:,}", fmt(1000 * r["total"] / r["calls"]),
             f"{r['messages'] / r['total']:,.0f}"]
            for label, r in rows
        ],
    )
    n_plain = c_plain["messages"]
    if c_plain_half is not None:
        ratio = c_plain["total"] / c_lab_small["total"]
        # CPU time, not wall: it is far less disturbed by other processes on the machine.
        growth = math.log2(c_plain["cpu"] / c_plain_half["cpu"])
        estimate = c_plain["cpu"] * (n_b / n_plain) ** growth
        print(f"    c2 is capped at {n_plain:,} messages, not {n_b:,}: bare moto rescans the "
              "whole queue (a datetime per message) on every")
        print(f"    send, receive and delete. At {n_plain:,} messages it is {ratio:.0f}x slower "
              f"than c1 (wall); {n_plain // 2:,} took {fmt(c_plain_half['cpu'])} cpu s, so its "
              f"cpu time grows as n^{growth:.1f}.")
        print(f"    Extrapolated with that exponent, bare moto would need ~{estimate / 60:.0f} "
              f"cpu min for {n_b:,} messages (a rough estimate, not a measurement).")
    for label, r in rows:
        if r["received"] != r["messages"]:
            print(f"    WARNING: {label} received {r['received']} of {r['messages']}")
    print()


def report_summary(results, rows, quick):
    """The summary table; returns {scenario: met its target} (empty with --quick)."""
    verdicts, lines = {}, []
    labels = {
        "a": lambda r: f"(a) {r['messages']:,} msgs, 10% fail, DLQ",
        "b": lambda r: f"(b) drain {r['messages']:,} SQS backlog",
        "d": lambda r: f"(d) Kinesis {r['records']:,} recs, 4x5 lanes",
        "e": lambda r: f"(e) DynamoDB {r['records']:,} changes",
        "h": lambda r: f"(h) idle SQS mapping, {r['seconds'] / 3600:.0f} h",
        "i": lambda r: f"(i) Kinesis {r['records']:,} live",
        "j": lambda r: f"(j) Kinesis {r['records']:,}, 4->8 shards",
    }
    for key, r in results.items():
        if quick:
            target = "n/a"
        else:
            verdicts[key] = r["wall"] < TARGETS[key]
            target = f"<{TARGETS[key]:.0f}s " + ("PASS" if verdicts[key] else "MISS")
        lines.append([
            labels[key](r), fmt(r["wall"]), fmt(r["cpu"]), fmt(r["send"]), fmt(r["run"]),
            fmt(r["sim"], 1), fmt(r["sim"] / r["run"], 1) + "x",
            fmt(r["sim"] / r["wall"], 1) + "x", f"{r['invocations']:,}",
            str(r["peak_overlap"]), str(r["ok"] and r["expected_ok"]), target,
        ])
    for label, r in rows:
        ok = "-" if r["ok"] is None else str(r["ok"])
        lines.append([label, fmt(r["total"]), fmt(r["cpu"]), fmt(r["send"])]
                     + ["-"] * 6 + [ok, "-"])
    print("summary")
    table(
        ["scenario", "wall s", "cpu s", "write s", "lab.run s", "sim s", "sim/run", "sim/wall",
         "invocations", "peak", "conserved", "target"],
        lines,
        indent="  ",
    )
    print("  wall = the whole scenario, writes included; write = sending the messages or "
          "writing the records; lab.run = simulating.")
    print("  sim/run = simulated seconds per wall second inside lab.run(); sim/wall counts the "
          "whole scenario. peak = invocations in flight at once.")
    print(f"  Targets judge wall time (writes included). {load()} at the end.")
    return verdicts


def print_profile(label, fn, *args, top=20):
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    fn(*args)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order)
        stats.print_stats(top)
        text = out.getvalue()
        body = text[text.find("   ncalls"):] if "   ncalls" in text else text
        print(f"\n--- cProfile of {label}, top {top} by {order} ---")
        print(body.rstrip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs; targets not judged")
    parser.add_argument("--profile", action="store_true",
                        help="print cProfile of (a), (b), (d) and (e) (those that ran)")
    parser.add_argument("--only", default="abcdefghij",
                        help="scenarios to run, e.g. 'de' (default abcdefghij)")
    parser.add_argument("--whole-batch", action="store_true",
                        help="(a): raise from the handler instead of ReportBatchItemFailures")
    parser.add_argument("--plain-messages", type=int, default=None,
                        help="messages for bare moto in (c2) (default 1000, --quick 300)")
    args = parser.parse_args(argv)
    only = set(args.only.lower())
    if not only or only - set("abcdefghij"):
        parser.error("--only takes letters from abcdefghij")

    n_a = 200 if args.quick else 1_000
    n_b = 2_000 if args.quick else 10_000
    n_plain = args.plain_messages or (300 if args.quick else 1_000)
    n_d = 10_000 if args.quick else 100_000
    n_e_items = 250 if args.quick else 2_500  # x 4 writes each

    quick_note = " (--quick: smaller sizes, targets not judged)" if args.quick else ""
    print("esmlab benchmark" + quick_note)
    for line in machine():
        print(line)
    print()

    runs = {
        "a": lambda: scenario_a(n_a, args.whole_batch),
        "b": lambda: scenario_b(n_b),
        "d": lambda: scenario_d(n_d),
        "e": lambda: scenario_e(n_e_items),
        "h": lambda: scenario_h(21_600.0 if args.quick else 86_400.0),
        "i": lambda: scenario_live("i", n_d),
        "j": lambda: scenario_live("j", n_d, reshard_to=8),
    }
    results = {}
    for key in "abdehij":
        if key in only:
            gc.collect()
            results[key] = runs[key]()
    rows = []
    if "c" in only:
        gc.collect()
        c_lab = scenario_c_lab(n_b)
        c_lab_small = scenario_c_lab(n_plain) if n_plain != n_b else c_lab
        gc.collect()
        c_plain = scenario_c_plain(n_plain)
        c_plain_half = scenario_c_plain(n_plain // 2) if n_plain < n_b else None
        rows = [("c1 inside Lab (esmlab's moto fixes)", c_lab)]
        if c_lab_small is not c_lab:
            rows.append(("c1 inside Lab, same count as c2", c_lab_small))
        rows.append(("c2 bare moto.mock_aws()", c_plain))

    if "a" in results:
        report_a(results["a"])
    if "b" in results:
        report_b(results["b"])
    if rows:
        report_c(rows, c_lab_small, c_plain, c_plain_half, n_b)
    for key in "de":
        if key in results:
            report_stream(results[key])
    ramps = {}
    for key in "fg":
        if key in only:
            gc.collect()
            ramps[key] = scenario_ramp(provisioned=key == "g")
    if ramps:
        report_ramps(ramps, args.quick)
    if "h" in results:
        report_h(results["h"])
    for key in "ij":
        if key in results:
            report_live(results[key])
    verdicts = report_summary(results, rows, args.quick)

    to_profile = [k for k, passed in verdicts.items() if not passed]
    if args.profile:
        to_profile = list(results)
    labels = {"a": f"(a) {n_a:,} messages", "b": f"(b) {n_b:,}-message backlog",
              "d": f"(d) {n_d:,} Kinesis records", "e": f"(e) {4 * n_e_items:,} DynamoDB changes",
              "h": "(h) idle simulated day",
              "i": f"(i) {n_d:,} Kinesis records written live",
              "j": f"(j) {n_d:,} Kinesis records, 4 -> 8 shards"}
    for key in to_profile:
        print_profile(labels[key], runs[key])
    failed = not all(r["ok"] and r["expected_ok"] for r in [*results.values(), *ramps.values()])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
