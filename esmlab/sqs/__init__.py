"""Amazon SQS as an event source: the poller that reads a queue and the event it sends."""
