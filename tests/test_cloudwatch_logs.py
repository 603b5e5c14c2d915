"""The functions' logs in moto's CloudWatch Logs, read with the learner's own client."""

import logging


def messages(lab, group="/aws/lambda/worker", **kwargs):
    return lab.client("logs").filter_log_events(logGroupName=group, **kwargs)["events"]


def test_start_end_report_and_prints(env):
    def handler(event, context):
        print("processing", len(event["Records"]), "records")

    env.lab.function("worker", handler, timeout=10, duration=0.25)
    url, arn = env.queue()
    env.mapping(arn, BatchSize=10)
    env.send(url, "a", "b")
    env.lab.run(until=30)
    request_id = env.lab.trace.invocations[0].request_id
    lines = [e["message"] for e in messages(env.lab)]
    assert lines == [
        f"START RequestId: {request_id} Version: $LATEST",
        "processing 2 records",
        f"END RequestId: {request_id}",
        (f"REPORT RequestId: {request_id}\tDuration: 250.00 ms\tBilled Duration: 250 ms\t"
        "Memory Size: 128 MB"),
    ]
    events = messages(env.lab)
    start = env.lab.clock.epoch(env.lab.trace.invocations[0].start) * 1000
    assert events[0]["timestamp"] == round(start)
    assert events[-1]["timestamp"] == round(start + 250)


def test_unhandled_exception_is_logged_and_filterable(env):
    def handler(event, context):
        raise KeyError("customer")

    env.lab.function("worker", handler, timeout=10)
    url, arn = env.queue(VisibilityTimeout=30)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=20)
    errors = messages(env.lab, filterPattern="ERROR")
    assert len(errors) == 1
    assert errors[0]["message"].startswith("[ERROR] KeyError: 'customer'\nTraceback")


def test_timeout_line(env):
    env.lab.function("worker", lambda e, c: None, timeout=3, duration=5)
    url, arn = env.queue(VisibilityTimeout=30)
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=20)
    from esmlab.cloudwatch.logs import iso

    invocation = env.lab.trace.invocations[0]
    ended = iso(env.lab.clock.epoch(invocation.start + 3) * 1000)
    lines = [e["message"] for e in messages(env.lab)]
    assert lines[1] == f"{ended} {invocation.request_id} Task timed out after 3.00 seconds"
    assert "Duration: 3000.00 ms" in lines[-1]


def test_logging_records_in_the_runtime_format(env):
    logger = logging.getLogger("orders")

    def handler(event, context):
        logging.getLogger().setLevel(logging.INFO)
        logger.info("order %s", event["Records"][0]["body"])

    env.lab.function("worker", handler, timeout=10)
    url, arn = env.queue()
    env.mapping(arn)
    env.send(url, "o-1")
    try:
        env.lab.run(until=20)
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    request_id = env.lab.trace.invocations[0].request_id
    line = messages(env.lab)[1]["message"]
    level, when, rid, text = line.split("\t")
    assert (level, rid, text) == ("[INFO]", request_id, "order o-1")
    assert when.startswith("2025-01-01T00:00:") and when.endswith("Z")


def test_one_stream_per_execution_environment(env):
    seen = []
    env.lab.function("worker", lambda e, c: seen.append(c.log_stream_name), timeout=10,
                     duration=5)
    url, arn = env.queue()
    env.mapping(arn, BatchSize=1)
    env.send(url, *[str(n) for n in range(6)])
    env.lab.run(until=60)
    streams = env.lab.client("logs").describe_log_streams(
        logGroupName="/aws/lambda/worker")["logStreams"]
    names = {s["logStreamName"] for s in streams}
    assert names == set(seen)
    from esmlab.trace import peak_concurrency

    assert len(names) == peak_concurrency(env.lab.trace.invocations)
    assert all(n.startswith("2025/01/01/[$LATEST]") for n in names)


def test_prints_still_show_where_the_lab_runs(env, capsys):
    env.lab.function("worker", lambda e, c: print("hello from the handler"), timeout=10)
    url, arn = env.queue()
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=20)
    assert "hello from the handler" in capsys.readouterr().out
    assert "hello from the handler" in [e["message"] for e in messages(env.lab)]


def test_same_seed_same_logs_and_metrics():
    import datetime as dt

    from esmlab import Lab
    from esmlab.clock import START

    def run():
        with Lab(seed=3) as lab:
            sqs = lab.client("sqs")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            lab.function("worker", lambda e, c: print(len(e["Records"])), timeout=10,
                         duration=lambda e: lab.random.random())
            lab.client("lambda").create_event_source_mapping(FunctionName="worker",
                                                             EventSourceArn=arn)
            for n in range(30):
                sqs.send_message(QueueUrl=url, MessageBody=str(n))
            lab.run(until=180)
            logs = [(e["logStreamName"], e["timestamp"], e["message"]) for e in messages(lab)]
            data = lab.client("cloudwatch").get_metric_data(
                MetricDataQueries=[{"Id": "d", "MetricStat": {"Metric": {
                    "Namespace": "AWS/Lambda", "MetricName": "Duration",
                    "Dimensions": [{"Name": "FunctionName", "Value": "worker"}]},
                    "Period": 60, "Stat": "Average"}}],
                StartTime=START, EndTime=START + dt.timedelta(minutes=5))
            return logs, data["MetricDataResults"][0]["Values"], lab.trace.fingerprint()

    assert run() == run()


def test_powertools_structured_logging_reaches_the_log_group(env):
    import json

    from aws_lambda_powertools import Logger

    logger = Logger(service="orders")  # made outside the handler, as in a real function

    @logger.inject_lambda_context
    def handler(event, context):
        logger.info("processing", extra={"records": len(event["Records"])})

    env.lab.function("worker", handler, timeout=10)
    url, arn = env.queue()
    env.mapping(arn)
    env.send(url, "x")
    env.lab.run(until=20)
    request_id = env.lab.trace.invocations[0].request_id
    (line,) = [e["message"] for e in messages(env.lab) if e["message"].startswith("{")]
    entry = json.loads(line)
    assert entry["message"] == "processing" and entry["records"] == 1
    assert entry["function_request_id"] == request_id
    assert entry["timestamp"].startswith("2025-01-01 00:00:")
