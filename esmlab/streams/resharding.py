"""Resharding: which shards a stream mapping reads, and when it moves on to a shard's children.

After ``SplitShard``, ``MergeShards`` or ``UpdateShardCount`` the parent shard is closed: it keeps
its records, takes no new ones, and its children take the new writes
(https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html).
To keep each key's order, a reader should finish a parent before it reads the parent's
children; DynamoDB Streams requires it of every reader
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).

MODELLING CHOICE (M9, docs/simulator.md): a Kinesis mapping does the same. It starts with the
shards that have no parent in the stream; a shard is *finished* once its reader has reached the
end of it after it closed and every record read from it is processed (or discarded); a child is
opened only when all its parents in the stream are finished. The mapping notices new shards
itself, without being re-created. A child that existed when the mapping started opens at the
mapping's starting position (so ``LATEST`` skips its old records); a child created later opens at
its first record. Lambda's own behaviour is not documented for Kinesis.
"""

from __future__ import annotations


class Resharding:
    """One mapping's view of a stream's shard lineage."""

    def __init__(self, poller):
        self.poller = poller
        self.parents: dict[str, tuple] = {}  #: shard -> its parents (ids)
        self.initial: set[str] = set()  #: shards that existed when the mapping started
        self.finished: set[str] = set()

    def begin(self) -> list[str]:
        """The shards to read first: those none of whose parents is in the stream."""
        self.parents = self.poller.source.lineage()
        self.initial = set(self.parents)
        return [s for s, parents in self.parents.items()
                if not any(p in self.parents for p in parents)]

    def refresh(self) -> None:
        """The stream was resharded: wake every reader (a closed shard must notice that it has
        ended) and open any shard whose parents are finished."""
        if self.poller.stopped:
            return
        self.parents = self.poller.source.lineage()
        for shard in list(self.poller.shards.values()):
            shard.schedule_poll()
        self._open_ready()

    def check(self, shard) -> None:
        """Called when ``shard`` may have become finished."""
        if shard.done or not shard.exhausted or shard.checkpoint() is not None:
            return
        shard.done = True
        self.finished.add(shard.id)
        children = tuple(s for s, parents in self.parents.items() if shard.id in parents)
        self.poller.trace("shard_finished", detail={"shard": shard.id, "children": children})
        self._open_ready()

    def _open_ready(self) -> None:
        if self.poller.stopped:
            return
        for shard_id, parents in self.parents.items():
            if shard_id in self.poller.shards:
                continue
            if all(p in self.finished for p in parents if p in self.parents):
                self.poller.open_shard(shard_id, from_start=shard_id not in self.initial)
