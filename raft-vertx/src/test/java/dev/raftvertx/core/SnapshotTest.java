package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.core.Message.AppendEntriesResponse;
import dev.raftvertx.core.Message.InstallSnapshot;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Log compaction and InstallSnapshot in the core (§7). */
class SnapshotTest {

  private static final Configuration THREE = Configuration.of(Set.of("n1", "n2", "n3"));

  /** Every AppendEntries a leader sends names a term it holds: never one compacted away. */
  private static void checkAnchors(TestCluster c) {
    c.mutate(m -> {
      if (m instanceof AppendEntriesRequest a && a.prevLogTerm() < 0) {
        throw new AssertionError("AppendEntries anchored in the compacted log: " + a);
      }
      return m;
    });
  }

  /** Proposes n commands on the leader and lets them commit everywhere reachable. */
  private static void write(TestCluster c, String leader, int n) {
    for (int i = 0; i < n; i++) {
      assertTrue(c.propose(leader, "cmd" + i).appended());
      c.stabilize();
    }
  }

  private static void snapshotAndCompact(TestCluster c, String id) {
    RaftCore n = c.node(id);
    long applied = c.applied.get(id).get(c.applied.get(id).size() - 1).index();
    n.snapshotTaken(applied);
    n.compact(applied);
    assertEquals(applied + 1, n.firstIndex());
  }

  /**
   * A follower cut off while the leader compacted its log receives the snapshot, restores it,
   * and then continues from the log after it.
   *
   * <p>Reference: §7
   */
  @Test
  void followerFarBehindTheLeadersLogStartCatchesUpFromTheSnapshot() {
    TestCluster c = TestCluster.of(MembershipTest.guarded(), "n1", "n2", "n3");
    checkAnchors(c);
    c.elect("n1");
    c.isolate("n3");
    write(c, "n1", 40);
    snapshotAndCompact(c, "n1");
    long snapshot = c.node("n1").snapshotIndex();
    List<InstallSnapshot> sent = new ArrayList<>();
    c.mutate(m -> {
      if (m instanceof InstallSnapshot is) {
        sent.add(is);
      }
      return m;
    });
    c.heal();
    checkAnchors(c);
    c.mutate(m -> {
      if (m instanceof InstallSnapshot is) {
        sent.add(is);
      }
      return m;
    });
    c.tick("n1", 2);
    c.stabilize();
    write(c, "n1", 3);
    c.tick("n1", 2);
    c.stabilize();

    assertEquals(1, sent.size(), "one snapshot is sent");
    assertEquals(snapshot, sent.get(0).index());
    assertEquals(THREE, sent.get(0).configuration());
    RaftCore n3 = c.node("n3");
    assertEquals(List.of(new Ready.SnapshotRestore(snapshot, c.node("n1").currentTerm())),
        c.restored.get("n3"));
    assertEquals(snapshot + 1, n3.firstIndex(), "the follower's own older log is gone");
    assertEquals(c.node("n1").lastIndex(), n3.lastIndex());
    assertEquals(c.node("n1").commitIndex(), n3.commitIndex());
    assertEquals(c.node("n1").entriesFrom(snapshot + 1), n3.entriesFrom(snapshot + 1));
    assertEquals(n3.firstIndex(), c.durableLog.get("n3").get(0).index(),
        "the durable log was reset to start after the snapshot");
    assertTrue(c.applied.get("n3").stream().allMatch(e -> e.index() > snapshot
        || e.index() <= 2), "entries covered by the snapshot are not applied one by one");
  }

  private static RaftCore follower(long commitTerm, int entries, long commit) {
    List<LogEntry> log = new ArrayList<>();
    log.add(RaftCore.bootstrapEntry(THREE));
    for (int i = 2; i <= entries; i++) {
      log.add(new LogEntry(i, commitTerm, EntryType.COMMAND, 0, 0, 0, new byte[] {1}));
    }
    RaftCore f = new RaftCore(CoreConfig.defaults("n3"), new SplittableRandom(1),
        new HardState(commitTerm, null), log);
    // learn the commit index from a heartbeat of the leader of commitTerm
    f.step(new AppendEntriesRequest(commitTerm, "n1", "n3", commit, commitTerm, List.of(), commit,
        0));
    f.ready();
    assertEquals(commit, f.commitIndex());
    return f;
  }

  private static AppendEntriesResponse onlyAnswer(Ready r) {
    assertEquals(1, r.messages().size(), r.messages().toString());
    return (AppendEntriesResponse) r.messages().get(0);
  }

