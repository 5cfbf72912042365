package dev.raftvertx.core;

import java.util.List;

/**
 * State the driver must make durable, in the order the core hands writes out. Apply the parts in
 * this order: reset, truncate, append, then record the hard state; report durability with
 * {@link RaftCore#persisted(long)}. Writes may be pipelined (several in flight) and grouped (one
 * fsync for many), but must become durable in sequence order.
 *
 * @param sequence increasing number of this write
 * @param truncateFrom if above 0, delete every stored entry with index >= this first
 * @param entries entries to append after the truncation, contiguous
 * @param hardState the new term and vote to store, or null if unchanged
 * @param resetTo if above 0, first discard the whole log so that the next entry has this index
 *     ({@link dev.raftvertx.spi.RaftStorage#reset}): a follower installed a durable snapshot
 *     that its log does not contain
 */
public record StorageWrite(long sequence, long truncateFrom, List<LogEntry> entries,
    HardState hardState, long resetTo) {
  public StorageWrite {
    entries = List.copyOf(entries);
  }

  /**
   * A write without a reset.
   *
   * @param sequence increasing number of this write
   * @param truncateFrom if above 0, delete every stored entry with index >= this first
   * @param entries entries to append after the truncation, contiguous
   * @param hardState the new term and vote to store, or null if unchanged
   */
  public StorageWrite(long sequence, long truncateFrom, List<LogEntry> entries,
      HardState hardState) {
    this(sequence, truncateFrom, entries, hardState, 0);
  }
}
