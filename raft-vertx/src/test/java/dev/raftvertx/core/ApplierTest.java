package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Exactly-once sessions (thesis §6.3) and proposal tracking by (index, term). */
class ApplierTest {

  private final List<String> applied = new ArrayList<>();
  private final Applier applier = new Applier((index, command) -> {
    String c = new String(command, StandardCharsets.UTF_8);
    applied.add(c);
    return ("r" + index).getBytes(StandardCharsets.UTF_8);
  }, 1_000, 3, 2);

  private final List<String> outcomes = new ArrayList<>();

  private Applier.Completion record() {
    return new Applier.Completion() {
      @Override
      public void succeeded(long index, byte[] result) {
        outcomes.add("ok " + index + " " + new String(result, StandardCharsets.UTF_8));
      }

      @Override
      public void failed(RaftError error) {
        outcomes.add(error.name());
      }
    };
  }

  private long index;

  private LogEntry open(long time) {
    return new LogEntry(++index, 1, EntryType.SESSION_OPEN, 0, 0, time, null);
  }

  private LogEntry cmd(long session, long seq, String data, long time) {
    return new LogEntry(++index, 1, EntryType.COMMAND, session, seq, time,
        data.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void retriedCommandIsAppliedOnceAndAnsweredWithTheFirstResult() {
    LogEntry o = open(0);
    applier.apply(List.of(o));
    LogEntry first = cmd(o.index(), 1, "x", 1);
    LogEntry retry = cmd(o.index(), 1, "x", 2);
    applier.track(retry.index(), 1, record());
    applier.apply(List.of(first, retry));
    assertEquals(List.of("x"), applied);
    assertEquals(List.of("ok 2 r2"), outcomes, "the retry gets the first attempt's index and result");
  }

  @Test
  void commandsOfAnUnknownOrExpiredSessionAreRefused() {
    LogEntry o = open(0);
    applier.apply(List.of(o));
    applier.apply(List.of(cmd(o.index(), 1, "a", 10)));
    // another command much later, from another session, advances the replicated clock
    LogEntry o2 = open(5_000);
    applier.apply(List.of(o2));
    LogEntry late = cmd(o.index(), 2, "b", 5_001);
    applier.track(late.index(), 1, record());
    applier.apply(List.of(late));
    assertEquals(List.of("SESSION_EXPIRED"), outcomes);
    assertEquals(List.of("a"), applied);
    LogEntry unknown = cmd(999, 1, "c", 5_002);
    applier.track(unknown.index(), 1, record());
    applier.apply(List.of(unknown));
    assertEquals(List.of("SESSION_EXPIRED", "SESSION_EXPIRED"), outcomes);
  }

  @Test
  void leastRecentlyActiveSessionIsEvictedBeyondTheLimit() {
    List<LogEntry> opens = List.of(open(0), open(0), open(0), open(0));
    applier.apply(opens);
    assertEquals(3, applier.sessionCount());
    LogEntry c = cmd(opens.get(0).index(), 1, "x", 1);
    applier.track(c.index(), 1, record());
    applier.apply(List.of(c));
    assertEquals(List.of("SESSION_EXPIRED"), outcomes);
  }

  @Test
  void sequenceOlderThanTheResponseWindowIsRefusedNotReapplied() {
    LogEntry o = open(0);
    applier.apply(List.of(o));
    applier.apply(List.of(cmd(o.index(), 1, "a", 1), cmd(o.index(), 2, "b", 1),
        cmd(o.index(), 3, "c", 1)));
    LogEntry again = cmd(o.index(), 1, "a", 1);
    applier.track(again.index(), 1, record());
    applier.apply(List.of(again));
    assertEquals(List.of("STALE_SEQUENCE"), outcomes);
    assertEquals(List.of("a", "b", "c"), applied);
  }

  @Test
  void outOfOrderSequencesWithinTheWindowAreEachAppliedOnce() {
    LogEntry o = open(0);
    applier.apply(List.of(o));
    applier.apply(List.of(cmd(o.index(), 2, "b", 1), cmd(o.index(), 1, "a", 1),
        cmd(o.index(), 2, "b", 1)));
    assertEquals(List.of("b", "a"), applied);
  }

  @Test
  void proposalOverwrittenByAnotherTermIsDroppedAndLostLeadershipIsIndeterminate() {
    applier.track(1, 2, record());
    applier.track(2, 2, record());
    applier.apply(List.of(new LogEntry(1, 3, EntryType.NOOP, 0, 0, 0, null)));
    assertEquals(List.of("DROPPED"), outcomes);
    assertTrue(RaftError.DROPPED.knownNotApplied());
    applier.failAll(RaftError.INDETERMINATE);
    assertEquals(List.of("DROPPED", "INDETERMINATE"), outcomes);
    assertTrue(!RaftError.INDETERMINATE.knownNotApplied());
  }

  @Test
  void readsRunOnceTheirIndexIsApplied() {
    List<String> reads = new ArrayList<>();
    applier.whenApplied(2, () -> reads.add("r2"));
    applier.whenApplied(1, () -> reads.add("r1"));
    assertEquals(List.of(), reads);
    applier.apply(List.of(new LogEntry(1, 1, EntryType.NOOP, 0, 0, 0, null)));
    assertEquals(List.of("r1"), reads);
    applier.apply(List.of(new LogEntry(2, 1, EntryType.NOOP, 0, 0, 0, null)));
    assertEquals(List.of("r1", "r2"), reads);
    applier.whenApplied(2, () -> reads.add("now"));
    assertEquals(List.of("r1", "r2", "now"), reads);
  }

  @Test
  void sessionOpenReturnsTheSessionId() {
    Applier.Completion c = record();
    LogEntry o = open(0);
    applier.track(o.index(), 1, c);
    applier.apply(List.of(o));
    assertEquals(1, outcomes.size());
    byte[] id = java.nio.ByteBuffer.allocate(8).putLong(o.index()).array();
    assertArrayEquals(id, java.nio.ByteBuffer.allocate(8).putLong(Applier.sessionId(id)).array());
  }
}
