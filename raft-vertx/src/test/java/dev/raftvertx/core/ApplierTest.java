package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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

  // =====================================================================================
  // Session table in snapshots
  // =====================================================================================

  private final List<String> appliedAfterRestore = new ArrayList<>();

  private Applier freshApplier() {
    return new Applier((index, command) -> {
      appliedAfterRestore.add(new String(command, StandardCharsets.UTF_8));
      return ("r" + index).getBytes(StandardCharsets.UTF_8);
    }, 1_000, 3, 2);
  }

  @Test
  void retryOfACommandWhoseFirstAttemptIsInsideASnapshotIsAnsweredFromTheRestoredCache() {
    LogEntry o = open(0);
    LogEntry first = cmd(o.index(), 1, "x", 1);
    applier.apply(List.of(o, first));
    long snapshotIndex = applier.appliedIndex();
    byte[] sessions = applier.snapshotSessions();

    // A node that restores the snapshot (the log up to snapshotIndex is gone) sees the retry.
    Applier restored = freshApplier();
    restored.restore(snapshotIndex, sessions);
    assertEquals(snapshotIndex, restored.appliedIndex());
    assertEquals(1, restored.sessionCount());
    LogEntry retry = cmd(o.index(), 1, "x", 2);
    restored.track(retry.index(), 1, record());
    restored.apply(List.of(retry));

    assertEquals(List.of(), appliedAfterRestore, "the retry is not applied again");
    assertEquals(List.of("ok " + first.index() + " r" + first.index()), outcomes,
        "answered with the first attempt's index and result");
    // The next sequence number is applied normally.
    LogEntry next = cmd(o.index(), 2, "y", 3);
    restored.apply(List.of(next));
    assertEquals(List.of("y"), appliedAfterRestore);
  }

  @Test
  void restoredSessionsExpireEvictAndRefuseStaleSequencesExactlyAsTheOriginal() {
    List<LogEntry> before = new ArrayList<>();
    LogEntry a = open(0);
    LogEntry b = open(100);
    before.add(a);
    before.add(b);
    before.add(cmd(a.index(), 1, "a1", 200));
    before.add(cmd(a.index(), 2, "a2", 210));
    before.add(cmd(a.index(), 3, "a3", 220)); // sequence 1 leaves the window of 2
    before.add(cmd(b.index(), 1, "b1", 300));
    applier.apply(before);
    Applier restored = freshApplier();
    restored.restore(applier.appliedIndex(), applier.snapshotSessions());

    LogEntry stale = cmd(a.index(), 1, "stale", 400);
    LogEntry dup = cmd(a.index(), 3, "dup", 410);
    LogEntry c = open(500);
    LogEntry d = open(510); // the cap of 3 sessions evicts the least recently active, b
    List<LogEntry> after = List.of(stale, dup, c, d,
        cmd(b.index(), 2, "b2", 520),
        cmd(a.index(), 4, "a4", 1_500), // a was idle longer than the timeout
        cmd(c.index(), 1, "c1", 1_500));
    List<String> originalOutcomes = outcomesOf(applier, after);
    List<String> restoredOutcomes = outcomesOf(restored, after);
    assertEquals(List.of("STALE_SEQUENCE", "ok 5 r5", "SESSION_EXPIRED", "SESSION_EXPIRED",
        "ok 13 r13"), originalOutcomes);
    assertEquals(originalOutcomes, restoredOutcomes);
    assertEquals(List.of("c1"), appliedAfterRestore);
    assertArrayEquals(applier.snapshotSessions(), restored.snapshotSessions());
  }

  private List<String> outcomesOf(Applier a, List<LogEntry> entries) {
    outcomes.clear();
    for (LogEntry e : entries) {
      if (e.type() == EntryType.COMMAND) {
        a.track(e.index(), e.term(), record());
      }
    }
    a.apply(entries);
    return new ArrayList<>(outcomes);
  }

  @Test
  void sessionEncodingIsDeterministicAndRoundTrips() {
    List<LogEntry> log = new ArrayList<>();
    LogEntry o1 = open(10);
    LogEntry o2 = open(20);
    log.add(o1);
    log.add(o2);
    log.add(cmd(o2.index(), 1, "p", 30));
    log.add(cmd(o1.index(), 1, "q", 40));
    log.add(cmd(o1.index(), 2, "r", 50));
    applier.apply(log);
    Applier twin = freshApplier();
    twin.apply(log);
    byte[] encoded = applier.snapshotSessions();
    assertArrayEquals(encoded, twin.snapshotSessions(), "same entries, same bytes");

    Applier restored = freshApplier();
    restored.restore(applier.appliedIndex(), encoded);
    assertArrayEquals(encoded, restored.snapshotSessions());
    assertEquals(2, restored.sessionCount());
  }

  @Test
  void restoreFailsPendingProposalsItCoversAndRunsWaitingReads() {
    List<String> reads = new ArrayList<>();
    applier.track(3, 1, record());
    applier.track(9, 1, record());
    applier.whenApplied(4, () -> reads.add("r4"));
    applier.whenApplied(8, () -> reads.add("r8"));
    applier.restore(5, freshApplier().snapshotSessions());
    assertEquals(List.of("INDETERMINATE"), outcomes);
    assertEquals(1, applier.pendingCount());
    assertEquals(List.of("r4"), reads);
    assertEquals(5, applier.appliedIndex());
    applier.apply(List.of(new LogEntry(6, 1, EntryType.NOOP, 0, 0, 0, null)));
  }

  @Test
  void restoreRefusesGoingBackAndMalformedTablesWithoutChangingTheApplier() {
    LogEntry o = open(0);
    applier.apply(List.of(o, cmd(o.index(), 1, "x", 1)));
    byte[] good = applier.snapshotSessions();
    assertThrows(IllegalArgumentException.class, () -> applier.restore(1, good));
    assertThrows(IllegalArgumentException.class,
        () -> applier.restore(5, Arrays.copyOf(good, good.length - 1)));
    byte[] trailing = Arrays.copyOf(good, good.length + 1);
    assertThrows(IllegalArgumentException.class, () -> applier.restore(5, trailing));
    byte[] hugeCount = good.clone();
    hugeCount[9] = 0x7f; // the session count
    assertThrows(IllegalArgumentException.class, () -> applier.restore(5, hugeCount));
    byte[] badFormat = good.clone();
    badFormat[0] = 9;
    assertThrows(IllegalArgumentException.class, () -> applier.restore(5, badFormat));
    assertEquals(2, applier.appliedIndex());
    assertArrayEquals(good, applier.snapshotSessions());
  }
}
