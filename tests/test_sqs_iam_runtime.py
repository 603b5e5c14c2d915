"""IAM at run time for SQS mappings: the poller checks the execution role's current policies on
every SQS call it makes (docs/simulator.md, "IAM at run time").

Everything goes through the learner contract: boto3 IAM/SQS/Lambda clients, ``Lab``,
``lab.function``, ``lab.run`` and the trace.
"""

from __future__ import annotations

import itertools
import json

import pytest

from esmlab import Lab
from esmlab.limits import SQS_DENIED_RESULT, SQS_RECOVERED_RESULT
from esmlab.testing.report import report

SQS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny(action, resource):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def allow(action, resource):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


class Pipeline:
    """A queue (optionally with a DLQ), a role the test shapes, a function and its mapping."""

    def __init__(self, lab, *, managed=(SQS_POLICY,), inline=None, max_receive=None,
                 queue="orders", fails=False):
        self.lab = lab
        self.sqs, self.lam, self.iam = lab.client("sqs"), lab.client("lambda"), lab.client("iam")
        attributes = {"VisibilityTimeout": "10"}
        if max_receive:
            dlq = self.sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
            self.dlq_arn = self.arn_of(dlq)
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": str(max_receive)})
        self.url = self.sqs.create_queue(QueueName=queue, Attributes=attributes)["QueueUrl"]
        self.arn = self.arn_of(self.url)
        self.role_name = f"{queue}-worker-role"
        self.role = self.iam.create_role(RoleName=self.role_name,
                                         AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        for policy in managed:
            self.iam.attach_role_policy(RoleName=self.role_name, PolicyArn=policy)
        if inline:
            self.iam.put_role_policy(RoleName=self.role_name, PolicyName="inline",
                                     PolicyDocument=inline)
        self.seen = []

        def handler(event, context):
            self.seen.extend((r["messageId"], r["attributes"]["ApproximateReceiveCount"])
                             for r in event["Records"])
            if fails:
                raise RuntimeError("boom")

        lab.function(f"{queue}-worker", handler, timeout=5, duration=1.0, role=self.role)
        self.uuid = self.lam.create_event_source_mapping(
            FunctionName=f"{queue}-worker", EventSourceArn=self.arn, BatchSize=10)["UUID"]

    def arn_of(self, url):
        return self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def send(self, n, start=0):
        return [self.sqs.send_message(QueueUrl=self.url, MessageBody=f"m{i}")["MessageId"]
                for i in range(start, start + n)]

    def mapping(self):
        return self.lam.get_event_source_mapping(UUID=self.uuid)

    def denied(self, since=0.0):
        return [e for e in self.lab.trace.of("denied") if e.t >= since and e.mapping == self.uuid]

    def counts(self, arn=None):
        return self.lab.conservation().counts.get(arn or self.arn, {})


def test_no_last_processing_result_while_every_call_is_allowed():
    with Lab(seed=1) as lab:
        p = Pipeline(lab)
        p.send(3)
        lab.run(until=60)
        assert p.counts() == {"entered": 3, "deleted": 3}
        assert not p.denied()
        response = p.mapping()
        assert "LastProcessingResult" not in response  # as recorded for SQS (2025)


def test_detaching_the_managed_policy_after_create_stops_receives_until_reattached():
    with Lab(seed=2) as lab:
        p = Pipeline(lab)
        p.send(3)
        lab.run(until=30)  # allowed: processed, and the answers are remembered
        assert p.counts() == {"entered": 3, "deleted": 3}
        p.iam.detach_role_policy(RoleName=p.role_name, PolicyArn=SQS_POLICY)
        detached_at = lab.now
        # long polls under way were authorized when they began: they end (empty) as usual
        lab.run(until=detached_at + 20)
        polls = [e for e in lab.trace.of("poll") if e.t > detached_at]
        assert polls and all(not e.records for e in polls)
        sent = p.send(4, start=3)
        lab.run(until=300)

        denied = p.denied(since=detached_at)
        assert denied and {e.detail["action"] for e in denied} == {"sqs:ReceiveMessage"}
        assert all(e.detail["role"] == p.role for e in denied)
        assert not any(i.start > detached_at for i in lab.trace.invocations)
        # a denied receive is no receive: no poll events (billed requests) once they ended
        assert not [e for e in lab.trace.of("poll") if e.t > detached_at + 20]
        # retried once a long poll's length apart per poller, not in a tight loop
        per_minute = len([e for e in denied if e.t >= 200]) / (lab.now - 200) * 60
        assert per_minute <= 5 * 3
        response = p.mapping()
        assert response["State"] == "Enabled"
        assert response["StateTransitionReason"] == "USER_INITIATED"
        assert response["LastProcessingResult"] == SQS_DENIED_RESULT.format(call="ReceiveMessage")
        assert p.counts() == {"entered": 7, "deleted": 3, "in_queue": 4}
        assert lab.conservation().ok

        p.iam.attach_role_policy(RoleName=p.role_name, PolicyArn=SQS_POLICY)
        reattached_at = lab.now
        lab.run(until=400)
        assert p.counts() == {"entered": 7, "deleted": 7}
        assert {m for m, _ in p.seen} >= set(sent)
        assert not p.denied(since=reattached_at)
        assert p.mapping()["LastProcessingResult"] == SQS_RECOVERED_RESULT
        assert lab.conservation().ok


def test_an_inline_deny_on_delete_returns_messages_until_the_dlq_takes_them():
    with Lab(seed=3) as lab:
        p = Pipeline(lab, max_receive=3)
        lab.run(until=5)
        p.iam.put_role_policy(RoleName=p.role_name, PolicyName="no-delete",
                              PolicyDocument=doc(deny("sqs:DeleteMessage", p.arn)))
        (message,) = p.send(1)
        lab.run(until=120)

        # received, processed, not deleted; received again after each visibility timeout
        assert [count for m, count in p.seen if m == message] == ["1", "2", "3"]
        assert all(i.outcome == "success" for i in lab.trace.invocations)
        starts = [i.start for i in lab.trace.invocations]
        assert all(b - a >= 10 for a, b in itertools.pairwise(starts))
        denied = p.denied()
        assert [e.detail["action"] for e in denied] == ["sqs:DeleteMessage"] * 3
        assert all(e.records == (message,) for e in denied)
        assert len(lab.trace.of("visible_again")) >= 2
        # the 4th receive finds maxReceiveCount reached: SQS moves it to the DLQ
        assert p.counts() == {"entered": 1, "redriven": 1}
        assert p.counts(p.dlq_arn) == {"entered": 1, "in_queue": 1}
        assert p.mapping()["LastProcessingResult"] == SQS_DENIED_RESULT.format(
            call="DeleteMessage")
        assert lab.conservation().ok
        # a practitioner's failing test shows it in the run's report
        assert (f"calls the execution role was denied: sqs:DeleteMessage x3 (mapping {p.uuid[:8]})"
                in report(lab))


def test_removing_the_deny_lets_the_mapping_recover():
    with Lab(seed=4) as lab:
        p = Pipeline(lab, inline=doc(deny("sqs:DeleteMessage", "arn:aws:sqs:*:*:orders")))
        p.send(5)
        lab.run(until=11)  # received at 2 s, processed, delete denied; visible again at 12 s
        assert p.denied() and p.counts() == {"entered": 5, "in_queue": 5}
        p.iam.delete_role_policy(RoleName=p.role_name, PolicyName="inline")
        lab.run(until=60)
        assert p.counts() == {"entered": 5, "deleted": 5}
        counts = sorted(int(c) for _, c in p.seen)
        assert counts == [1] * 5 + [2] * 5  # processed twice: once denied, once deleted
        assert p.mapping()["LastProcessingResult"] == SQS_RECOVERED_RESULT
        assert lab.conservation().ok


def test_a_customer_managed_deny_with_a_resource_wildcard_hits_only_matching_queues():
    with Lab(seed=5) as lab:
        iam = lab.client("iam")
        blocked = iam.create_policy(
            PolicyName="no-orders-queues",
            PolicyDocument=doc(deny("sqs:Receive*", "arn:aws:sqs:us-east-1:*:orders*")),
        )["Policy"]["Arn"]
        orders = Pipeline(lab, queue="orders-eu")
        billing = Pipeline(lab, queue="billing")
        for p in (orders, billing):  # after create: with it, create fails (V14)
            iam.attach_role_policy(RoleName=p.role_name, PolicyArn=blocked)
        orders.send(2)
        billing.send(2)
        lab.run(until=60)
        assert orders.counts() == {"entered": 2, "in_queue": 2}
        assert {e.detail["action"] for e in orders.denied()} == {"sqs:ReceiveMessage"}
        assert billing.counts() == {"entered": 2, "deleted": 2}
        assert not billing.denied()
        assert lab.conservation().ok


def test_a_new_default_policy_version_applies_at_the_next_call():
    with Lab(seed=6) as lab:
        iam = lab.client("iam")
        everything = doc(allow(["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                "sqs:GetQueueAttributes"], "*"))
        arn = iam.create_policy(PolicyName="sqs-consume", PolicyDocument=everything)["Policy"]["Arn"]
        p = Pipeline(lab, managed=(arn,))
        p.send(2)
        lab.run(until=20)
        assert p.counts() == {"entered": 2, "deleted": 2}
        iam.create_policy_version(PolicyArn=arn, SetAsDefault=True, PolicyDocument=doc(
            allow(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "*")))
        p.send(2, start=2)
        lab.run(until=40)
        assert {e.detail["action"] for e in p.denied()} == {"sqs:DeleteMessage"}
        assert p.counts() == {"entered": 4, "deleted": 2, "in_queue": 2}
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
        lab.run(until=80)
        assert p.counts() == {"entered": 4, "deleted": 4}
        assert lab.conservation().ok


def test_without_get_queue_attributes_the_poller_does_not_start_polling():
    with Lab(seed=7) as lab:
        only = doc(allow(["sqs:ReceiveMessage", "sqs:DeleteMessage"], "*"))
        p = Pipeline(lab, managed=(), inline=only)  # V14 checks ReceiveMessage only
        p.send(2)
        lab.run(until=60)
        assert not lab.trace.of("poll") and not lab.trace.invocations
        assert {e.detail["action"] for e in p.denied()} == {"sqs:GetQueueAttributes"}
        assert p.mapping()["LastProcessingResult"] == SQS_DENIED_RESULT.format(
            call="GetQueueAttributes")
        p.iam.attach_role_policy(RoleName=p.role_name, PolicyArn=SQS_POLICY)
        lab.run(until=120)
        assert p.counts() == {"entered": 2, "deleted": 2}
        assert lab.conservation().ok


def test_a_throttled_batch_without_get_queue_attributes_is_given_up_at_once():
    with Lab(seed=8, account_concurrency=1000) as lab:
        p = Pipeline(lab)
        lab.client("lambda").put_function_concurrency(
            FunctionName="orders-worker", ReservedConcurrentExecutions=0)
        lab.run(until=5)
        p.iam.put_role_policy(RoleName=p.role_name, PolicyName="no-attrs",
                              PolicyDocument=doc(deny("sqs:GetQueueAttributes", "*")))
        (message,) = p.send(1)
        lab.run(until=8)
        throttles = [e for e in lab.trace.of("throttle") if message in e.records]
        gave_up = [e for e in lab.trace.of("gave_up") if message in e.records]
        assert len(throttles) == 1 and gave_up and gave_up[0].t == throttles[0].t
        assert p.counts() == {"entered": 1, "in_queue": 1}
        assert lab.conservation().ok


@pytest.mark.parametrize("seed", [11, 12])
def test_denials_are_deterministic(seed):
    def run():
        with Lab(seed=seed) as lab:
            p = Pipeline(lab, max_receive=2)
            p.send(15)
            lab.run(until=12)
            p.iam.put_role_policy(RoleName=p.role_name, PolicyName="no-delete",
                                  PolicyDocument=doc(deny("sqs:DeleteMessage", "*")))
            lab.run(until=60)
            p.iam.delete_role_policy(RoleName=p.role_name, PolicyName="no-delete")
            lab.run(until=120)
            assert lab.conservation().ok
            return lab.trace.fingerprint()

    assert run() == run()


def test_a_permissions_boundary_set_after_create_limits_the_role():
    with Lab(seed=9) as lab:
        iam = lab.client("iam")
        boundary = iam.create_policy(PolicyName="receive-only", PolicyDocument=doc(
            allow(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "*")))["Policy"]["Arn"]
        p = Pipeline(lab)
        lab.run(until=5)
        iam.put_role_permissions_boundary(RoleName=p.role_name, PermissionsBoundary=boundary)
        p.send(2)
        lab.run(until=40)
        assert {e.detail["action"] for e in p.denied()} == {"sqs:DeleteMessage"}
        assert p.counts() == {"entered": 2, "in_queue": 2}
        iam.delete_role_permissions_boundary(RoleName=p.role_name)
        lab.run(until=80)
        assert p.counts() == {"entered": 2, "deleted": 2}
        assert lab.conservation().ok


def test_filtered_messages_stay_in_the_queue_when_their_delete_is_denied():
    with Lab(seed=10) as lab:
        sqs, lam, iam = lab.client("sqs"), lab.client("lambda"), lab.client("iam")
        url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "10"})[
            "QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        seen = []
        lab.function("picky", lambda event, context: seen.extend(event["Records"]))
        uuid = lam.create_event_source_mapping(
            FunctionName="picky", EventSourceArn=arn,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
        )["UUID"]
        role_name = lab.functions["picky"].role.rsplit("/", 1)[-1]
        lab.run(until=5)
        iam.put_role_policy(RoleName=role_name, PolicyName="no-delete",
                            PolicyDocument=doc(deny("sqs:DeleteMessage", arn)))
        dropped = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"keep": False}))
        lab.run(until=8)
        assert not seen
        assert lab.trace.of("filtered") and lab.trace.of("denied")[0].records == (
            dropped["MessageId"],)
        assert lab.ledger.fate(arn, dropped["MessageId"]) == "in_queue"
        iam.delete_role_policy(RoleName=role_name, PolicyName="no-delete")
        lab.run(until=30)  # visible again at 15 s, filtered again, deleted this time
        assert lab.ledger.fate(arn, dropped["MessageId"]) == "filtered"
        assert lab.conservation().ok
        assert "LastProcessingResult" in lam.get_event_source_mapping(UUID=uuid)
