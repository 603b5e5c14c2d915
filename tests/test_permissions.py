"""esmlab.permissions: IAM identity-policy evaluation for execution roles (services-sqs-configure, with-kinesis, with-ddb, kinesis-on-failure-destination)."""

import json

import pytest

from esmlab import Lab
from esmlab.permissions import (
    allowed,
    destination_actions,
    missing,
    missing_destination,
    required_actions,
)

ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
OTHER_QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:payments"
STREAM = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
OTHER_STREAM = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/views"
DDB_STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders/stream/2025-01-01T00:00:00.000"
OTHER_DDB_STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/users/stream/2025-01-01T00:00:00.000"
SOURCES = {"sqs": (QUEUE, OTHER_QUEUE), "kinesis": (STREAM, OTHER_STREAM),
           "dynamodb": (DDB_STREAM, OTHER_DDB_STREAM)}
MANAGED = {
    "sqs": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "kinesis": "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "dynamodb": "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


class Roles:
    def __init__(self, lab):
        self.iam = lab.client("iam")
        self.count = 0

    def make(self, *, managed=(), inline=(), path="/", boundary=None):
        """A role with these managed policy ARNs and inline policy documents; returns its ARN."""
        self.count += 1
        name = f"role-{self.count}"
        kwargs = {"PermissionsBoundary": boundary} if boundary else {}
        arn = self.iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST,
                                   **kwargs)["Role"]["Arn"]
        for policy_arn in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        for i, document in enumerate(inline):
            self.iam.put_role_policy(RoleName=name, PolicyName=f"inline-{i}", PolicyDocument=document)
        return arn

    def policy(self, name, document):
        return self.iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]


@pytest.fixture
def roles():
    lab = Lab(seed=1)
    try:
        yield Roles(lab)
    finally:
        lab.close()


# --- the action lists ----------------------------------------------------------------------------

