"""Example handler: a tumbling window over a DynamoDB stream, summing new order amounts per
window; the final invocation of each window publishes the total."""

TOTALS = []  # (window start, total) as a real handler would write them


def handler(event, context):
    total = event["state"].get("total", 0)
    for record in event["Records"]:
        if record["eventName"] == "INSERT":
            total += int(record["dynamodb"]["NewImage"]["amount"]["N"])
    if event["isFinalInvokeForWindow"]:
        TOTALS.append((event["window"]["start"], total))
    return {"state": {"total": total}}
