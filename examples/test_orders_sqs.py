"""An SQS handler with ReportBatchItemFailures: bad orders reach the DLQ, good ones are written once."""

import json

from esmlab.testing import assert_nothing_lost, deliveries, load_handler, sqs_pipeline


def make_table(lab):
    lab.client("dynamodb").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")


def test_bad_orders_end_in_the_dlq_and_good_ones_are_written_once(esm_lab):
    make_table(esm_lab)
    handler = load_handler("orders_sqs:handler")  # its boto3 resource now talks to this lab
    pipe = sqs_pipeline(esm_lab, handler, max_receive_count=3, report_batch_item_failures=True,
                        batch_size=10, environment={"ORDERS_TABLE": "orders",
                                                    "POWERTOOLS_SERVICE_NAME": "orders"})
    sqs = esm_lab.client("sqs")
    orders = [{"id": f"o-{n}", "quantity": n % 4} for n in range(8)]  # o-0 and o-4 are bad
    for order in orders:
        sqs.send_message(QueueUrl=pipe.queue_url, MessageBody=json.dumps(order))
    sqs.send_message(QueueUrl=pipe.queue_url, MessageBody="not json")

    esm_lab.run(until=300)  # three 30 s visibility timeouts, in well under a second

    dead = sqs.receive_message(QueueUrl=pipe.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(
        [json.dumps(orders[0]), json.dumps(orders[4]), "not json"])
    rows = esm_lab.client("dynamodb").scan(TableName="orders")["Items"]
    assert sorted(r["id"]["S"] for r in rows) == ["o-1", "o-2", "o-3", "o-5", "o-6", "o-7"]
    counts = deliveries(esm_lab)
    dead_ids = {m["MessageId"] for m in dead}
    assert all(n == 3 for mid, n in counts.items() if mid in dead_ids)  # maxReceiveCount
    assert all(n == 1 for mid, n in counts.items() if mid not in dead_ids)  # never retried
    assert_nothing_lost(esm_lab)