  /** A follower whose log holds the snapshot's last entry keeps the entries after it (§7). */
  @Test
  void followerKeepsTheEntriesAfterASnapshotItsLogMatches() {
    RaftCore f = follower(1, 30, 10);
    f.step(new InstallSnapshot(1, "n1", "n3", 20, 1, THREE));
    Ready r = f.ready();
    assertEquals(new Ready.SnapshotRestore(20, 1), r.snapshot());
    assertTrue(r.committed().isEmpty(), "entries up to the snapshot come from the snapshot");
    assertEquals(21, f.firstIndex());
    assertEquals(30, f.lastIndex());
    assertEquals(20, f.commitIndex());
    assertTrue(r.writes().isEmpty(), "nothing to write: the log is kept");
    AppendEntriesResponse a = onlyAnswer(r);
    assertTrue(a.success());
    assertEquals(20, a.matchIndex());
  }

  /** A follower whose log differs at the snapshot's last entry discards its log (§7). */
  @Test
  void followerDiscardsALogThatConflictsWithTheSnapshot() {
    RaftCore f = follower(1, 30, 10);
    f.step(new InstallSnapshot(2, "n1", "n3", 25, 2, THREE));
    Ready r = f.ready();
    assertEquals(new Ready.SnapshotRestore(25, 2), r.snapshot());
    assertEquals(26, f.firstIndex());
    assertEquals(25, f.lastIndex());
    assertEquals(2, f.termAt(25));
    assertEquals(1, r.writes().size());
    assertEquals(26, r.writes().get(0).resetTo(), "the storage resets its log after the snapshot");
    assertEquals(new HardState(2, null), r.writes().get(0).hardState());
    assertTrue(r.messages().isEmpty(), "the answer waits until the reset is durable");
    f.persisted(r.writes().get(0).sequence());
    AppendEntriesResponse a = onlyAnswer(f.ready());
    assertTrue(a.success());
    assertEquals(25, a.matchIndex());
    // the follower continues from the snapshot
    LogEntry next = new LogEntry(26, 2, EntryType.NOOP, 0, 0, 0, null);
    f.step(new AppendEntriesRequest(2, "n1", "n3", 25, 2, List.of(next), 26, 0));
    Ready r2 = f.ready();
    assertEquals(List.of(next), r2.committed());
  }

  /** A snapshot the follower's commit index already covers changes nothing (§7). */
  @Test
  void snapshotAtOrBelowTheCommitIndexIsIgnored() {
    RaftCore f = follower(1, 30, 20);
    f.step(new InstallSnapshot(1, "n1", "n3", 15, 1, THREE));
    Ready r = f.ready();
    assertNull(r.snapshot());
    assertEquals(1, f.firstIndex());
    AppendEntriesResponse a = onlyAnswer(r);
    assertTrue(a.success());
    assertEquals(20, a.matchIndex(), "the answer tells the leader how far the follower is");
  }

  /**
   * A snapshot that became durable here while our term moved on (a deposed leader sent it) is
   * installed all the same, since it holds only committed entries; the answer carries the newer
   * term, which deposes the sender (§5.1). Refusing it would leave a durable snapshot that the
   * core never installs.
   */
  @Test
  void durableSnapshotFromAnOlderTermIsInstalledAndTheSenderLearnsTheNewTerm() {
    RaftCore f = follower(3, 30, 10);
    f.step(new InstallSnapshot(2, "n2", "n3", 25, 2, THREE));
    Ready r = f.ready();
    assertEquals(new Ready.SnapshotRestore(25, 2), r.snapshot());
    assertEquals(25, f.commitIndex());
    assertEquals("n1", f.leaderId(), "the sender is not taken for the leader of our term");
    f.persisted(r.writes().get(r.writes().size() - 1).sequence());
    AppendEntriesResponse a = onlyAnswer(f.ready());
    assertEquals(3, a.term());
    assertEquals(3, f.currentTerm());
  }

  /**
   * A failed transfer is retried at the next heartbeat, not at once; a successful one continues
   * with AppendEntries after the snapshot.
   */
  @Test
  void failedTransferIsRetriedAtTheNextHeartbeat() {
    TestCluster c = TestCluster.of(MembershipTest.guarded(), "n1", "n2", "n3");
    checkAnchors(c);
    c.elect("n1");
    c.isolate("n3");
    write(c, "n1", 10);
    snapshotAndCompact(c, "n1");
    c.heal();
    c.drop(m -> m instanceof InstallSnapshot);
    checkAnchors(c);
    c.tick("n1", 2); // heartbeat: n3 answers, the leader finds it behind its log start
    c.stabilize();
    RaftCore n1 = c.node("n1");
    assertTrue(c.pending().isEmpty());
    n1.reportSnapshot("n3", false);
    assertFalse(c.collect("n1").stream().anyMatch(m -> m instanceof InstallSnapshot),
        "no retry before the next heartbeat");
    c.clearQueue();
    n1.tick();
    n1.tick(); // the heartbeat interval: the probe (here, the snapshot) is retried
    List<Message> out = c.collect("n1");
    assertTrue(out.stream().anyMatch(m -> m instanceof InstallSnapshot), out.toString());
  }
}
