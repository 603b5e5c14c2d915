"""Powertools idempotency under a standard queue's own duplicates (Lab(duplicates=...)): the
queue delivers some payments twice, and the ledger still counts each payment once."""

import json

import pytest

from esmlab.testing import deliveries, load_handler, sqs_pipeline


def make_tables(lab):
    ddb = lab.client("dynamodb")
    ddb.create_table(TableName="idem", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.create_table(TableName="ledger", KeySchema=[{"AttributeName": "account", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "account", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")


@pytest.mark.esmlab(duplicates=0.2)
def test_a_payment_delivered_twice_is_charged_once(esm_lab):
    make_tables(esm_lab)
    handler = load_handler("payments_sqs:handler")
    pipe = sqs_pipeline(esm_lab, handler, environment={"IDEMPOTENCY_TABLE": "idem",
                                                       "LEDGER_TABLE": "ledger"})
    sqs = esm_lab.client("sqs")
    for n in range(40):
        sqs.send_message(QueueUrl=pipe.queue_url,
                         MessageBody=json.dumps({"id": f"p-{n}", "account": "a", "amount": 1}))
    esm_lab.run(until=120)
    assert max(deliveries(esm_lab).values()) > 1  # the queue did deliver some twice
    row = esm_lab.client("dynamodb").get_item(TableName="ledger", Key={"account": {"S": "a"}})
    assert row["Item"]["total"]["N"] == "40"
