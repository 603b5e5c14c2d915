"""esmlab.filtering: FilterCriteria validation (V5, limits) and the behaviours of invocation-eventfiltering.

Record shapes follow the events recorded from AWS in 2025 (SQS, Kinesis, DynamoDB).
"""

import base64
import copy
import json

import pytest

from esmlab.filtering import INVALID_PATTERN_MESSAGE, InvalidFilter, matches, validate

# --- record builders ------------------------------------------------------------------------


def sqs_record(body, **message_attributes):
    return {
        "messageId": "2e1424d4-f796-459a-8184-9c92662be6da",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1732527000000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1732527000012",
        },
        "messageAttributes": {
            name: {
                "stringValue": value,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
            for name, value in message_attributes.items()
        },
        "md5OfMessageAttributes": None,
        "md5OfBody": "6e5aebe8eb4c6a50567c5b564f15cc88",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
        "awsRegion": "us-east-1",
    }


def kinesis_record(payload, partition_key="sensor-t-1"):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    seq = "49657216348736232549818937212592392722458226539651678210"
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": seq,
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": 1732527000.123,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/orders-fn-role",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry",
    }


def ddb_record(new_image, event_name="INSERT", created=1732527000.0):
    dynamodb = {
        "ApproximateCreationDateTime": created,
        "Keys": {"id": new_image.get("id", {"S": "id_value"})},
        "SequenceNumber": "100000000012345678901",
        "SizeBytes": 20,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name != "REMOVE":
        dynamodb["NewImage"] = new_image
    if event_name != "INSERT":
        dynamodb["OldImage"] = {"id": {"S": "id_value"}}
    return {
        "eventID": "7de3041dd709b024af6f29e4fa13d34c",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2025-11-25T09:00:00.000",
    }


def criteria(*patterns):
    return {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}


def passes(source, record, *patterns):
    return matches(validate(criteria(*patterns)), record, source)


# --- validate: V5 and the limits ------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("null", id="null"),
        pytest.param("aws:sqs", id="plain-string"),
        pytest.param('"aws:sqs"', id="json-string"),
        pytest.param('{"eventSource": ["aws:sqs"]', id="not-json"),
        pytest.param('{"eventSource":"aws:sqs"}', id="scalar-leaf"),
        pytest.param('{"eventSource":[]}', id="empty-list"),
        pytest.param('{"body": {"status": "NEW"}}', id="nested-scalar-leaf"),
        pytest.param('{"body": {"status": []}}', id="nested-empty-list"),
    ],
)
def test_v5_invalid_patterns_are_rejected_with_the_recorded_message(pattern):
    with pytest.raises(InvalidFilter) as caught:
        validate(criteria(pattern))
    error = caught.value
    assert (
        str(error)
        == error.message
        == INVALID_PATTERN_MESSAGE
        == "Invalid filter pattern definition."
    )
    assert (error.code, error.status) == ("InvalidParameterValueException", 400)


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("", id="empty-string"),
        pytest.param("{}", id="empty-object"),
        pytest.param('{"body": {}}', id="nested-empty-object"),
        pytest.param('[{"eventSource": ["aws:sqs"]}]', id="array"),
        pytest.param("42", id="number"),
        pytest.param('{"body": {"n": [NaN]}}', id="nan"),
        pytest.param('{"body": {"n": [{"bogus": 1}]}}', id="unknown-operator"),
        pytest.param('{"body": {"n": [{"numeric": ["!=", 1]}]}}', id="numeric-bad-op"),
        pytest.param('{"body": {"n": [{"numeric": [">", "1"]}]}}', id="numeric-string"),
        pytest.param('{"body": {"n": [{"numeric": [">"]}]}}', id="numeric-odd"),
        pytest.param('{"body": {"n": [{"numeric": ["<", 1, ">", 0]}]}}', id="numeric-range-order"),
        pytest.param('{"body": {"n": [{"prefix": 1}]}}', id="prefix-number"),
        pytest.param('{"body": {"n": [{"exists": "yes"}]}}', id="exists-string"),
        pytest.param('{"body": {"n": [{"prefix": "a", "suffix": "b"}]}}', id="two-operators"),
        pytest.param('{"body": {"n": [["a"]]}}', id="nested-list-rule"),
        pytest.param(
            '{"body": {"n": [{"anything-but": {"numeric": [">", 1]}}]}}', id="anything-but-numeric"
        ),
        pytest.param('{"ip": [{"cidr": "10.0.0.1/24"}]}', id="cidr-host-bits"),
        pytest.param('{"$or": []}', id="empty-or"),
    ],
)
def test_other_invalid_patterns_get_the_same_message(pattern):
    # MODELLING CHOICE V-2: not recorded, given the V5 message.
    with pytest.raises(InvalidFilter, match=r"^Invalid filter pattern definition\.$"):
        validate(criteria(pattern))