def test_required_and_destination_actions_follow_the_fact_base():
    assert required_actions("sqs") == (
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
    assert required_actions("kinesis") == (
        "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
        "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard")
    assert required_actions("dynamodb") == (
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:ListStreams")
    assert destination_actions("sqs") == ("sqs:SendMessage",)
    assert destination_actions("sns") == ("sns:Publish",)
    assert destination_actions("s3") == ("s3:PutObject", "s3:ListBucket")
    with pytest.raises(ValueError):
        required_actions("kafka")
    with pytest.raises(ValueError):
        destination_actions("lambda")


# --- AWS managed execution-role policies -----------------------------------------------------------

@pytest.mark.parametrize("source", ["sqs", "kinesis", "dynamodb"])
def test_aws_managed_execution_role_grants_its_source_on_any_resource(roles, source):
    role = roles.make(managed=[MANAGED[source]], path="/service-role/")
    for arn in SOURCES[source]:
        assert missing(role, source, arn) == []
    assert allowed(role, "logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:x")
    for other in set(SOURCES) - {source}:  # and nothing of the other sources
        assert missing(role, other, SOURCES[other][0]) == list(required_actions(other))


def test_role_without_policies_is_denied_everything(roles):
    role = roles.make()
    for source, (arn, _) in SOURCES.items():
        assert missing(role, source, arn) == list(required_actions(source))
    assert not allowed(role, "sqs:ReceiveMessage", "*")
    assert not allowed(f"arn:aws:iam::{ACCOUNT}:role/no-such-role", "sqs:ReceiveMessage", QUEUE)
    assert not allowed(None, "sqs:ReceiveMessage", QUEUE)


# --- resources, Deny, wildcards ------------------------------------------------------------------

def test_inline_policy_on_one_queue_only(roles):
    role = roles.make(inline=[doc(allow("sqs:ReceiveMessage", QUEUE))])
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(role, "sqs:ReceiveMessage", OTHER_QUEUE)
    assert not allowed(role, "sqs:DeleteMessage", QUEUE)
    assert missing(role, "sqs", QUEUE) == ["sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def test_explicit_deny_overrides_a_managed_allow(roles):
    inline_deny = roles.make(managed=[MANAGED["sqs"]],
                             inline=[doc(deny("sqs:ReceiveMessage", QUEUE))])
    assert missing(inline_deny, "sqs", QUEUE) == ["sqs:ReceiveMessage"]
    assert missing(inline_deny, "sqs", OTHER_QUEUE) == []

    managed_deny = roles.policy("no-sqs", doc(deny("sqs:*")))
    role = roles.make(managed=[MANAGED["sqs"], managed_deny])
    assert missing(role, "sqs", QUEUE) == list(required_actions("sqs"))
    assert allowed(role, "logs:CreateLogGroup", "*")


def test_wildcard_actions(roles):
    role = roles.make(inline=[doc(allow("sqs:*", QUEUE), allow("kinesis:Get*", STREAM))])
    assert missing(role, "sqs", QUEUE) == []
    assert missing(role, "sqs", OTHER_QUEUE) == list(required_actions("sqs"))
    assert missing(role, "kinesis", STREAM) == [
        "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards",
        "kinesis:SubscribeToShard"]


def test_single_character_wildcard_and_action_case(roles):
    role = roles.make(inline=[doc(allow(["SQS:receivemessage", "sqs:Delete?essage",
                                         "sqs:GetQueueAttributes?"], QUEUE))])
    assert missing(role, "sqs", QUEUE) == ["sqs:GetQueueAttributes"]  # ? is exactly one character
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert allowed(role, "sqs:DeleteMessage", QUEUE)


def test_wildcard_resources(roles):
    role = roles.make(inline=[doc(
        allow("sqs:*", f"arn:aws:sqs:*:{ACCOUNT}:ord?rs"),
        allow("dynamodb:*", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders/stream/*"),
    )])
    assert missing(role, "sqs", QUEUE) == []
    assert missing(role, "sqs", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders") == []
    assert missing(role, "sqs", OTHER_QUEUE) == list(required_actions("sqs"))
    assert missing(role, "dynamodb", DDB_STREAM) == []
    assert missing(role, "dynamodb", OTHER_DDB_STREAM) == list(required_actions("dynamodb"))
    # resource matching is case-sensitive, and "." in a pattern is a literal dot
    dotted = roles.make(inline=[doc(allow("sqs:*", f"arn:aws:sqs:us-east-1:{ACCOUNT}:a.b"))])
    assert allowed(dotted, "sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:a.b")
    assert not allowed(dotted, "sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:aXb")
    assert not allowed(dotted, "sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:A.B")


def test_mid_segment_star_does_not_cross_colons(roles):
    role = roles.make(inline=[doc(allow("sqs:*", f"arn:aws:sqs:us-*-1:{ACCOUNT}:orders"))])
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(role, "sqs:ReceiveMessage", f"arn:aws:sqs:us-a:b-1:{ACCOUNT}:orders")


def test_not_action(roles):
    role = roles.make(inline=[doc({"Effect": "Allow", "NotAction": "sqs:DeleteMessage",
                                   "Resource": "*"})])
    assert missing(role, "sqs", QUEUE) == ["sqs:DeleteMessage"]
    assert missing(role, "kinesis", STREAM) == []

    only_receive = roles.make(inline=[doc(
        allow("sqs:*"), {"Effect": "Deny", "NotAction": ["sqs:ReceiveMessage"], "Resource": "*"})])
    assert missing(only_receive, "sqs", QUEUE) == ["sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def test_not_resource(roles):
    role = roles.make(managed=[MANAGED["sqs"]],
                      inline=[doc({"Effect": "Deny", "Action": "sqs:*", "NotResource": [QUEUE]})])
    assert missing(role, "sqs", QUEUE) == []
    assert missing(role, "sqs", OTHER_QUEUE) == list(required_actions("sqs"))

    everywhere_but = roles.make(inline=[doc(
        {"Effect": "Allow", "Action": "sqs:*", "NotResource": OTHER_QUEUE})])
    assert allowed(everywhere_but, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(everywhere_but, "sqs:ReceiveMessage", OTHER_QUEUE)


def test_statement_as_a_single_object_and_string_elements(roles):
    single = json.dumps({"Version": "2012-10-17", "Statement": allow("sqs:ReceiveMessage", QUEUE)})
    role = roles.make(inline=[single])
    assert missing(role, "sqs", QUEUE) == ["sqs:DeleteMessage", "sqs:GetQueueAttributes"]


# --- managed policy versions, live changes, boundaries -------------------------------------------

def test_customer_managed_policy_uses_the_default_version(roles):
    policy = roles.policy("versions", doc(allow("sqs:*")))
    role = roles.make(managed=[policy])
    assert missing(role, "sqs", QUEUE) == []

    roles.iam.create_policy_version(PolicyArn=policy, PolicyDocument=doc(allow("kinesis:*")),
                                    SetAsDefault=False)
    assert missing(role, "sqs", QUEUE) == []  # v2 exists but v1 is still the default
    assert missing(role, "kinesis", STREAM) == list(required_actions("kinesis"))

    roles.iam.set_default_policy_version(PolicyArn=policy, VersionId="v2")
    assert missing(role, "sqs", QUEUE) == list(required_actions("sqs"))
    assert missing(role, "kinesis", STREAM) == []

    roles.iam.set_default_policy_version(PolicyArn=policy, VersionId="v1")
    assert missing(role, "sqs", QUEUE) == []


def test_sees_changes_made_with_boto3_immediately(roles):
    role = roles.make(managed=[MANAGED["sqs"]])
    assert missing(role, "sqs", QUEUE) == []
    roles.iam.detach_role_policy(RoleName=role.split("/")[-1], PolicyArn=MANAGED["sqs"])
    assert missing(role, "sqs", QUEUE) == list(required_actions("sqs"))


def test_permissions_boundary_limits_the_role(roles):
    boundary = roles.policy("boundary", doc(allow("sqs:ReceiveMessage")))
    role = roles.make(managed=[MANAGED["sqs"]], boundary=boundary)
    assert missing(role, "sqs", QUEUE) == ["sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    assert not allowed(role, "logs:PutLogEvents", "*")


# --- conditions (MODELLING CHOICE: unknown -> Allow does not grant, Deny does deny) ---------------

def test_conditions_on_known_keys_are_evaluated(roles):
    same_account = allow("sqs:*", "*", Condition={"StringEquals": {"aws:ResourceAccount": ACCOUNT}})
    role = roles.make(inline=[doc(same_account)])
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(role, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:999999999999:orders")

    not_in_eu = deny("sqs:*", "*", Condition={"StringLike": {"aws:RequestedRegion": "eu-*"}})
    role = roles.make(managed=[MANAGED["sqs"]], inline=[doc(not_in_eu)])
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(role, "sqs:ReceiveMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:orders")

    own_role = allow("sqs:*", "*", Condition={
        "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/role-*"},
        "Bool": {"aws:SecureTransport": True}})
    assert allowed(roles.make(inline=[doc(own_role)]), "sqs:ReceiveMessage", QUEUE)


def test_unknown_conditions_are_resolved_toward_deny(roles):
    vpc_only = {"StringEquals": {"aws:SourceVpc": "vpc-1"}}
    allow_role = roles.make(inline=[doc(allow("sqs:*", "*", Condition=vpc_only))])
    assert not allowed(allow_role, "sqs:ReceiveMessage", QUEUE)
    # ...unless the caller supplies the key
    assert allowed(allow_role, "sqs:ReceiveMessage", QUEUE, context={"aws:SourceVpc": "vpc-1"})

    deny_role = roles.make(managed=[MANAGED["sqs"]], inline=[doc(deny(
        "sqs:*", "*", Condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}))])
    assert not allowed(deny_role, "sqs:ReceiveMessage", QUEUE)
    assert allowed(deny_role, "sqs:ReceiveMessage", QUEUE, context={"aws:SourceVpc": "vpc-1"})

    set_operator = roles.make(inline=[doc(allow("sqs:*", "*", Condition={
        "ForAnyValue:StringEquals": {"aws:PrincipalAccount": [ACCOUNT]}}))])
    assert not allowed(set_operator, "sqs:ReceiveMessage", QUEUE)


def test_policy_variables_in_resources(roles):
    role = roles.make(inline=[doc(allow("sqs:*", "arn:aws:sqs:*:${aws:PrincipalAccount}:orders"))])
    assert allowed(role, "sqs:ReceiveMessage", QUEUE)
    assert not allowed(role, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:999999999999:orders")
    unknown = roles.make(inline=[doc(allow("sqs:*", "arn:aws:sqs:*:*:${aws:username}"))])
    assert not allowed(unknown, "sqs:ReceiveMessage", QUEUE)


# --- destinations --------------------------------------------------------------------------------

def test_missing_destination(roles):
    bucket = "arn:aws:s3:::failures"
    good = roles.make(inline=[doc(allow("s3:PutObject", f"{bucket}/*"),
                                  allow("s3:ListBucket", bucket), allow("sns:Publish"))])
    assert missing_destination(good, "s3", bucket) == []
    assert missing_destination(good, "sns", f"arn:aws:sns:us-east-1:{ACCOUNT}:t") == []
    assert missing_destination(good, "sqs", QUEUE) == ["sqs:SendMessage"]
    # PutObject granted on the bucket ARN itself does not cover its objects
    bucket_only = roles.make(inline=[doc(allow(["s3:PutObject", "s3:ListBucket"], bucket))])
    assert missing_destination(bucket_only, "s3", bucket) == ["s3:PutObject"]


# --- why moto's evaluator is not reused ----------------------------------------------------------

def test_moto_evaluator_gaps_that_this_module_covers(roles):
    """If this fails after a moto upgrade, moto fixed these: consider wrapping its evaluator."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    cases = [  # (statement, action, resource, what IAM answers)
        ({"Effect": "Deny", "Action": "sqs:*", "NotResource": QUEUE}, "sqs:ReceiveMessage",
         OTHER_QUEUE, "deny"),
        (allow("sqs:Receive?essage"), "sqs:ReceiveMessage", QUEUE, "allow"),
        (allow("SQS:ReceiveMessage"), "sqs:ReceiveMessage", QUEUE, "allow"),
    ]
    moto_answers = {PermissionResult.PERMITTED: "allow", PermissionResult.DENIED: "deny",
                    PermissionResult.NEUTRAL: "neutral"}
    for statement, action, resource, expected in cases:
        role = roles.make(inline=[doc(allow("sqs:DeleteMessage"), statement)])
        assert allowed(role, action, resource) == (expected == "allow")
        moto = moto_answers[IAMPolicy(doc(statement)).is_action_permitted(action, resource)]
        assert moto != expected, (statement, moto)
