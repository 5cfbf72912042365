package dev.raftvertx.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The in-memory view of the log held by the core: every entry after the base (the snapshot's last
 * included entry, or index 0 with term 0). Entries are contiguous. Terms never decrease along the
 * log, which {@link #lastIndexOfTerm} relies on. Not thread-safe.
 */
final class RaftLog {

  /** Index of the entry just before the first held one (0, or a snapshot's last index). */
  private long baseIndex;
  /** Term of the entry at {@link #baseIndex} (0 for index 0). */
  private long baseTerm;
  private final ArrayList<LogEntry> entries = new ArrayList<>();
  private long bytes;

  RaftLog(long baseIndex, long baseTerm, List<LogEntry> initial) {
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    for (LogEntry e : initial) {
      append(e);
    }
  }

  long baseIndex() {
    return baseIndex;
  }

  long baseTerm() {
    return baseTerm;
  }

  long firstIndex() {
    return baseIndex + 1;
  }

  long lastIndex() {
    return baseIndex + entries.size();
  }

  long lastTerm() {
    return entries.isEmpty() ? baseTerm : entries.get(entries.size() - 1).term();
  }

  int size() {
    return entries.size();
  }

  long bytes() {
    return bytes;
  }

  /**
   * @param index a log index
   * @return the term of the entry at index, or -1 if the index is beyond the log or compacted
   */
  long term(long index) {
    if (index == baseIndex) {
      return baseTerm;
    }
    if (index < baseIndex || index > lastIndex()) {
      return -1;
    }
    return entries.get((int) (index - baseIndex - 1)).term();
  }

  /** @return true if the log holds an entry at index with term (the base counts) */
  boolean matchTerm(long index, long term) {
    return term(index) == term;
  }

  LogEntry entry(long index) {
    if (index <= baseIndex || index > lastIndex()) {
      throw new IndexOutOfBoundsException("no entry " + index + " in log (" + baseIndex + ", "
          + lastIndex() + "]");
    }
    return entries.get((int) (index - baseIndex - 1));
  }

  /**
   * @param from first index wanted, above the base
   * @param maxBytes byte budget; at least one entry is returned if any exists
   * @param maxCount most entries to return
   * @return entries from {@code from} on
   */
  List<LogEntry> slice(long from, long maxBytes, int maxCount) {
    long last = lastIndex();
    if (from > last) {
      return List.of();
    }
    List<LogEntry> out = new ArrayList<>();
    long size = 0;
    for (long i = from; i <= last && out.size() < maxCount; i++) {
      LogEntry e = entry(i);
      size += e.sizeInBytes();
      if (!out.isEmpty() && size > maxBytes) {
        break;
      }
      out.add(e);
    }
    return out;
  }

  /** @param entry the next entry; its index must be lastIndex() + 1 */
  void append(LogEntry entry) {
    if (entry.index() != lastIndex() + 1) {
      throw new IllegalStateException("non-contiguous append of " + entry.index() + " after "
          + lastIndex());
    }
    if (entry.term() < lastTerm()) {
      throw new IllegalStateException("term went backwards at " + entry.index() + ": "
          + entry.term() + " < " + lastTerm());
    }
    entries.add(entry);
    bytes += entry.sizeInBytes();
  }

  /** Deletes every entry with index >= from (from must be above the base). */
  void truncateFrom(long from) {
    if (from <= baseIndex) {
      throw new IllegalStateException("cannot truncate at " + from + " at or below base " + baseIndex);
    }
    while (lastIndex() >= from) {
      LogEntry removed = entries.remove(entries.size() - 1);
      bytes -= removed.sizeInBytes();
    }
  }

  /**
   * @param incoming entries from a leader, contiguous
   * @return the index of the first incoming entry that is missing or whose term differs from
   *     ours, or 0 if the log already holds every one of them
   */
  long findConflict(List<LogEntry> incoming) {
    for (LogEntry e : incoming) {
      if (e.index() <= baseIndex) {
        continue; // covered by our base (snapshot): committed, hence matching
      }
      if (!matchTerm(e.index(), e.term())) {
        return e.index();
      }
    }
    return 0;
  }

  /**
   * @param index an index held by the log (or the base)
   * @return the first index, not below the base's successor, whose entry has the same term as the
   *     entry at index
   */
  long firstIndexOfTermAt(long index) {
    long term = term(index);
    long i = index;
    while (i - 1 > baseIndex && term(i - 1) == term) {
      i--;
    }
    return i;
  }

  /**
   * @param term a term
   * @param atMost highest index to consider
   * @return the largest index <= atMost whose entry has exactly this term, or -1 if none
   */
  long lastIndexOfTerm(long term, long atMost) {
    long hi = Math.min(atMost, lastIndex());
    long lo = baseIndex;
    if (hi < lo) {
      return -1;
    }
    // terms are non-decreasing: find the largest index in [lo, hi] with term(index) <= term
    while (lo < hi) {
      long mid = lo + (hi - lo + 1) / 2;
      if (term(mid) <= term) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return term(lo) == term ? lo : -1;
  }

  /** @return a copy of the entries from {@code from} to the end */
  List<LogEntry> entriesFrom(long from) {
    return slice(Math.max(from, firstIndex()), Long.MAX_VALUE, Integer.MAX_VALUE);
  }

  /**
   * Drops the entries up to index, which becomes the base (a snapshot covers them).
   *
   * @param index an index held by the log, at or above the base
   */
  void compactTo(long index) {
    if (index <= baseIndex) {
      return;
    }
    if (index > lastIndex()) {
      throw new IllegalStateException("cannot compact to " + index + " beyond the last index "
          + lastIndex());
    }
    long term = term(index);
    int drop = (int) (index - baseIndex);
    List<LogEntry> dropped = entries.subList(0, drop);
    for (LogEntry e : dropped) {
      bytes -= e.sizeInBytes();
    }
    dropped.clear();
    baseIndex = index;
    baseTerm = term;
  }

  /**
   * Discards every entry: the log restarts after (index, term), a snapshot's last entry.
   *
   * @param index the new base index
   * @param term the new base term
   */
  void resetTo(long index, long term) {
    entries.clear();
    bytes = 0;
    baseIndex = index;
    baseTerm = term;
  }
}