def test_missing_pattern_key_is_invalid():
    with pytest.raises(InvalidFilter, match=r"^Invalid filter pattern definition\.$"):
        validate({"Filters": [{}]})


def test_valid_patterns_are_returned_parsed_in_order():
    a = {"body": {"status": ["NEW"]}}
    b = {"dynamodb": {"NewImage": {"k": {"S": [{"exists": True}]}}}, "eventName": ["INSERT"]}
    assert validate(criteria(a, b)) == [a, b]


@pytest.mark.parametrize("empty", [None, {}, {"Filters": None}, {"Filters": []}])
def test_no_filters_means_no_patterns(empty):
    assert validate(empty) == []  # invocation-eventfiltering, for {"Filters": []}


def test_at_most_five_filters_by_default():
    five = [{"body": {"n": [i]}} for i in range(5)]
    assert len(validate(criteria(*five))) == 5
    with pytest.raises(InvalidFilter) as caught:
        validate(criteria(*five, {"body": {"n": [5]}}))
    assert caught.value.message.startswith("[esmlab] ")
    assert caught.value.code == "InvalidParameterValueException"


def test_raised_quota_allows_up_to_ten_filters():
    ten = [{"body": {"n": [i]}} for i in range(10)]
    assert len(validate(criteria(*ten), max_filters=10)) == 10
    with pytest.raises(InvalidFilter):
        validate(criteria(*ten, {"body": {"n": [10]}}), max_filters=10)
    with pytest.raises(ValueError):
        validate(criteria(*ten), max_filters=11)


def test_pattern_length_limit_is_4096_characters():
    base = '{"body": {"status": ["NEW"]}}'
    assert validate(criteria(base + " " * (4096 - len(base))))
    with pytest.raises(InvalidFilter) as caught:
        validate(criteria(base + " " * (4097 - len(base))))
    assert caught.value.code == "ValidationException"
    assert caught.value.message.startswith("[esmlab] ")


def test_non_string_pattern_is_rejected_with_an_esmlab_message():
    with pytest.raises(InvalidFilter, match=r"^\[esmlab\]"):
        validate({"Filters": [{"Pattern": {"body": {"n": [1]}}}]})


# --- SQS ------------------------------------------------------------------------------------

ORDER = {"orderId": 1001, "status": "NEW", "total": 150, "customer": "acme-corp"}


def test_sqs_exact_value():
    assert passes("sqs", sqs_record(ORDER), {"body": {"status": ["NEW"]}})
    assert not passes("sqs", sqs_record(ORDER), {"body": {"status": ["PAID"]}})


def test_sqs_or_list():
    p = {"body": {"status": ["PAID", "NEW"]}}
    assert passes("sqs", sqs_record(ORDER), p)
    assert not passes("sqs", sqs_record({**ORDER, "status": "SHIPPED"}), p)


def test_sqs_and_across_keys():
    p = {"body": {"status": ["NEW"], "customer": ["acme-corp"]}}
    assert passes("sqs", sqs_record(ORDER), p)
    assert not passes("sqs", sqs_record({**ORDER, "customer": "other"}), p)


def test_sqs_exists():
    assert passes("sqs", sqs_record(ORDER), {"body": {"orderId": [{"exists": True}]}})
    assert not passes("sqs", sqs_record(ORDER), {"body": {"coupon": [{"exists": True}]}})
    assert passes("sqs", sqs_record(ORDER), {"body": {"coupon": [{"exists": False}]}})


def test_sqs_numeric_greater_and_less():
    assert passes("sqs", sqs_record(ORDER), {"body": {"total": [{"numeric": [">", 100]}]}})
    assert not passes("sqs", sqs_record(ORDER), {"body": {"total": [{"numeric": ["<", 100]}]}})
    assert passes("sqs", sqs_record(ORDER), {"body": {"total": [{"numeric": ["<", 151]}]}})


@pytest.mark.parametrize("total, expected", [(99, False), (100, True), (199.5, True), (200, False)])
def test_sqs_numeric_range(total, expected):
    p = {"body": {"total": [{"numeric": [">=", 100, "<", 200]}]}}
    assert passes("sqs", sqs_record({**ORDER, "total": total}), p) is expected


