"""Kinesis Data Streams and DynamoDB Streams as event sources: shard readers, events,
retries and bisect, tumbling windows and on-failure destinations."""
