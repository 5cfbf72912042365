package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.core.Message.AppendEntriesResponse;
import dev.raftvertx.core.Message.VoteRequest;
import dev.raftvertx.core.Message.VoteResponse;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * One test per rule of the Raft paper. Each test sets a cluster up, steps it, and checks the
 * messages and state that the quoted rule asks for; its Javadoc ends with the section.
 */
class RaftPaperTest {

  /** Plain Raft as in the paper: no pre-vote, no check-quorum. */
  static CoreConfig plain() {
    return CoreConfig.defaults("x").withTicks(10, 2).withElectionGuards(false, false);
  }

  static RaftCore single(String id, HardState hs, long... terms) {
    return new RaftCore(CoreConfig.defaults(id).withTicks(10, 2).withElectionGuards(false, false),
        new SplittableRandom(7), hs, Configuration.of(Set.of(id, "p1", "p2")), 0, 0,
        TestCluster.entries(terms));
  }

  static long[] terms(long... t) {
    return t;
  }

  static Map<String, long[]> logs(Object... idsAndTerms) {
    Map<String, long[]> m = new LinkedHashMap<>();
    for (int i = 0; i < idsAndTerms.length; i += 2) {
      m.put((String) idsAndTerms[i], (long[]) idsAndTerms[i + 1]);
    }
    return m;
  }

  static <T extends Message> List<T> ofType(List<Message> ms, Class<T> type) {
    return ms.stream().filter(type::isInstance).map(type::cast).toList();
  }

  @Nested
  class Section5_1_TermsAndRpcs {

    /**
     * "If a server receives a request with a stale term number, it rejects the request", and the
     * reply carries the current term.
     *
     * <p>Reference: §5.1
     */
    @Test
    void serverRejectsRequestWithStaleTerm() {
      RaftCore f = single("f", new HardState(5, null), 1, 2);
      f.step(new AppendEntriesRequest(3, "p1", "f", 2, 2, TestCluster.entries(1, 2, 3).subList(2, 3),
          2, 0));
      List<Message> out = f.ready().messages();
      AppendEntriesResponse r = ofType(out, AppendEntriesResponse.class).get(0);
      assertFalse(r.success());
      assertEquals(5, r.term());
      assertEquals(2, f.lastIndex());
      assertEquals(0, f.commitIndex());
    }

    /**
     * "If one server's current term is smaller than the other's, then it updates its current term
     * to the larger value. If a candidate or leader discovers that its term is out of date, it
     * immediately reverts to follower state."
     *
     * <p>Reference: §5.1
     */
    @Test
    void leaderAndCandidateRevertToFollowerOnHigherTerm() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      long term = c.node("n1").currentTerm();
      c.node("n1").step(new AppendEntriesResponse(term + 3, "n2", "n1", false, 0, 0, 0, 0, 0));
      assertEquals(Role.FOLLOWER, c.node("n1").role());
      assertEquals(term + 3, c.node("n1").currentTerm());

      c.timeout("n2");
      assertEquals(Role.CANDIDATE, c.node("n2").role());
      long candidateTerm = c.node("n2").currentTerm();
      c.node("n2").step(new VoteResponse(candidateTerm + 1, "n3", "n2", false, false));
      assertEquals(Role.FOLLOWER, c.node("n2").role());
      assertEquals(candidateTerm + 1, c.node("n2").currentTerm());
    }

