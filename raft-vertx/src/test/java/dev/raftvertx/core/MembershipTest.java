package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.MembershipChange.Kind;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Membership changes by joint consensus (§6) and leadership transfer (thesis §3.10). */
class MembershipTest {

  static CoreConfig guarded() {
    return CoreConfig.defaults("x").withTicks(10, 2);
  }

  static MembershipChange add(String id) {
    return new MembershipChange(Kind.ADD_LEARNER, id, "host-" + id + ":1");
  }

  static MembershipChange promote(String id) {
    return new MembershipChange(Kind.PROMOTE, id, null);
  }

  static MembershipChange remove(String id) {
    return new MembershipChange(Kind.REMOVE, id, null);
  }

  /** Applies a change on the leader and lets the cluster settle (heartbeats included). */
  static void change(TestCluster c, String leader, MembershipChange m) {
    ProposeResult r = c.node(leader).changeMembership(m);
    assertTrue(r.appended(), m + " refused: " + r.status());
    settle(c, leader);
  }

  /** Ticks the given nodes together until one of them leads; returns it. */
  static String electAmong(TestCluster c, String... ids) {
    for (int t = 0; t < 1000; t++) {
      for (String id : ids) {
        c.tick(id, 1);
        if (c.node(id).role() == Role.LEADER) {
          c.stabilize();
          return id;
        }
      }
      c.stabilize();
      for (String id : ids) {
        if (c.node(id).role() == Role.LEADER) {
          return id;
        }
      }
    }
    throw new AssertionError("no leader among " + List.of(ids));
  }

  static void settle(TestCluster c, String leader) {
    for (int i = 0; i < 4; i++) {
      c.stabilize();
      c.tick(leader, 2);
    }
    c.stabilize();
  }

