"""A DynamoDB Streams handler with a tumbling window: one total per window, from the state that
Lambda carries between the window's invocations."""

import totals_dynamodb

from esmlab.testing import assert_nothing_lost, dynamodb_pipeline


def test_one_total_per_window(esm_lab):
    totals_dynamodb.TOTALS.clear()
    pipe = dynamodb_pipeline(esm_lab, totals_dynamodb.handler, TumblingWindowInSeconds=60,
                             BatchSize=2)
    ddb = esm_lab.client("dynamodb")
    esm_lab.run(until=5)
    for n, amount in enumerate([5, 7, 11]):  # written in the first minute
        ddb.put_item(TableName=pipe.source_name, Item={"id": {"S": f"o-{n}"},
                                                         "amount": {"N": str(amount)}})
    ddb.update_item(TableName=pipe.source_name, Key={"id": {"S": "o-0"}},  # a MODIFY: not summed
                    UpdateExpression="SET amount = :a", ExpressionAttributeValues={":a": {"N": "6"}})
    esm_lab.run(until=70)
    ddb.put_item(TableName=pipe.source_name, Item={"id": {"S": "o-9"}, "amount": {"N": "100"}})
    esm_lab.run(until=200)

    assert totals_dynamodb.TOTALS == [("2025-01-01T00:00:00Z", 23), ("2025-01-01T00:01:00Z", 100)]
    assert_nothing_lost(esm_lab)
