"""A property-based test with Hypothesis: random failure patterns and batch sizes; only the bad
messages are retried, each exactly maxReceiveCount times, and nothing is lost."""

from hypothesis import given, settings
from hypothesis import strategies as st

from esmlab import Lab
from esmlab.testing import assert_nothing_lost, deliveries, sqs_pipeline


def handler(event, context):
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if r["body"] == "bad"]}


@settings(max_examples=10, deadline=None)
@given(bad=st.sets(st.integers(0, 19), max_size=5), batch_size=st.integers(1, 10))
def test_only_bad_messages_are_retried(bad, batch_size):
    with Lab(seed=0) as lab:  # a Lab per example: fixtures are made once per test, not per example
        pipe = sqs_pipeline(lab, handler, batch_size=batch_size, max_receive_count=2,
                            report_batch_item_failures=True)
        sqs = lab.client("sqs")
        ids = [sqs.send_message(QueueUrl=pipe.queue_url,
                                MessageBody="bad" if n in bad else f"order {n}")["MessageId"]
               for n in range(20)]
        lab.run(until=300)
        counts = deliveries(lab)
        assert [counts[i] for i in ids] == [2 if n in bad else 1 for n in range(20)]
        assert_nothing_lost(lab)