  /**
   * Growing 3 to 5 and shrinking 5 to 3 while proposals flow: learners catch up first, each
   * promotion and removal passes through C_old,new, and the leader leaves the joint configuration
   * by itself once it commits.
   *
   * <p>Reference: §6
   */
  @Test
  void growThreeToFiveAndShrinkBackWhileProposalsFlow() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.elect("n1");
    for (String n : List.of("n4", "n5")) {
      c.add(n, HardState.INITIAL, List.of()); // starts empty, waits to be added
      c.propose("n1", "before-" + n);
      change(c, "n1", add(n));
      assertEquals(Set.of(n), c.node("n1").configuration().learners());
      assertArrayEquals(c.logTerms("n1"), c.logTerms(n), "the learner caught up");
      assertEquals(Role.FOLLOWER, c.node(n).role());
      c.propose("n1", "during-" + n);
      ProposeResult r = c.node("n1").changeMembership(promote(n));
      assertTrue(r.appended());
      assertTrue(c.node("n1").configuration().isJoint(), "C_old,new first");
      settle(c, "n1");
      assertFalse(c.node("n1").configuration().isJoint(), "then C_new");
      assertTrue(c.node("n1").configuration().voters().contains(n));
    }
    assertEquals(Set.of("n1", "n2", "n3", "n4", "n5"), c.node("n3").configuration().voters());
    for (String n : List.of("n5", "n4")) {
      c.propose("n1", "shrink-" + n);
      change(c, "n1", remove(n));
      assertFalse(c.node("n1").configuration().isMember(n));
    }
    assertEquals(Set.of("n1", "n2", "n3"), c.node("n2").configuration().voters());
    assertTrue(c.propose("n1", "after").appended());
    settle(c, "n1");
    assertArrayEquals(c.logTerms("n1"), c.logTerms("n2"));
    assertEquals(c.node("n1").lastIndex(), c.node("n1").commitIndex());
  }

  /**
   * One change at a time: refused while a configuration entry is uncommitted and until the leader
   * has committed an entry of its term.
   *
   * <p>Reference: §6; thesis §4.1
   */
  @Test
  void onlyOneChangeAtATime() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.drop(m -> m instanceof Message.AppendEntriesRequest);
    c.elect("n1");
    assertEquals(ProposeResult.Status.CHANGE_IN_PROGRESS,
        c.node("n1").changeMembership(add("n4")).status(), "no entry of its term committed yet");
    c.heal();
    settle(c, "n1");
    c.isolate("n2");
    c.isolate("n3");
    assertTrue(c.node("n1").changeMembership(add("n4")).appended());
    assertEquals(ProposeResult.Status.CHANGE_IN_PROGRESS,
        c.node("n1").changeMembership(add("n5")).status(), "the first is not committed");
  }

  /**
   * Changes that do not fit the configuration are refused.
   *
   * <p>Reference: §6
   */
  @Test
  void changesThatDoNotFitAreRefused() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.elect("n1");
    settle(c, "n1");
    assertEquals(ProposeResult.Status.INVALID_CHANGE, c.node("n1").changeMembership(add("n2")).status());
    assertEquals(ProposeResult.Status.INVALID_CHANGE,
        c.node("n1").changeMembership(promote("n9")).status());
    assertEquals(ProposeResult.Status.INVALID_CHANGE,
        c.node("n1").changeMembership(remove("n9")).status());
    assertEquals(ProposeResult.Status.NOT_LEADER, c.node("n2").changeMembership(add("n4")).status());
  }

  /**
   * "A leader that is not part of the new configuration steps down once C_new is committed", and
   * commits C_new without counting itself; the others elect a leader among themselves.
   *
   * <p>Reference: §6
   */
  @Test
  void removedLeaderStepsDownOnceNewConfigurationCommits() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.elect("n1");
    settle(c, "n1");
    change(c, "n1", remove("n1"));
    assertEquals(Role.FOLLOWER, c.node("n1").role());
    assertEquals(Set.of("n2", "n3"), c.node("n2").configuration().voters());
    assertFalse(c.node("n2").configuration().isJoint());
    String next = electAmong(c, "n2", "n3", "n1");
    assertNotEquals("n1", next);
    for (int i = 0; i < 5; i++) {
      c.tick("n1", 30);
      c.stabilize();
    }
    assertNotEquals(Role.LEADER, c.node("n1").role(), "a removed node never campaigns");
  }

  /**
   * A removed node that never learns it was removed keeps calling elections; the others ignore it
   * while they hear from their leader, so the leader is not disturbed.
   *
   * <p>Reference: §6 (disruptive servers)
   */
  @Test
  void removedNodeDoesNotDisruptTheCluster() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3", "n4");
    c.elect("n1");
    settle(c, "n1");
    c.isolate("n4");
    change(c, "n1", remove("n4"));
    assertEquals(Set.of("n1", "n2", "n3"), c.node("n1").configuration().voters());
    long term = c.node("n1").currentTerm();
    c.heal();
    for (int i = 0; i < 20; i++) {
      c.tick("n4", 25); // a long stretch without hearing from anyone: it campaigns
      c.tick("n1", 2);
      c.stabilize();
    }
    assertEquals(Role.LEADER, c.node("n1").role());
    assertEquals(term, c.node("n1").currentTerm(), "the leader was not disturbed");
  }

  /**
   * A configuration entry that is truncated away rolls the node back to the previous one.
   *
   * <p>Reference: §6 ("a server always uses the latest configuration in its log")
   */
  @Test
  void truncatedConfigurationEntryRollsBack() {
    TestCluster c = TestCluster.of(RaftPaperTest.plain(), "n1", "n2", "n3", "n4", "n5");
    c.elect("n1");
    settle(c, "n1");
    // the entry reaches n2 only, and n1 never learns it did: it stays uncommitted
    c.drop(m -> !(m instanceof Message.AppendEntriesRequest && m.to().equals("n2")));
    assertTrue(c.node("n1").changeMembership(add("n6")).appended());
    c.stabilize();
    assertTrue(c.node("n2").configuration().learners().contains("n6"), "n2 acts on it uncommitted");
    c.heal();
    c.isolate("n1");
    c.isolate("n2");
    c.timeout("n3");
    c.stabilize();
    assertEquals(Role.LEADER, c.node("n3").role());
    c.heal();
    c.isolate("n1");
    c.tick("n3", 2);
    c.stabilize();
    c.tick("n3", 2);
    c.stabilize();
    assertFalse(c.node("n2").configuration().isMember("n6"), "rolled back with the truncation");
    assertArrayEquals(c.logTerms("n3"), c.logTerms("n2"));
  }

  /**
   * A new leader whose latest committed configuration is C_old,new appends C_new itself.
   *
   * <p>Reference: §6
   */
  @Test
  void newLeaderInheritingCommittedJointConfigurationAppendsNewConfiguration() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3", "n4", "n5");
    c.elect("n1");
    settle(c, "n1");
    long jointIndex = c.node("n1").lastIndex() + 1;
    // followers receive and commit C_old,new but never C_new
    c.stripEntriesFrom(jointIndex + 1);
    assertTrue(c.node("n1").changeMembership(remove("n5")).appended());
    for (int i = 0; i < 3; i++) {
      c.stabilize();
      c.tick("n1", 2);
    }
    c.stabilize();
    assertTrue(c.node("n2").configuration().isJoint());
    assertTrue(c.node("n2").commitIndex() >= jointIndex, "the joint configuration committed");
    c.heal();
    c.isolate("n1");
    String leader = electAmong(c, "n2", "n3", "n4", "n5");
    settle(c, leader);
    if (!c.node(leader).configuration().voters().contains(leader)) {
      leader = electAmong(c, "n2", "n3", "n4"); // n5 led, appended C_new and stepped down
      settle(c, leader);
    }
    assertFalse(c.node(leader).configuration().isJoint(), leader + " appended C_new itself");
    assertEquals(Set.of("n1", "n2", "n3", "n4"), c.node(leader).configuration().voters());
  }

  /**
   * Leadership transfer to an up-to-date follower, and to a lagging one: the leader brings it up
   * to date, sends TimeoutNow, and the target wins at once (passing the disruption guard); during
   * the transfer proposals are refused as retryable.
   *
   * <p>Reference: thesis §3.10
   */
  @Test
  void leadershipTransferToUpToDateAndLaggingFollowers() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.elect("n1");
    settle(c, "n1");
    long term = c.node("n1").currentTerm();
    assertNull(c.node("n1").transferLeadership("n2"));
    c.stabilize();
    assertEquals(Role.LEADER, c.node("n2").role());
    assertEquals(term + 1, c.node("n2").currentTerm());
    assertEquals("n2", c.node("n1").leaderId());

    c.isolate("n3");
    for (int i = 0; i < 20; i++) {
      c.propose("n2", "x" + i);
    }
    settle(c, "n2");
    c.heal();
    assertNull(c.node("n2").transferLeadership("n3"));
    assertEquals(ProposeResult.Status.TRANSFERRING, c.propose("n2", "refused").status());
    settle(c, "n2");
    assertEquals(Role.LEADER, c.node("n3").role());
    assertArrayEquals(c.logTerms("n2"), c.logTerms("n3"));
  }

  /**
   * A transfer to a node that does not answer aborts after an election timeout, and the old
   * leader serves again.
   *
   * <p>Reference: thesis §3.10
   */
  @Test
  void transferToDeadNodeAbortsAndLeaderServesAgain() {
    TestCluster c = TestCluster.of(guarded(), "n1", "n2", "n3");
    c.elect("n1");
    settle(c, "n1");
    c.isolate("n3");
    c.propose("n1", "more");
    c.stabilize();
    assertNull(c.node("n1").transferLeadership("n3"));
    assertEquals("n3", c.node("n1").leadTransferee());
    assertEquals(ProposeResult.Status.TRANSFERRING, c.propose("n1", "x").status());
    c.tick("n1", 10);
    c.stabilize();
    assertNull(c.node("n1").leadTransferee());
    assertEquals(Role.LEADER, c.node("n1").role());
    assertTrue(c.propose("n1", "served").appended());
    assertEquals(RaftError.INVALID_CHANGE, c.node("n1").transferLeadership("n9"));
  }
}
