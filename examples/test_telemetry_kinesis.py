"""A Kinesis handler with a checkpoint, bisect and a retry limit: one bad record costs a bounded
number of invocations, and the shard moves on. What the test shows, and a practitioner must plan
for: the records after the bad one share its fate. Lambda checkpoints before the reported record
and retries from it; a valid partial response is never bisected, so when the retries run out the
whole rest of the batch goes to the destination, to be replayed from its sequence numbers
(https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html)."""

import json

import telemetry_kinesis

from esmlab.testing import assert_nothing_lost, kinesis_pipeline


def test_a_bad_record_goes_to_the_destination_and_the_shard_moves_on(esm_lab):
    telemetry_kinesis.PROCESSED.clear()
    pipe = kinesis_pipeline(
        esm_lab, telemetry_kinesis.handler, destination=True, BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"], BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2)
    kinesis = esm_lab.client("kinesis")
    payloads = [json.dumps({"sensor": "t-1", "value": n}) for n in range(6)]
    payloads.insert(3, "garbage")
    written = [kinesis.put_record(StreamName=pipe.source_name, Data=p.encode(),
                                  PartitionKey="t-1")["SequenceNumber"] for p in payloads]

    esm_lab.run(until=120)

    assert telemetry_kinesis.PROCESSED == [("t-1", n) for n in range(3)]  # before the bad one
    sqs = esm_lab.client("sqs")
    message = sqs.receive_message(QueueUrl=pipe.destination_url)["Messages"][0]
    info = json.loads(message["Body"])["KinesisBatchInfo"]
    # the bad record and the three good ones after it, discarded together
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (written[3], written[6])
    assert info["batchSize"] == 4
    # 1 attempt + 2 retries (MaximumRetryAttempts) of the rest, after the first partial response
    assert json.loads(message["Body"])["requestContext"]["approximateInvokeCount"] == 3
    assert_nothing_lost(esm_lab)