def test_sqs_numeric_never_matches_a_string_number():
    assert not passes(
        "sqs", sqs_record({**ORDER, "total": "150"}), {"body": {"total": [{"numeric": [">", 1]}]}}
    )


def test_sqs_prefix():
    assert passes("sqs", sqs_record(ORDER), {"body": {"customer": [{"prefix": "acme"}]}})
    assert not passes("sqs", sqs_record(ORDER), {"body": {"customer": [{"prefix": "corp"}]}})


def test_sqs_plain_text_body_never_matches_a_body_field_pattern():
    plain = sqs_record("hello, not json")
    assert not passes("sqs", plain, {"body": {"status": ["NEW"]}})
    # Not even a pattern that only asks for a field to be absent (recorded: dropped).
    assert not passes("sqs", plain, {"body": {"status": [{"exists": False}]}})


def test_sqs_pattern_on_non_body_keys_works_for_any_body():
    p = {"attributes": {"SenderId": ["AIDAIENQZJOLO23YVJ4VO"]}}
    assert passes("sqs", sqs_record("hello, not json"), p)
    assert passes("sqs", sqs_record(ORDER), p)
    assert not passes("sqs", sqs_record(ORDER), {"attributes": {"SenderId": ["someone-else"]}})


def test_sqs_message_attributes():
    p = {"messageAttributes": {"Channel": {"stringValue": ["web"]}}}
    assert passes("sqs", sqs_record(ORDER, Channel="web"), p)
    assert not passes("sqs", sqs_record(ORDER, Channel="mobile"), p)
    assert not passes("sqs", sqs_record(ORDER), p)


def test_sqs_plain_string_pattern_on_plain_text_body():
    # MODELLING CHOICE M-1: a list under "body" is matched against a non-JSON body's raw string.
    p = {"body": [{"prefix": "ERROR"}]}
    assert passes("sqs", sqs_record("ERROR disk full"), p)
    assert not passes("sqs", sqs_record("INFO all good"), p)
    assert not passes("sqs", sqs_record({"level": "ERROR"}), p)


def test_sqs_json_array_body_is_not_decoded():
    # MODELLING CHOICE M-1: only a JSON object body is decoded.
    assert not passes("sqs", sqs_record("[1, 2]"), {"body": {"0": [1]}})


def test_sqs_other_operators_from_moto():
    rec = sqs_record({**ORDER, "email": "Ops@Example.com", "ip": "10.0.3.7", "file": "a/b.csv"})
    assert passes("sqs", rec, {"body": {"status": [{"anything-but": ["PAID", "SHIPPED"]}]}})
    assert not passes("sqs", rec, {"body": {"status": [{"anything-but": "NEW"}]}})
    assert not passes("sqs", rec, {"body": {"customer": [{"anything-but": {"prefix": "acme"}}]}})
    assert passes("sqs", rec, {"body": {"customer": [{"suffix": "-corp"}]}})
    assert passes("sqs", rec, {"body": {"email": [{"equals-ignore-case": "ops@example.COM"}]}})
    assert passes("sqs", rec, {"body": {"file": [{"wildcard": "a/*.csv"}]}})
    assert passes("sqs", rec, {"body": {"ip": [{"cidr": "10.0.0.0/16"}]}})
    assert not passes("sqs", rec, {"body": {"ip": [{"cidr": "192.168.0.0/16"}]}})


def test_sqs_nested_body_fields():
    rec = sqs_record({"order": {"type": "buy", "qty": 5}})
    assert passes(
        "sqs", rec, {"body": {"order": {"type": ["buy"], "qty": [{"numeric": ["=", 5]}]}}}
    )


def test_any_pattern_is_enough():
    rec = sqs_record(ORDER)
    assert passes("sqs", rec, {"body": {"status": ["PAID"]}}, {"body": {"total": [150]}})
    assert not passes("sqs", rec, {"body": {"status": ["PAID"]}}, {"body": {"total": [1]}})


def test_no_patterns_let_everything_through():
    assert matches([], sqs_record("plain"), "sqs")


def test_matching_does_not_change_the_record():
    rec = sqs_record(ORDER)
    before = copy.deepcopy(rec)
    passes("sqs", rec, {"body": {"status": ["NEW"]}})
    assert rec == before and isinstance(rec["body"], str)


