package dev.raftvertx.core;

import java.util.List;

/**
 * State the driver must make durable, in the order the core hands writes out. Apply the parts in
 * this order: truncate, append, then record the hard state; report durability with
 * {@link RaftCore#persisted(long)}. Writes may be pipelined (several in flight) and grouped (one
 * fsync for many), but must become durable in sequence order.
 *
 * @param sequence increasing number of this write
 * @param truncateFrom if above 0, delete every stored entry with index >= this first
 * @param entries entries to append after the truncation, contiguous
 * @param hardState the new term and vote to store, or null if unchanged
 */
public record StorageWrite(long sequence, long truncateFrom, List<LogEntry> entries,
    HardState hardState) {
  public StorageWrite {
    entries = List.copyOf(entries);
  }
}