    /**
     * A repeated AppendEntries changes nothing: RPCs are idempotent, so a lost reply can simply be
     * retried.
     *
     * <p>Reference: §5.5
     */
    @Test
    void repeatedAppendEntriesChangesNothing() {
      RaftCore f = single("f", new HardState(2, null), 1);
      AppendEntriesRequest ae = new AppendEntriesRequest(2, "p1", "f", 1, 1,
          List.of(new LogEntry(2, 2, EntryType.COMMAND, 0, 0, 0, new byte[] {1})), 1, 0);
      f.step(ae);
      List<LogEntry> once = f.entriesFrom(1);
      f.ready();
      f.step(ae);
      Ready r = f.ready();
      assertEquals(once, f.entriesFrom(1));
      assertTrue(r.writes().isEmpty(), "a repeated request writes nothing");
    }
  }

  @Nested
  class Section5_2_LeaderElection {

    /**
     * "If a follower receives no communication over a period of time called the election timeout,
     * then it ... begins an election": it increments its term, votes for itself and sends
     * RequestVote to every other server.
     *
     * <p>Reference: §5.2
     */
    @Test
    void followerStartsElectionAfterElectionTimeout() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.timeout("n1");
      RaftCore n1 = c.node("n1");
      assertEquals(Role.CANDIDATE, n1.role());
      assertEquals(1, n1.currentTerm());
      assertEquals("n1", n1.status().votedFor());
      List<VoteRequest> reqs = ofType(c.pending(), VoteRequest.class);
      assertEquals(Set.of("n2", "n3"), Set.copyOf(reqs.stream().map(VoteRequest::to).toList()));
      for (VoteRequest r : reqs) {
        assertEquals(1, r.term());
        assertEquals(1, r.lastLogIndex());
        assertEquals(0, r.lastLogTerm());
        assertFalse(r.preVote());
      }
    }

    /**
     * "Raft uses randomized election timeouts ... chosen randomly from a fixed interval": every
     * timeout lies in [T, 2T) and they differ between servers.
     *
     * <p>Reference: §5.2
     */
    @Test
    void electionTimeoutsAreRandomizedWithinOneToTwoTimeouts() {
      Set<Integer> seen = new HashSet<>();
      for (int seed = 0; seed < 50; seed++) {
        RaftCore n = new RaftCore(CoreConfig.defaults("a").withTicks(10, 2), new SplittableRandom(seed),
            HardState.INITIAL, List.of(RaftCore.bootstrapEntry(Configuration.of(Set.of("a", "b")))));
        int ticks = 0;
        while (n.role() == Role.FOLLOWER) {
          n.tick();
          ticks++;
        }
        assertTrue(ticks >= 10 && ticks < 20, "timeout " + ticks + " outside [10, 20)");
        seen.add(ticks);
      }
      assertTrue(seen.size() > 3, "timeouts should vary: " + seen);
    }

    /**
     * "A candidate wins an election if it receives votes from a majority of the servers in the full
     * cluster for the same term", and then sends heartbeats to establish its authority.
     *
     * <p>Reference: §5.2
     */
    @Test
    void candidateWinsWithVotesFromMajority() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3", "n4", "n5");
      c.isolate("n4");
      c.isolate("n5");
      c.elect("n1");
      assertEquals(Role.LEADER, c.node("n1").role());
      assertEquals("n1", c.node("n2").leaderId());
    }

    /**
     * Without a majority the candidate neither wins nor loses; when its timeout elapses it starts a
     * new election in a higher term.
     *
     * <p>Reference: §5.2
     */
    @Test
    void candidateWithoutMajorityStartsNewElectionAfterTimeout() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.isolate("n2");
      c.isolate("n3");
      c.timeout("n1");
      c.stabilize();
      assertEquals(Role.CANDIDATE, c.node("n1").role());
      assertEquals(1, c.node("n1").currentTerm());
      c.timeout("n1");
      assertEquals(Role.CANDIDATE, c.node("n1").role());
      assertEquals(2, c.node("n1").currentTerm());
    }

    /**
     * "Each server will vote for at most one candidate in a given term, on a first-come-first-served
     * basis."
     *
     * <p>Reference: §5.2
     */
    @Test
    void followerGrantsAtMostOneVotePerTerm() {
      RaftCore f = single("f", new HardState(1, null), 1);
      f.step(new VoteRequest(2, "p1", "f", 1, 1, false, false));
      f.step(new VoteRequest(2, "p2", "f", 5, 1, false, false));
      f.step(new VoteRequest(2, "p1", "f", 1, 1, false, false));
      Ready r = f.ready();
      assertTrue(r.messages().isEmpty(), "votes wait for the durable vote");
      f.persisted(r.writes().get(r.writes().size() - 1).sequence());
      List<VoteResponse> votes = ofType(f.ready().messages(), VoteResponse.class);
      assertEquals(3, votes.size());
      assertTrue(votes.get(0).voteGranted());
      assertEquals("p1", votes.get(0).to());
      assertFalse(votes.get(1).voteGranted(), "second candidate in the same term");
      assertTrue(votes.get(2).voteGranted(), "a repeated request from the same candidate");
    }

    /**
     * A granted vote is a promise that survives a crash: the reply leaves only after currentTerm
     * and votedFor are durable.
     *
     * <p>Reference: §5.2, Figure 2 ("persistent state ... updated on stable storage before
     * responding to RPCs")
     */
    @Test
    void grantedVoteLeavesOnlyAfterVoteIsDurable() {
      RaftCore f = single("f", new HardState(1, null), 1);
      f.step(new VoteRequest(2, "p1", "f", 1, 1, false, false));
      Ready r = f.ready();
      assertTrue(r.messages().isEmpty());
      assertEquals(1, r.writes().size());
      assertEquals(new HardState(2, "p1"), r.writes().get(0).hardState());
      f.persisted(r.writes().get(0).sequence());
      VoteResponse v = ofType(f.ready().messages(), VoteResponse.class).get(0);
      assertTrue(v.voteGranted());
    }

    /**
     * A candidate "votes for itself"; the vote counts only once its new term and vote are durable,
     * so a single-node cluster becomes leader only after that write.
     *
     * <p>Reference: §5.2
     */
    @Test
    void candidateCountsOwnVoteOnlyOnceDurable() {
      RaftCore n = new RaftCore(CoreConfig.defaults("a").withTicks(10, 2), new SplittableRandom(1),
          HardState.INITIAL, List.of(RaftCore.bootstrapEntry(Configuration.of(Set.of("a")))));
      while (n.role() == Role.FOLLOWER || n.role() == Role.PRE_CANDIDATE) {
        n.tick();
      }
      assertEquals(Role.CANDIDATE, n.role());
      Ready r = n.ready();
      assertEquals(new HardState(1, "a"), r.writes().get(0).hardState());
      assertEquals(Role.CANDIDATE, n.role(), "own vote not counted before it is durable");
      n.persisted(r.writes().get(0).sequence());
      assertEquals(Role.LEADER, n.role());
    }

    /**
     * "If the AppendEntries RPC is from a leader whose term is at least as large as the candidate's
     * current term, then the candidate recognizes the leader as legitimate and returns to follower
     * state."
     *
     * <p>Reference: §5.2
     */
    @Test
    void candidateReturnsToFollowerOnAppendEntriesFromLeaderOfSameTerm() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.timeout("n2");
      c.clearQueue();
      long term = c.node("n2").currentTerm();
      c.node("n2").step(new AppendEntriesRequest(term, "n3", "n2", 0, 0, List.of(), 0, 0));
      assertEquals(Role.FOLLOWER, c.node("n2").role());
      assertEquals("n3", c.node("n2").leaderId());
    }

    /**
     * "Once a candidate wins an election, it becomes leader. It then sends heartbeat messages to all
     * of the other servers" and keeps sending them while idle.
     *
     * <p>Reference: §5.2
     */
    @Test
    void leaderSendsHeartbeatsEveryHeartbeatTimeout() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      c.tick("n1", 1);
      assertTrue(c.pending().isEmpty());
      c.tick("n1", 1);
      List<AppendEntriesRequest> hb = ofType(c.pending(), AppendEntriesRequest.class);
      assertEquals(Set.of("n2", "n3"), Set.copyOf(hb.stream().map(AppendEntriesRequest::to).toList()));
      hb.forEach(m -> assertTrue(m.entries().isEmpty()));
    }

    /**
     * Dueling candidates: two servers time out together and split the vote; randomized timeouts
     * settle it, and the server whose log is behind cannot win.
     *
     * <p>Reference: §5.2, §5.4.1
     */
    @Test
    void duelingCandidatesResolveToOneLeader() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.drop(m -> (m.from().equals("n1") && m.to().equals("n3"))
          || (m.from().equals("n3") && m.to().equals("n1")));
      c.timeout("n1");
      c.timeout("n3");
      c.stabilize();
      assertEquals(Role.LEADER, c.node("n1").role());
      assertEquals(Role.CANDIDATE, c.node("n3").role(), "n2 already voted for n1 in term 1");
      c.heal();
      c.timeout("n3"); // term 2, but n3's log lacks n1's no-op: everyone refuses
      c.stabilize();
      assertNotEquals(Role.LEADER, c.node("n3").role());
      c.timeout("n1");
      c.stabilize();
      assertEquals(Role.LEADER, c.node("n1").role());
      c.propose("n1", "x");
      c.stabilize();
      c.tick("n1", 2);
      c.stabilize();
      assertArrayEquals(c.logTerms("n1"), c.logTerms("n3"));
      assertArrayEquals(c.logTerms("n1"), c.logTerms("n2"));
    }
  }

  @Nested
  class Section5_3_LogReplication {

    /**
     * "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in
     * parallel to each of the other servers"; once replicated on a majority it is committed and
     * applied.
     *
     * <p>Reference: §5.3
     */
    @Test
    void leaderCommitsEntryOnceReplicatedOnMajority() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n3");
      ProposeResult p = c.propose("n1", "x");
      assertTrue(p.appended());
      List<AppendEntriesRequest> out = ofType(c.pending(), AppendEntriesRequest.class);
      assertEquals(2, out.size(), "sent to both followers in parallel");
      c.stabilize();
      assertEquals(p.index(), c.node("n1").commitIndex());
      List<LogEntry> applied = c.applied.get("n1");
      assertEquals(p.index(), applied.get(applied.size() - 1).index());
    }

    /**
     * A follower that does not hold an entry matching prevLogIndex/prevLogTerm refuses the new
     * entries (consistency check) and tells the leader the conflicting term and its first index.
     *
     * <p>Reference: §5.3
     */
    @Test
    void followerRefusesEntriesWhenPrevLogDoesNotMatch() {
      RaftCore f = single("f", new HardState(3, null), 1, 2, 2, 2);
      f.step(new AppendEntriesRequest(3, "p1", "f", 4, 3,
          List.of(new LogEntry(5, 3, EntryType.COMMAND, 0, 0, 0, null)), 4, 0));
      f.persisted(Long.MAX_VALUE);
      AppendEntriesResponse r = ofType(f.ready().messages(), AppendEntriesResponse.class).get(0);
      assertFalse(r.success());
      assertEquals(4, r.rejectedIndex());
      assertEquals(2, r.conflictTerm());
      assertEquals(2, r.conflictIndex());
      assertEquals(4, f.lastIndex());
    }

    /**
     * "If an existing entry conflicts with a new one (same index but different terms), delete the
     * existing entry and all that follow it"; then append the new entries.
     *
     * <p>Reference: §5.3, Figure 2
     */
    @Test
    void followerDeletesConflictingEntriesAndAppendsNewOnes() {
      RaftCore f = single("f", new HardState(3, null), 1, 2, 2, 2);
      f.step(new AppendEntriesRequest(3, "p1", "f", 2, 2,
          List.of(new LogEntry(3, 3, EntryType.COMMAND, 0, 0, 0, null)), 3, 0));
      assertArrayEquals(terms(1, 2, 3), f.entriesFrom(1).stream().mapToLong(LogEntry::term).toArray());
      Ready r = f.ready();
      assertEquals(3, r.writes().get(0).truncateFrom(), "truncation is part of the write");
      assertEquals(1, r.writes().get(0).entries().size());
    }

    /**
     * A delayed or duplicated AppendEntries whose entries the follower already holds never deletes
     * anything ("if an existing entry conflicts" — entries that match are kept).
     *
     * <p>Reference: §5.3, Figure 2
     */
    @Test
    void reorderedOrDuplicatedAppendEntriesNeverTruncates() {
      RaftCore f = single("f", new HardState(2, null), 1, 2, 2, 2);
      f.step(new AppendEntriesRequest(2, "p1", "f", 1, 1, TestCluster.entries(1, 2).subList(1, 2),
          1, 0));
      assertEquals(4, f.lastIndex());
      Ready r = f.ready();
      assertTrue(r.writes().isEmpty());
      AppendEntriesResponse resp = ofType(r.messages(), AppendEntriesResponse.class).get(0);
      assertTrue(resp.success());
      assertEquals(2, resp.matchIndex(), "acknowledges only what the request verified");
    }

    /**
     * "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
     * entry)": a follower never commits entries the request did not verify, such as a stale tail.
     *
     * <p>Reference: §5.3, Figure 2
     */
    @Test
    void followerCommitsOnlyWhatTheRequestVerified() {
      RaftCore f = single("f", new HardState(2, null), 1, 1, 1);
      f.step(new AppendEntriesRequest(3, "p1", "f", 1, 1, List.of(), 3, 0));
      assertEquals(1, f.commitIndex());
    }

    /**
     * Acknowledging entries promises they are durable: the reply leaves only after the write that
     * holds them completes.
     *
     * <p>Reference: §5.3, Figure 2
     */
    @Test
    void appendAcknowledgementLeavesOnlyAfterEntriesAreDurable() {
      RaftCore f = single("f", new HardState(2, null), 1);
      f.step(new AppendEntriesRequest(2, "p1", "f", 1, 1,
          List.of(new LogEntry(2, 2, EntryType.COMMAND, 0, 0, 0, null)), 1, 0));
      Ready r = f.ready();
      assertTrue(r.messages().isEmpty());
      assertEquals(1, r.writes().size());
      // a duplicate arriving while the write is in flight must also wait for it
      f.step(new AppendEntriesRequest(2, "p1", "f", 1, 1,
          List.of(new LogEntry(2, 2, EntryType.COMMAND, 0, 0, 0, null)), 1, 0));
      assertTrue(f.ready().messages().isEmpty());
      f.persisted(r.writes().get(0).sequence());
      List<AppendEntriesResponse> acks = ofType(f.ready().messages(), AppendEntriesResponse.class);
      assertEquals(2, acks.size());
      acks.forEach(a -> assertEquals(2, a.matchIndex()));
    }

    /**
     * The leader sends AppendEntries before its own write is durable (its fsync runs in parallel),
     * but counts itself toward a majority only up to its durable index.
     *
     * <p>Reference: §5.3; thesis §10.2.1
     */
    @Test
    void leaderCountsItselfOnlyUpToItsDurableIndex() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      RaftCore leader = c.node("n1");
      long commitBefore = leader.commitIndex();
      leader.propose(EntryType.COMMAND, 0, 0, new byte[] {1});
      Ready r = leader.ready();
      assertEquals(1, r.writes().size());
      AppendEntriesRequest toN2 = ofType(r.messages(), AppendEntriesRequest.class).stream()
          .filter(m -> m.to().equals("n2")).findFirst().orElseThrow();
      c.node("n2").step(toN2);
      AppendEntriesResponse ack = ofType(c.collect("n2"), AppendEntriesResponse.class).get(0);
      leader.step(ack);
      assertEquals(commitBefore, leader.commitIndex(), "n1 + n2 would be a majority, but n1 is not durable");
      leader.persisted(r.writes().get(0).sequence());
      assertEquals(commitBefore + 1, leader.commitIndex());
    }

    /**
     * "After a rejection, the leader decrements nextIndex and retries"; with the follower's
     * conflict term the leader skips a whole term per round trip. Each follower of Figure 7 is
     * brought in line with the leader.
     *
     * <p>Reference: §5.3, Figure 7
     */
    @Test
    void figure7FollowersAreBroughtInLineWithTheLeader() {
      long[] leaderLog = terms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
      Map<String, long[]> followers = new LinkedHashMap<>();
      followers.put("a", terms(1, 1, 1, 4, 4, 5, 5, 6, 6));
      followers.put("b", terms(1, 1, 1, 4));
      followers.put("c", terms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6));
      followers.put("d", terms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7));
      followers.put("e", terms(1, 1, 1, 4, 4, 4, 4));
      followers.put("f", terms(1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3));
      for (Map.Entry<String, long[]> f : followers.entrySet()) {
        TestCluster c = TestCluster.withLogs(plain(),
            logs("leader", leaderLog, "m", leaderLog, f.getKey(), f.getValue()),
            Map.of("leader", 7L, "m", 7L, f.getKey(), 7L));
        c.elect("leader");
        assertEquals(8, c.node("leader").currentTerm());
        c.stabilize();
        assertArrayEquals(c.logTerms("leader"), c.logTerms(f.getKey()), "follower " + f.getKey());
        assertEquals(11, c.node("leader").commitIndex(), "follower " + f.getKey());
      }
    }

    /**
     * Pipelining: while replicating, the leader keeps several AppendEntries in flight to a
     * follower, bounded by a count.
     *
     * <p>Reference: §5.3 (AppendEntries in parallel); thesis §10.2.2
     */
    @Test
    void leaderPipelinesAppendEntriesBoundedByCount() {
      CoreConfig cfg = plain().withReplicationLimits(4, 1 << 20, 1 << 20);
      TestCluster c = TestCluster.of(cfg, "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n2");
      c.isolate("n3");
      for (int i = 0; i < 10; i++) {
        c.propose("n1", "x" + i);
        c.collect("n1");
      }
      long toN2 = c.pending().stream()
          .filter(m -> m instanceof AppendEntriesRequest a && a.to().equals("n2") && !a.entries().isEmpty())
          .count();
      assertEquals(4, toN2);
    }

    /**
     * Batching: proposals made together leave in one AppendEntries per follower and one write.
     *
     * <p>Reference: thesis §10.2.1
     */
    @Test
    void proposalsMadeTogetherShareOneWriteAndOneMessagePerFollower() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      for (int i = 0; i < 50; i++) {
        c.propose("n1", "x" + i);
      }
      Ready r = c.node("n1").ready();
      assertEquals(1, r.writes().size());
      assertEquals(50, r.writes().get(0).entries().size());
      List<AppendEntriesRequest> aes = ofType(r.messages(), AppendEntriesRequest.class);
      assertEquals(2, aes.size());
      aes.forEach(a -> assertEquals(50, a.entries().size()));
    }

    /**
     * A follower 1,000 entries behind is caught up in a handful of round trips: the leader probes
     * once, jumps to the follower's end, and streams the rest in large messages.
     *
     * <p>Reference: §5.3
     */
    @Test
    void followerFarBehindCatchesUpInAFewRoundTrips() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n3");
      for (int i = 0; i < 1000; i++) {
        c.propose("n1", "entry-" + i);
        if (i % 100 == 99) {
          c.stabilize();
        }
      }
      c.stabilize();
      assertEquals(2, c.node("n3").lastIndex());
      c.heal();
      c.tick("n1", 2); // a heartbeat reaches n3
      int rounds = c.stabilize();
      assertArrayEquals(c.logTerms("n1"), c.logTerms("n3"));
      assertTrue(rounds <= 8, "took " + rounds + " one-way deliveries");
    }
  }

  @Nested
  class Section5_4_Safety {

    /**
     * "The voter denies its vote if its own log is more up-to-date than that of the candidate":
     * compare the last terms, then the lengths.
     *
     * <p>Reference: §5.4.1
     */
    @Test
    void voterDeniesCandidateWhoseLogIsLessUpToDate() {
      // voter's last entry: index 3, term 2
      long[][] cases = {
          // lastLogIndex, lastLogTerm, granted (1/0)
          {3, 1, 0}, {5, 1, 0}, {2, 2, 0}, {3, 2, 1}, {4, 2, 1}, {1, 3, 1}};
      for (long[] k : cases) {
        RaftCore v = single("v", new HardState(2, null), 1, 2, 2);
        v.step(new VoteRequest(3, "p1", "v", k[0], k[1], false, false));
        Ready r = v.ready();
        v.persisted(r.writes().get(0).sequence());
        VoteResponse resp = ofType(v.ready().messages(), VoteResponse.class).get(0);
        assertEquals(k[2] == 1, resp.voteGranted(), "candidate last (" + k[0] + ", " + k[1] + ")");
      }
    }

    /**
     * "Raft never commits log entries from previous terms by counting replicas. Only log entries
     * from the leader's current term are committed by counting replicas."
     *
     * <p>Reference: §5.4.2
     */
    @Test
    void leaderCommitsOnlyEntriesFromItsOwnTerm() {
      CoreConfig cfg = plain().withReplicationLimits(256, 1 << 20, 1); // one entry per message
      TestCluster c = TestCluster.withLogs(cfg,
          logs("n1", terms(1, 2), "n2", terms(1), "n3", terms(1)), Map.of("n1", 2L, "n2", 2L, "n3", 2L));
      c.stripEntriesFrom(3);
      c.elect("n1");
      RaftCore n1 = c.node("n1");
      assertEquals(3, n1.currentTerm());
      assertEquals(2, c.node("n2").lastIndex(), "the term-2 entry reached n2");
      assertEquals(0, n1.commitIndex(), "index 2 is on a majority but from an earlier term");
      c.heal();
      c.tick("n1", 2);
      c.stabilize();
      assertEquals(3, n1.commitIndex(), "committed together with the term-3 no-op");
    }

    /**
     * Figure 8 (a)-(e), step by step: an entry from an earlier term stored on a majority can still
     * be overwritten, so the leader must not count it committed; once an entry of the leader's own
     * term is on a majority, the earlier one is safe.
     *
     * <p>Reference: §5.4.2, Figure 8
     */
    @Test
    void figure8EntryFromEarlierTermOnMajorityMayStillBeOverwritten() {
      Figure8 f = new Figure8(false);
      f.stepsAtoC();
      assertEquals(List.of(2L, 2L, 2L), List.of(f.c.node("s1").termAt(2), f.c.node("s2").termAt(2),
          f.c.node("s3").termAt(2)), "(c) term-2 entry on a majority");
      assertTrue(f.c.node("s1").commitIndex() < 2, "(c) but not committed");
      f.stepD();
      for (String s : List.of("s1", "s2", "s3", "s4", "s5")) {
        if (!s.equals("s1")) {
          assertEquals(3, f.c.node(s).termAt(2), "(d) " + s + " holds s5's term-3 entry at index 2");
        }
      }
      f.assertNoAppliedConflict();
    }

    /**
     * Figure 8 (e): once s1 has replicated an entry of its own term on a majority, that entry and
     * the earlier one are committed, and s5 can no longer be elected.
     *
     * <p>Reference: §5.4.2, Figure 8
     */
    @Test
    void figure8EntryOfCurrentTermOnMajorityCommitsEarlierOnes() {
      Figure8 f = new Figure8(false);
      f.stepsAtoC();
      f.stepE();
      assertNotEquals(Role.LEADER, f.c.node("s5").role(), "(e) s5 cannot win");
      for (String s : List.of("s2", "s3")) {
        assertEquals(2, f.c.node(s).termAt(2));
        assertEquals(4, f.c.node(s).termAt(3));
      }
      f.assertNoAppliedConflict();
    }

    /**
     * The same sequence with the Figure 8 rule switched off (commit by counting replicas of an
     * earlier term's entry) applies two different entries at one index: the rule is what keeps
     * State Machine Safety.
     *
     * <p>Reference: §5.4.2, Figure 8
     */
    @Test
    void figure8WithoutTheRuleBreaksStateMachineSafety() {
      Figure8 f = new Figure8(true);
      f.stepsAtoC();
      assertEquals(2, f.c.node("s1").commitIndex(), "the broken leader commits the old entry");
      boolean violated;
      try {
        f.stepD();
        violated = !f.appliedAgree();
      } catch (IllegalStateException e) {
        // a follower asked to overwrite an entry it was told is committed refuses
        violated = e.getMessage().contains("conflicts with committed");
      }
      assertTrue(violated, "s5 overwrites an entry the broken s1 committed");
    }
  }

  /** The Figure 8 scenario with five servers, driven step by step. */
  static final class Figure8 {
    final TestCluster c;

    Figure8(boolean unsafe) {
      CoreConfig cfg = plain().withReplicationLimits(256, 1 << 20, 1);
      long[] one = terms(1);
      c = TestCluster.withLogs(cfg, logs("s1", one, "s2", one, "s3", one, "s4", one, "s5", one),
          Map.of());
      if (unsafe) {
        c.nodes.values().forEach(n -> n.unsafeCommitEntriesOfEarlierTerms = true);
      }
      this.unsafe = unsafe;
    }

    private final boolean unsafe;

    void stepsAtoC() {
      // (a) s1 leads term 2 and replicates its index-2 entry to s2 only.
      c.drop(m -> m instanceof AppendEntriesRequest && Set.of("s3", "s4", "s5").contains(m.to()));
      c.elect("s1");
      assertEquals(2, c.node("s1").currentTerm());
      assertEquals(2, c.node("s2").termAt(2));
      // (b) s1 crashes; s5 is elected for term 3 by s3, s4, s5 and appends a different entry at 2.
      c.heal();
      c.isolate("s1");
      c.drop(m -> m instanceof AppendEntriesRequest && m.from().equals("s5"));
      c.timeout("s5");
      c.stabilize();
      assertEquals(Role.LEADER, c.node("s5").role());
      assertEquals(3, c.node("s5").currentTerm());
      assertEquals(3, c.node("s5").termAt(2));
      // (c) s5 crashes; s1 restarts, is elected for term 4 and replicates index 2 to s3, but its
      // own index-3 entry reaches no one.
      c.heal();
      c.isolate("s5");
      c.restart("s1");
      c.node("s1").unsafeCommitEntriesOfEarlierTerms = unsafe;
      c.drop(m -> m instanceof AppendEntriesRequest && m.to().equals("s4"));
      c.stripEntriesFrom(3);
      while (c.node("s1").role() != Role.LEADER) {
        c.timeout("s1");
        c.stabilize();
      }
      assertEquals(4, c.node("s1").currentTerm());
      c.tick("s1", 2);
      c.stabilize();
    }

    void stepD() {
      // (d) s1 crashes; s5 restarts and is elected with votes from s2, s3, s4; it overwrites index 2.
      c.heal();
      c.isolate("s1");
      c.restart("s5");
      if (unsafe) {
        c.node("s5").unsafeCommitEntriesOfEarlierTerms = true;
      }
      int attempts = 0;
      while (c.node("s5").role() != Role.LEADER) {
        c.timeout("s5");
        c.stabilize();
        if (++attempts > 5) {
          throw new AssertionError("s5 was not elected: " + c.node("s5").status());
        }
      }
      c.tick("s5", 2);
      c.stabilize();
      c.heal();
      c.tick("s5", 2);
      c.stabilize();
    }

    void stepE() {
      // (e) s1 replicates its term-4 entry to a majority before crashing.
      c.heal();
      c.isolate("s5");
      c.tick("s1", 2);
      c.stabilize();
      assertEquals(3, c.node("s1").commitIndex());
      c.isolate("s1");
      c.heal();
      c.isolate("s1");
      c.restart("s5");
      for (int i = 0; i < 3; i++) {
        c.timeout("s5");
        c.stabilize();
        assertNotEquals(Role.LEADER, c.node("s5").role());
      }
    }

    boolean appliedAgree() {
      Map<Long, Long> termAt = new java.util.HashMap<>();
      for (List<LogEntry> applied : c.applied.values()) {
        for (LogEntry e : applied) {
          Long t = termAt.putIfAbsent(e.index(), e.term());
          if (t != null && t != e.term()) {
            return false;
          }
        }
      }
      return true;
    }

    void assertNoAppliedConflict() {
      assertTrue(appliedAgree(), "State Machine Safety");
    }
  }

  @Nested
  class Section8_ClientInteraction {

    /**
     * "Each leader commit[s] a blank no-op entry into the log at the start of its term."
     *
     * <p>Reference: §8
     */
    @Test
    void newLeaderAppendsNoOpOfItsTerm() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      LogEntry last = c.node("n1").entriesFrom(c.node("n1").lastIndex()).get(0);
      assertEquals(EntryType.NOOP, last.type());
      assertEquals(c.node("n1").currentTerm(), last.term());
    }

    /**
     * A follower refuses a proposal and names the leader it knows, so clients are redirected.
     *
     * <p>Reference: §8
     */
    @Test
    void followerRefusesProposalAndNamesTheLeader() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      ProposeResult r = c.propose("n2", "x");
      assertEquals(ProposeResult.Status.NOT_LEADER, r.status());
      assertEquals("n1", r.leaderHint());
    }

    /**
     * A new leader serves no read until its no-op committed: "a leader must have the latest
     * information on which entries are committed".
     *
     * <p>Reference: §8
     */
    @Test
    void readWaitsUntilLeaderCommittedAnEntryOfItsTerm() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      // n1 wins (votes pass) but its no-op cannot commit while AppendEntries are lost
      c.drop(m -> m instanceof AppendEntriesRequest);
      c.elect("n1");
      assertTrue(c.node("n1").readIndex(7));
      c.tick("n1", 4);
      c.stabilize();
      assertTrue(c.reads.get("n1").isEmpty());
      c.heal();
      c.tick("n1", 2);
      c.stabilize();
      assertEquals(1, c.reads.get("n1").size());
      assertEquals(c.node("n1").commitIndex(), c.reads.get("n1").get(0).readIndex());
    }

    /**
     * "The leader ... exchange[s] heartbeat messages with a majority of the cluster before
     * responding to read-only requests"; many reads share one round, and a read joins only a round
     * that started after it arrived.
     *
     * <p>Reference: §8; thesis §6.4
     */
    @Test
    void readsShareOneHeartbeatRoundStartedAfterTheyArrived() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      RaftCore n1 = c.node("n1");
      assertTrue(n1.readIndex(1));
      List<Message> round1 = c.pending();
      long round1Number = ofType(round1, AppendEntriesRequest.class).get(0).round();
      for (long id = 2; id <= 10; id++) {
        assertTrue(n1.readIndex(id)); // arrive while round 1 is in flight
      }
      c.deliver(); // heartbeats of round 1 arrive
      c.deliver(); // their acks arrive
      assertEquals(List.of(1L), c.reads.get("n1").stream().map(ReadState::readId).toList(),
          "reads 2-10 arrived after round 1 started");
      List<AppendEntriesRequest> round2 = ofType(c.pending(), AppendEntriesRequest.class);
      assertEquals(2, round2.size(), "one heartbeat per follower for nine reads");
      assertEquals(round1Number + 1, round2.get(0).round());
      c.stabilize();
      assertEquals(10, c.reads.get("n1").size());
    }

    /**
     * Reads waiting on a leader that loses leadership fail instead of hanging.
     *
     * <p>Reference: §8
     */
    @Test
    void pendingReadsFailWhenLeadershipIsLost() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n1");
      c.node("n1").readIndex(42);
      c.node("n1").step(new AppendEntriesRequest(9, "n2", "n1", 0, 0, List.of(), 0, 0));
      c.collect("n1");
      assertEquals(List.of(42L), c.failedReads.get("n1"));
    }

    /**
     * "Clients may contact any node; a follower forwards to the leader": a follower forwards a
     * proposal and learns where it was appended, and asks the leader for a read index, then serves
     * the read from its own state once applied that far.
     *
     * <p>Reference: §8; thesis §6.4
     */
    @Test
    void followerForwardsProposalsAndReadsToTheLeader() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      assertTrue(c.node("n2").forward(5, EntryType.COMMAND, 0, 0, new byte[] {7}));
      c.stabilize();
      Ready.Forwarded f = c.forwarded.get("n2").get(0);
      assertEquals(5, f.requestId());
      assertTrue(f.result().appended());
      c.tick("n1", 2);
      c.stabilize();
      assertTrue(c.applied.get("n2").stream().anyMatch(e -> e.index() == f.result().index()
          && e.term() == f.result().term()), "the follower applies the entry it forwarded");
      assertTrue(c.node("n2").readIndex(9));
      c.stabilize();
      assertEquals(List.of(new ReadState(9, c.node("n1").commitIndex())), c.reads.get("n2"));
      // with no leader known there is nothing to forward to
      RaftCore lonely = single("z", HardState.INITIAL, 1);
      assertFalse(lonely.readIndex(1));
      assertFalse(lonely.forward(1, EntryType.COMMAND, 0, 0, null));
    }

    /**
     * A forwarded proposal the network delivers twice, even late, is appended once: the leader
     * answers the duplicate with the first answer (a command without a session would otherwise be
     * applied twice; found by the Jepsen-style suite's message duplication). Another request
     * with the same payload is a proposal of its own.
     */
    @Test
    void aDuplicatedForwardedProposalIsAppendedOnce() {
      TestCluster c = TestCluster.of(plain(), "n1", "n2", "n3");
      c.elect("n1");
      c.stabilize();
      assertTrue(c.node("n2").forward(5, EntryType.COMMAND, 0, 0, new byte[] {7}));
      Message request = c.pending().stream().filter(m -> m instanceof Message.ProposeRequest)
          .findFirst().orElseThrow();
      c.stabilize();
      c.node("n1").step(request); // the late copy
      c.stabilize();
      List<Ready.Forwarded> answers = c.forwarded.get("n2");
      assertEquals(2, answers.size(), "both copies are answered");
      assertEquals(answers.get(0), answers.get(1), "with the same answer");
      assertTrue(answers.get(0).result().appended());
      java.util.function.ToLongFunction<String> sevens = id -> c.node(id).entriesFrom(1).stream()
          .filter(e -> e.type() == EntryType.COMMAND && java.util.Arrays.equals(e.data(),
              new byte[] {7})).count();
      assertEquals(1, sevens.applyAsLong("n1"), "appended once");
      assertTrue(c.node("n2").forward(6, EntryType.COMMAND, 0, 0, new byte[] {7}));
      c.stabilize();
      assertEquals(2, sevens.applyAsLong("n1"), "a new request id is a new proposal");
      assertEquals(2, sevens.applyAsLong("n2"));
    }

    /**
     * Backpressure: past the bound on uncommitted entries a proposal fails fast, and an entry above
     * the size limit is refused; neither is appended.
     *
     * <p>Reference: thesis §10.2.3 (flow control)
     */
    @Test
    void proposalsFailFastWhenOverloadedOrTooLarge() {
      CoreConfig cfg = plain();
      cfg = new CoreConfig("x", cfg.electionTicks(), cfg.heartbeatTicks(), false, false, 256, 1 << 20,
          1 << 20, 5, 100);
      TestCluster c = TestCluster.of(cfg, "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n2");
      c.isolate("n3");
      int appended = 0;
      ProposeResult last = null;
      for (int i = 0; i < 10; i++) {
        last = c.propose("n1", "x");
        if (last.appended()) {
          appended++;
        }
      }
      assertEquals(5, appended);
      assertEquals(ProposeResult.Status.OVERLOADED, last.status());
      c.heal();
      c.tick("n1", 2);
      c.stabilize();
      assertTrue(c.propose("n1", "x").appended());
      ProposeResult big = c.node("n1").propose(EntryType.COMMAND, 0, 0, new byte[101]);
      assertEquals(ProposeResult.Status.TOO_LARGE, big.status());
    }
  }

  @Nested
  class PreVoteAndCheckQuorum {

    /**
     * A leader that cannot hear from a quorum for an election timeout steps down.
     *
     * <p>Reference: thesis §6.2
     */
    @Test
    void leaderStepsDownWhenItLosesQuorum() {
      TestCluster c = TestCluster.of(CoreConfig.defaults("x").withTicks(10, 2), "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n1");
      c.tick("n1", 25);
      assertEquals(Role.FOLLOWER, c.node("n1").role());
    }

    /**
     * A node partitioned away does not raise its term with pre-vote, so when it returns it does not
     * depose the leader.
     *
     * <p>Reference: thesis §9.6
     */
    @Test
    void partitionedNodeDoesNotRaiseItsTermWithPreVote() {
      TestCluster c = TestCluster.of(CoreConfig.defaults("x").withTicks(10, 2), "n1", "n2", "n3");
      c.elect("n1");
      long term = c.node("n1").currentTerm();
      c.isolate("n3");
      for (int i = 0; i < 10; i++) {
        c.timeout("n3");
        c.stabilize();
      }
      assertEquals(term, c.node("n3").currentTerm());
      c.heal();
      c.tick("n1", 2);
      c.stabilize();
      assertEquals(Role.LEADER, c.node("n1").role());
      assertEquals(term, c.node("n1").currentTerm());
      assertEquals("n1", c.node("n3").leaderId());
    }

    /**
     * With check-quorum, a follower that heard from a leader within the minimum election timeout
     * ignores a vote request (neither adopts the term nor votes).
     *
     * <p>Reference: §6 (disruptive servers); thesis §4.2.3
     */
    @Test
    void followerThatHeardFromLeaderIgnoresVoteRequests() {
      TestCluster c = TestCluster.of(CoreConfig.defaults("x").withTicks(10, 2), "n1", "n2", "n3");
      c.elect("n1");
      long term = c.node("n2").currentTerm();
      c.node("n2").step(new VoteRequest(term + 5, "n3", "n2", 100, term, false, false));
      assertEquals(term, c.node("n2").currentTerm());
      assertTrue(c.collect("n2").isEmpty());
    }

    /**
     * A node whose term ran ahead (it campaigned without pre-vote while cut off) can still rejoin:
     * the leader learns the higher term from its reply, and the cluster re-elects.
     *
     * <p>Reference: §5.1; etcd's handling of check-quorum
     */
    @Test
    void nodeWhoseTermRanAheadRejoins() {
      TestCluster c = TestCluster.of(CoreConfig.defaults("x").withTicks(10, 2), "n1", "n2", "n3");
      c.elect("n1");
      c.isolate("n3");
      c.propose("n1", "a");
      c.stabilize();
      // n3, cut off and without a leader, adopts a much higher term (as a node without pre-vote
      // would by campaigning again and again)
      c.tick("n3", 40);
      long ahead = c.node("n1").currentTerm() + 7;
      c.node("n3").step(new VoteRequest(ahead, "n2", "n3", 0, 0, false, false));
      assertEquals(ahead, c.node("n3").currentTerm());
      c.clearQueue();
      c.heal();
      for (int i = 0; i < 30 && !settled(c, "n3"); i++) {
        for (String id : List.of("n1", "n2", "n3")) {
          c.tick(id, 3);
        }
        c.stabilize();
      }
      assertTrue(settled(c, "n3"), "n3 follows a leader of its term again");
      assertArrayEquals(c.logTerms("n1"), c.logTerms("n3"));
    }

    private boolean settled(TestCluster c, String follower) {
      List<RaftCore> leaders = c.nodes.values().stream().filter(n -> n.role() == Role.LEADER).toList();
      if (leaders.size() != 1) {
        return false;
      }
      RaftCore leader = leaders.get(0);
      RaftCore f = c.node(follower);
      return leader.id().equals(f.leaderId()) && leader.currentTerm() == f.currentTerm()
          && leader.lastIndex() == f.lastIndex();
    }
  }
}