def test_unknown_source_is_an_error():
    with pytest.raises(ValueError):
        matches([{"body": {"a": [1]}}], sqs_record(ORDER), "sns")


# --- Kinesis --------------------------------------------------------------------------------


def test_kinesis_data_pattern_matches_the_decoded_json():
    rec = kinesis_record({"sensor": "t-1", "temp": 21.5})
    before = copy.deepcopy(rec)
    assert passes("kinesis", rec, {"data": {"sensor": ["t-1"], "temp": [{"numeric": [">", 20]}]}})
    assert not passes("kinesis", rec, {"data": {"temp": [{"numeric": [">", 30]}]}})
    assert rec == before  # delivered data stays base64


def test_two_mappings_with_different_data_filters_each_get_their_own_record():
    records = [kinesis_record({"type": "buy"}), kinesis_record({"type": "sell"})]
    buys = validate(criteria({"data": {"type": ["buy"]}}))
    sells = validate(criteria({"data": {"type": ["sell"]}}))
    assert [matches(buys, r, "kinesis") for r in records] == [True, False]
    assert [matches(sells, r, "kinesis") for r in records] == [False, True]


def test_kinesis_non_json_data_never_matches_a_data_pattern():
    rec = kinesis_record(b"temp=21.5")
    assert not passes("kinesis", rec, {"data": {"temp": [{"exists": False}]}})
    assert not passes("kinesis", rec, {"data": [{"prefix": "temp"}]})


def test_kinesis_patterns_see_the_kinesis_object():
    # MODELLING CHOICE M-2: metadata keys are those of record["kinesis"].
    rec = kinesis_record({"sensor": "t-1"}, partition_key="sensor-t-1")
    assert passes("kinesis", rec, {"partitionKey": [{"prefix": "sensor-"}]})
    assert not passes("kinesis", rec, {"partitionKey": ["other"]})


# --- DynamoDB -------------------------------------------------------------------------------


def test_dynamodb_patterns_need_the_type_key():
    rec = ddb_record({"id": {"S": "id_value"}, "k": {"S": "v"}})
    assert passes("dynamodb", rec, {"dynamodb": {"NewImage": {"k": {"S": ["v"]}}}})
    assert not passes("dynamodb", rec, {"dynamodb": {"NewImage": {"k": ["v"]}}})


def test_dynamodb_exists_true_with_type_layer_selects_items_that_have_the_attribute():
    p = {"dynamodb": {"NewImage": {"k": {"S": [{"exists": True}]}}}}
    assert passes("dynamodb", ddb_record({"id": {"S": "1"}, "k": {"S": "v"}}), p)
    assert not passes("dynamodb", ddb_record({"id": {"S": "2"}}), p)


def test_dynamodb_exists_false_without_type_layer_matches_every_item():
    p = {"dynamodb": {"NewImage": {"k": [{"exists": False}]}}}
    assert passes("dynamodb", ddb_record({"id": {"S": "1"}, "k": {"S": "v"}}), p)
    assert passes("dynamodb", ddb_record({"id": {"S": "2"}}), p)


def test_dynamodb_numeric_never_matches_n_values():
    for n in ("0", "42", "101", "1000000"):
        rec = ddb_record({"id": {"S": "1"}, "qty": {"N": n}})
        assert not passes(
            "dynamodb", rec, {"dynamodb": {"NewImage": {"qty": {"N": [{"numeric": [">", -1]}]}}}}
        )


def test_dynamodb_anything_but_on_the_n_string():
    p = {
        "dynamodb": {"NewImage": {"qty": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}
    }
    assert passes("dynamodb", ddb_record({"id": {"S": "1"}, "qty": {"N": "42"}}), p)
    assert not passes("dynamodb", ddb_record({"id": {"S": "2"}, "qty": {"N": "101"}}), p)


def test_dynamodb_approximate_creation_date_time_is_numeric():
    p = {"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}
    for event_name in ("INSERT", "MODIFY", "REMOVE"):
        assert passes("dynamodb", ddb_record({"id": {"S": "1"}}, event_name), p)


def test_dynamodb_event_name_selects_change_types():
    p = {"eventName": ["INSERT", "MODIFY"]}
    assert passes("dynamodb", ddb_record({"id": {"S": "1"}}, "INSERT"), p)
    assert passes("dynamodb", ddb_record({"id": {"S": "1"}}, "MODIFY"), p)
    assert not passes("dynamodb", ddb_record({"id": {"S": "1"}}, "REMOVE"), p)
