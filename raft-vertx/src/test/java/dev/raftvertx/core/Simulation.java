package dev.raftvertx.core;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A deterministic simulation of a Raft cluster: several {@link RaftCore}s over a simulated network
 * that delays, loses, duplicates and reorders messages and cuts partitions; storage whose writes
 * take time and vanish if the node crashes first; crashes and restarts; clients that propose
 * exactly-once commands (retrying on every failure) and linearizable reads. Everything derives
 * from one seed, so a failing seed replays exactly.
 *
 * <p>After every event the checker asserts the five properties of Figure 3 (Election Safety,
 * Leader Append-Only, Log Matching, Leader Completeness, State Machine Safety), that no command is
 * applied twice, and that every read is linearizable. At the end the faults stop, and every
 * acknowledged command must be applied exactly once on every node.
 */
final class Simulation {

  /** A violated property; the message names it. */
  static final class Violation extends AssertionError {
    Violation(String message) {
      super(message);
    }
  }

  /** Knobs, all drawn from the seed. */
  record Params(long seed, int nodes, int clients, long duration, double loss, double duplicate,
      int maxDelay, double crashPerTick, double partitionPerTick, int entriesPerMessage,
      int maxInflight, boolean preVote, boolean checkQuorum, double membershipPerTick,
      int snapshotEvery, int trailingEntries) {

    static Params forSeed(long seed) {
      SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
      int nodes = r.nextInt(3) == 0 ? 5 : 3;
      boolean guards = r.nextInt(4) != 0;
      return new Params(seed, nodes, 1 + r.nextInt(4), 4_000 + r.nextInt(4_000),
          r.nextInt(3) == 0 ? 0 : r.nextDouble() * 0.15, r.nextDouble() * 0.05, 5 + r.nextInt(30),
          r.nextDouble() * 0.02, r.nextDouble() * 0.02, r.nextInt(3) == 0 ? 1 : 1 + r.nextInt(64),
          1 + r.nextInt(8), guards, guards,
          // membership changes rely on the disruption guard (check-quorum, pre-vote), §6
          guards && r.nextInt(3) != 0 ? 0.02 + r.nextDouble() * 0.1 : 0,
          // log compaction (§7) in two thirds of the seeds, often enough that lagging, restarted
          // and newly added nodes need a snapshot
          r.nextInt(3) == 0 ? 0 : 5 + r.nextInt(60), r.nextInt(3) == 0 ? 0 : r.nextInt(20));
    }
  }

  /** A durable snapshot of a node's state machine and session table. */
  record SimSnapshot(long index, long term, Configuration configuration, byte[] sessions,
      Set<Long> ops, long hash) {
  }

  private record Event(long time, long order, int incarnationOf, String node, Runnable action) {
  }

  static final int TICK = 10;

  final Params params;
  private final SplittableRandom random;
  private final PriorityQueue<Event> events = new PriorityQueue<>(
      (a, b) -> a.time != b.time ? Long.compare(a.time, b.time) : Long.compare(a.order, b.order));
  private long order;
  long now;
  /** Test hook: run every core with the Figure 8 rule broken. */
  boolean unsafeCommit;
  /** Test hook: run every core without the election restriction. */
  boolean unsafeVote;

  final Map<String, SimNode> nodes = new LinkedHashMap<>();
  private final List<String> ids = new ArrayList<>();
  /** Nodes on the other side of the current partition (empty: no partition). */
  private final Set<String> partitionSide = new HashSet<>();
  private final List<SimClient> clients = new ArrayList<>();
  private boolean faultsOn = true;

  // ---- checker state ----
  private final Map<Long, String> leaderOfTerm = new HashMap<>();
  private final Map<Long, Long> committedTerm = new HashMap<>();
  private long maxCommitted;
  private final Map<Long, LogEntry> appliedAt = new HashMap<>();
  /** State hash after each applied command, by index. */
  private final java.util.TreeMap<Long, Long> canonicalHash = new java.util.TreeMap<>();
  private final Map<String, LogEntry> entryAt = new HashMap<>();
  private final Map<String, Long> prevTermOf = new HashMap<>();
  private long maxCompletedIndex;
  /** (session, sequence) of every acknowledged command, with the index it was acknowledged at. */
  private final Map<String, Long> acknowledged = new HashMap<>();
  private final Set<Long> ackedOps = new HashSet<>();

  // ---- statistics ----
  int writesAcked;
  int readsServed;
  int crashes;
  int partitions;
  int elections;
  long messagesSent;
  int snapshotsTaken;
  int snapshotsInstalled;

  Simulation(Params params) {
    this.params = params;
    this.random = new SplittableRandom(params.seed());
    for (int i = 1; i <= params.nodes(); i++) {
      ids.add("n" + i);
      founders.add("n" + i);
    }
    if (params.membershipPerTick() > 0) {
      ids.add("n" + (params.nodes() + 1)); // spares that start empty and wait to be added
      ids.add("n" + (params.nodes() + 2));
    }
  }

  private final List<String> founders = new ArrayList<>();
  int membershipChanges;
  int transfers;

  // =====================================================================================
  // Nodes
  // =====================================================================================

  final class SimNode {
    final String id;
    HardState durableHardState = HardState.INITIAL;
    final List<LogEntry> durableLog = new ArrayList<>();
    final ArrayDeque<StorageWrite> writing = new ArrayDeque<>();
    RaftCore core;
    Applier applier;
    long appliedHash;
    Set<Long> appliedOps;
    boolean up;
    int incarnation;
    Role lastRole = Role.FOLLOWER;
    long lastRoleTerm;
    long leaderLastIndex;
    long leaderLastTerm;
    /** The log as registered with the Log Matching check, by index (compacted entries leave). */
    final java.util.TreeMap<Long, LogEntry> registered = new java.util.TreeMap<>();
    /** The latest durable snapshot (survives crashes), or null. */
    SimSnapshot durableSnapshot;
    /** A snapshot being written (lost in a crash), or null. */
    SimSnapshot taking;
    final Map<Long, SimClient.Attempt> reads = new HashMap<>();
    final Map<Long, SimClient.Attempt> forwarded = new HashMap<>();

    SimNode(String id) {
      this.id = id;
      if (founders.contains(id)) {
        durableLog.add(RaftCore.bootstrapEntry(Configuration.of(new TreeSet<>(founders))));
      }
    }

    void start() {
      CoreConfig cfg = new CoreConfig(id, 10, 3, params.preVote(), params.checkQuorum(),
          params.maxInflight(), 1 << 20, (long) params.entriesPerMessage() * 60, 500, 1 << 10);
      SimSnapshot snap = durableSnapshot;
      if (snap == null) {
        core = new RaftCore(cfg, new SplittableRandom(random.nextLong()), durableHardState,
            List.copyOf(durableLog));
      } else {
        // Like the node: keep the log after the snapshot if it continues the snapshot's last
        // entry; otherwise it is from another history (a crash before the reset): discard it.
        boolean continues = durableLog.isEmpty() || durableLog.get(0).index() == snap.index() + 1
            || durableLog.stream().anyMatch(e -> e.index() == snap.index() && e.term() == snap.term());
        if (continues) {
          durableLog.removeIf(e -> e.index() <= snap.index());
        } else {
          durableLog.clear();
        }
        core = new RaftCore(cfg, new SplittableRandom(random.nextLong()), durableHardState,
            snap.configuration(), snap.index(), snap.term(), List.copyOf(durableLog));
      }
      core.unsafeCommitEntriesOfEarlierTerms = unsafeCommit;
      core.unsafeSkipElectionRestriction = unsafeVote;
      appliedOps = new HashSet<>();
      appliedHash = 0;
      applier = new Applier((index, command) -> {
        long op = ByteBuffer.wrap(command).getLong();
        if (!appliedOps.add(op)) {
          throw new Violation("exactly-once: " + id + " applied op " + op + " twice (index "
              + index + ")");
        }
        appliedHash = appliedHash * 31 + op + index;
        Long h = canonicalHash.putIfAbsent(index, appliedHash);
        if (h != null && h != appliedHash) {
          throw new Violation("state machine safety: state after index " + index + " differs on "
              + id);
        }
        return ByteBuffer.allocate(8).putLong(index).array();
      }, Long.MAX_VALUE, 10_000, 16);
      if (snap != null) {
        restore(snap);
      }
      up = true;
      lastRole = Role.FOLLOWER;
      registered.clear();
      reads.clear();
      forwarded.clear();
      scheduleTick(this, 1 + random.nextInt(TICK));
    }

    /** Replaces the state machine and session table with a snapshot's. */
    void restore(SimSnapshot snap) {
      appliedOps = new HashSet<>(snap.ops());
      appliedHash = snap.hash();
      applier.restore(snap.index(), snap.sessions()); // runs the reads waiting for the index
      Long h = canonicalHash.get(snap.index());
      if (h != null && h != snap.hash()) {
        throw new Violation("state machine safety: snapshot at " + snap.index() + " restored on "
            + id + " differs from the applied state");
      }
    }

    /** Takes a snapshot of the applied state; it becomes durable a little later. */
    void maybeSnapshot() {
      long applied = applier.appliedIndex();
      if (params.snapshotEvery() == 0 || taking != null
          || applied - core.snapshotIndex() < params.snapshotEvery()) {
        return;
      }
      SimSnapshot snap = new SimSnapshot(applied, core.termAt(applied),
          core.configurationAt(applied), applier.snapshotSessions(), Set.copyOf(appliedOps),
          appliedHash);
      taking = snap;
      at(now + 1 + random.nextInt(20), this, () -> {
        taking = null;
        if (durableSnapshot != null && durableSnapshot.index() >= snap.index()) {
          return; // a newer one was installed meanwhile
        }
        durableSnapshot = snap;
        snapshotsTaken++;
        core.snapshotTaken(snap.index());
        long compactTo = Math.max(0, snap.index() - params.trailingEntries());
        core.compact(compactTo);
        durableLog.removeIf(e -> e.index() <= compactTo);
        drain(this);
      });
    }

    void crash() {
      up = false;
      taking = null;
      incarnation++;
      writing.clear(); // writes not yet durable are lost
      core = null;
      applier = null;
      reads.clear();
    }
  }

  private void scheduleTick(SimNode n, long delay) {
    at(now + delay, n, () -> {
      n.core.observeTime(now);
      n.core.tick();
      drain(n);
      scheduleTick(n, TICK);
    });
  }

  /** Runs action at time t if node n (when given) is still the same incarnation and up. */
  private void at(long t, SimNode n, Runnable action) {
    events.add(new Event(t, order++, n == null ? -1 : n.incarnation, n == null ? null : n.id, action));
  }

  /** Hands out and carries out everything the core asks for. */
  void drain(SimNode n) {
    while (n.up && n.core.hasReady()) {
      Ready r = n.core.ready();
      for (StorageWrite w : r.writes()) {
        n.writing.addLast(w);
        if (n.writing.size() == 1) {
          scheduleWriteCompletion(n);
        }
      }
      for (Message m : r.messages()) {
        send(m);
      }
      if (r.snapshot() != null) {
        if (n.durableSnapshot == null || n.durableSnapshot.index() != r.snapshot().index()) {
          throw new Violation(n.id + " installed snapshot " + r.snapshot() + " that is not durable"
              + " (durable: " + (n.durableSnapshot == null ? "none" : n.durableSnapshot.index() + "@"
              + n.durableSnapshot.term()) + ", commit " + n.core.commitIndex() + ")");
        }
        n.restore(n.durableSnapshot);
        snapshotsInstalled++;
      }
      if (!r.committed().isEmpty()) {
        checkCommitted(n, r.committed());
        n.applier.apply(r.committed());
      }
      for (ReadState rs : r.reads()) {
        SimClient.Attempt a = n.reads.remove(rs.readId());
        if (a != null) {
          n.applier.whenApplied(rs.readIndex(), () -> a.readServed(n.applier.appliedIndex(),
              n.appliedHash));
        }
      }
      for (Ready.Forwarded f : r.forwarded()) {
        SimClient.Attempt a = n.forwarded.remove(f.requestId());
        if (a == null) {
          continue;
        }
        if (f.result().appended()) {
          n.applier.track(f.result().index(), f.result().term(), a.completion());
        } else {
          a.failed();
        }
      }
      for (Long failed : r.failedReads()) {
        SimClient.Attempt a = n.reads.remove(failed);
        if (a != null) {
          a.failed();
        }
      }
    }
    if (n.up) {
      observeRole(n);
      n.maybeSnapshot();
    }
  }

  private void scheduleWriteCompletion(SimNode n) {
    at(now + 1 + random.nextInt(8), n, () -> {
      StorageWrite w = n.writing.pollFirst();
      if (w.resetTo() > 0) {
        n.durableLog.clear();
      }
      if (w.truncateFrom() > 0) {
        n.durableLog.removeIf(e -> e.index() >= w.truncateFrom());
      }
      n.durableLog.addAll(w.entries());
      if (w.hardState() != null) {
        n.durableHardState = w.hardState();
      }
      n.core.persisted(w.sequence());
      if (!n.writing.isEmpty()) {
        scheduleWriteCompletion(n);
      }
      drain(n);
    });
  }

  private void send(Message m) {
    messagesSent++;
    if (m instanceof Message.InstallSnapshot is) {
      sendSnapshot(is);
      return;
    }
    if (faultsOn && random.nextDouble() < params.loss()) {
      return;
    }
    int copies = faultsOn && random.nextDouble() < params.duplicate() ? 2 : 1;
    for (int i = 0; i < copies; i++) {
      long delay = 1 + random.nextInt(params.maxDelay());
      at(now + delay, null, () -> {
        SimNode to = nodes.get(m.to());
        if (to == null || !to.up || partitioned(m.from(), m.to())) {
          return;
        }
        to.core.step(m);
        drain(to);
      });
    }
  }

  /**
   * A leader's snapshot transfer, as the node's driver makes it: the data reaches the follower
   * (or is lost), the follower makes it durable before its core sees the InstallSnapshot, and
   * the leader's driver learns whether the transfer succeeded.
   */
  private void sendSnapshot(Message.InstallSnapshot is) {
    SimNode leader = nodes.get(is.from());
    SimSnapshot snap = leader.durableSnapshot;
    if (snap == null || snap.index() < is.index()) {
      throw new Violation(is.from() + " sends snapshot " + is.index() + " it does not hold");
    }
    Message.InstallSnapshot msg = new Message.InstallSnapshot(is.term(), is.from(), is.to(),
        snap.index(), snap.term(), snap.configuration());
    boolean lost = faultsOn && random.nextDouble() < params.loss() * 2;
    long delay = 5 + random.nextInt(params.maxDelay() * 3);
    at(now + delay, null, () -> {
      SimNode to = nodes.get(is.to());
      boolean delivered = !lost && to.up && !partitioned(is.from(), is.to());
      if (delivered) {
        if (snap.index() > to.core.commitIndex()
            && (to.durableSnapshot == null || to.durableSnapshot.index() < snap.index())) {
          to.durableSnapshot = snap;
        }
        to.core.step(msg);
        drain(to);
      }
      at(now + 1 + random.nextInt(params.maxDelay()), leader, () -> {
        leader.core.reportSnapshot(is.to(), delivered);
        drain(leader);
      });
    });
  }

  private boolean partitioned(String a, String b) {
    return !partitionSide.isEmpty() && partitionSide.contains(a) != partitionSide.contains(b);
  }

  // =====================================================================================
  // Clients
  // =====================================================================================

  final class SimClient {
    final int number;
    long session;
    long sequence;
    long nextOp;
    String leaderGuess;
    Attempt current;
    boolean stopped;

    SimClient(int number) {
      this.number = number;
    }

    /** One try of one operation at one node. */
    final class Attempt {
      final boolean read;
      final boolean openSession;
      final long op;
      final long seq;
      final long invokeTime;
      final long lowerBound;
      boolean done;

      Attempt(boolean read, boolean openSession, long op, long seq, long invokeTime, long lowerBound) {
        this.read = read;
        this.openSession = openSession;
        this.op = op;
        this.seq = seq;
        this.invokeTime = invokeTime;
        this.lowerBound = lowerBound;
      }

      Applier.Completion completion() {
        return new Applier.Completion() {
          @Override
          public void succeeded(long index, byte[] result) {
            writeAcked(index, result);
          }

          @Override
          public void failed(RaftError error) {
            if (error == RaftError.SESSION_EXPIRED || error == RaftError.STALE_SEQUENCE) {
              throw new Violation("client " + number + " got " + error + " for " + session + "#"
                  + seq);
            }
            Attempt.this.failed();
          }
        };
      }

      boolean isCurrent() {
        return current == this && !done;
      }

      void failed() {
        if (isCurrent()) {
          done = true;
          at(now + 5 + random.nextInt(20), null, () -> retry(this));
        }
      }

      void writeAcked(long index, byte[] result) {
        if (!isCurrent()) {
          return;
        }
        done = true;
        if (openSession) {
          session = Applier.sessionId(result);
        } else {
          long appliedAt = ByteBuffer.wrap(result).getLong();
          String key = session + "#" + seq;
          ackedOps.add(op);
          Long before = acknowledged.putIfAbsent(key, appliedAt);
          if (before != null && before != appliedAt) {
            throw new Violation("exactly-once: " + key + " acknowledged at " + before + " and "
                + appliedAt);
          }
          writesAcked++;
        }
        maxCompletedIndex = Math.max(maxCompletedIndex, index);
        at(now + random.nextInt(10), null, SimClient.this::next);
      }

      void readServed(long index, long hash) {
        if (!isCurrent()) {
          return;
        }
        done = true;
        // Linearizability: the read reflects every operation that completed before it started...
        if (index < lowerBound) {
          throw new Violation("stale read: client " + number + " read state at index " + index
              + " but an operation completed at index " + lowerBound + " before the read began");
        }
        // ... and a state that the cluster really had (State Machine Safety of the prefix).
        Map.Entry<Long, Long> floor = canonicalHash.floorEntry(index);
        long expected = floor == null ? 0 : floor.getValue();
        if (expected != hash) {
          throw new Violation("read returned state " + hash + " at index " + index
              + ", committed state is " + expected);
        }
        readsServed++;
        maxCompletedIndex = Math.max(maxCompletedIndex, index);
        at(now + random.nextInt(10), null, SimClient.this::next);
      }
    }

    void next() {
      if (stopped) {
        current = null;
        return;
      }
      if (session == 0) {
        start(new Attempt(false, true, 0, 0, now, maxCompletedIndex));
      } else if (random.nextInt(3) == 0) {
        start(new Attempt(true, false, 0, 0, now, maxCompletedIndex));
      } else {
        long op = ((long) number << 40) | nextOp++;
        start(new Attempt(false, false, op, ++sequence, now, maxCompletedIndex));
      }
    }

    void retry(Attempt a) {
      if (current != a) {
        return;
      }
      // Same operation, same sequence number: the session deduplicates it. A read's bound stays.
      start(new Attempt(a.read, a.openSession, a.op, a.seq, a.invokeTime, a.lowerBound));
    }

    void start(Attempt a) {
      current = a;
      SimNode n = pickNode();
      at(now + 200 + random.nextInt(100), null, () -> {
        if (a.isCurrent()) {
          a.done = true;
          retry(a);
        }
      });
      if (n == null) {
        a.failed();
        return;
      }
      if (a.read) {
        long readId = order++;
        if (!n.core.readIndex(readId)) {
          leaderGuess = n.core.leaderId();
          a.failed();
          return;
        }
        n.reads.put(readId, a);
        drain(n);
        return;
      }
      byte[] data = a.openSession ? null : ByteBuffer.allocate(8).putLong(a.op).array();
      EntryType type = a.openSession ? EntryType.SESSION_OPEN : EntryType.COMMAND;
      long s = a.openSession ? 0 : session;
      long q = a.openSession ? 0 : a.seq;
      if (n.core.role() != Role.LEADER) {
        // a follower forwards to the leader it knows
        long requestId = order++;
        if (!n.core.forward(requestId, type, s, q, data)) {
          leaderGuess = n.core.leaderId();
          a.failed();
          return;
        }
        n.forwarded.put(requestId, a);
        drain(n);
        return;
      }
      ProposeResult p = n.core.propose(type, s, q, data);
      if (!p.appended()) {
        leaderGuess = p.leaderHint();
        a.failed();
        return;
      }
      n.applier.track(p.index(), p.term(), a.completion());
      drain(n);
    }

    SimNode pickNode() {
      SimNode guess = leaderGuess == null ? null : nodes.get(leaderGuess);
      if (guess != null && guess.up && random.nextInt(4) != 0) {
        return guess;
      }
      List<SimNode> up = nodes.values().stream().filter(x -> x.up).toList();
      return up.isEmpty() ? null : up.get(random.nextInt(up.size()));
    }
  }

  // =====================================================================================
  // Faults
  // =====================================================================================

  private void scheduleFaults() {
    at(now + TICK, null, () -> {
      if (!faultsOn) {
        return;
      }
      if (random.nextDouble() < params.crashPerTick()) {
        // Leaders are the interesting victims: half the crashes hit one.
        List<SimNode> leaders = nodes.values().stream()
            .filter(x -> x.up && x.core.role() == Role.LEADER).toList();
        SimNode victim = !leaders.isEmpty() && random.nextBoolean()
            ? leaders.get(random.nextInt(leaders.size()))
            : nodes.get(ids.get(random.nextInt(ids.size())));
        if (victim.up) {
          crashes++;
          victim.crash();
          at(now + 50 + random.nextInt(600), null, () -> {
            if (!victim.up) {
              victim.start();
            }
          });
        }
      }
      if (random.nextDouble() < params.membershipPerTick()) {
        administer();
      }
      if (random.nextDouble() < params.partitionPerTick()) {
        partitionSide.clear();
        int size = 1 + random.nextInt(ids.size() - 1);
        List<String> shuffled = new ArrayList<>(ids);
        for (int i = shuffled.size() - 1; i > 0; i--) {
          java.util.Collections.swap(shuffled, i, random.nextInt(i + 1));
        }
        partitionSide.addAll(shuffled.subList(0, size));
        partitions++;
        at(now + 100 + random.nextInt(800), null, partitionSide::clear);
      }
      scheduleFaults();
    });
  }

  /** A random membership change or leadership transfer, asked of the current leader. */
  private void administer() {
    List<SimNode> leaders = nodes.values().stream()
        .filter(x -> x.up && x.core.role() == Role.LEADER).toList();
    if (leaders.isEmpty()) {
      return;
    }
    SimNode leader = leaders.get(random.nextInt(leaders.size()));
    Configuration conf = leader.core.configuration();
    Status status = leader.core.status();
    List<String> outsiders = ids.stream().filter(x -> !conf.isMember(x)).toList();
    List<String> caughtUp = conf.learners().stream().filter(l -> status.followers().containsKey(l)
        && status.followers().get(l).matchIndex() >= leader.core.commitIndex()).toList();
    MembershipChange change = null;
    int pick = random.nextInt(10);
    if (pick < 3 && !outsiders.isEmpty()) {
      change = new MembershipChange(MembershipChange.Kind.ADD_LEARNER,
          outsiders.get(random.nextInt(outsiders.size())), null);
    } else if (pick < 6 && !caughtUp.isEmpty()) {
      change = new MembershipChange(MembershipChange.Kind.PROMOTE,
          caughtUp.get(random.nextInt(caughtUp.size())), null);
    } else if (pick < 8 && conf.voters().size() > 2) {
      List<String> voters = new ArrayList<>(conf.voters());
      voters.addAll(conf.learners());
      change = new MembershipChange(MembershipChange.Kind.REMOVE,
          voters.get(random.nextInt(voters.size())), null);
    } else if (pick >= 8) {
      List<String> voters = new ArrayList<>(conf.voters());
      String target = voters.get(random.nextInt(voters.size()));
      if (leader.core.transferLeadership(target) == null) {
        transfers++;
      }
      drain(leader);
      return;
    }
    if (change != null && leader.core.changeMembership(change).appended()) {
      membershipChanges++;
    }
    drain(leader);
  }

  // =====================================================================================
  // The run
  // =====================================================================================

  /** Runs the simulation; throws {@link Violation} (or the core's own IllegalStateException). */
  Simulation run() {
    for (String id : ids) {
      SimNode n = new SimNode(id);
      nodes.put(id, n);
    }
    for (SimNode n : nodes.values()) {
      n.start();
    }
    for (int i = 0; i < params.clients(); i++) {
      SimClient c = new SimClient(i + 1);
      clients.add(c);
      at(now + random.nextInt(200), null, c::next);
    }
    scheduleFaults();
    runUntil(params.duration());
    // Faults stop: heal, restart everyone, and let the cluster settle.
    faultsOn = false;
    partitionSide.clear();
    for (SimNode n : nodes.values()) {
      if (!n.up) {
        n.start();
      }
    }
    runUntil(params.duration() + 1_500);
    // Operators shut removed servers down; members are those of the most advanced node's log.
    Configuration last = latestConfiguration();
    for (SimNode n : nodes.values()) {
      if (n.up && !last.isMember(n.id)) {
        n.crash();
      }
    }
    runUntil(params.duration() + 3_000);
    for (SimClient c : clients) {
      c.stopped = true;
    }
    runUntil(params.duration() + 6_000);
    finalChecks();
    return this;
  }

  private void runUntil(long end) {
    while (!events.isEmpty() && events.peek().time <= end) {
      Event e = events.poll();
      now = e.time;
      if (e.node != null) {
        SimNode n = nodes.get(e.node);
        if (!n.up || n.incarnation != e.incarnationOf) {
          continue;
        }
      }
      e.action.run();
      checkNodes();
    }
    now = end;
  }

  // =====================================================================================
  // The checker
  // =====================================================================================

  private void observeRole(SimNode n) {
    RaftCore c = n.core;
    if (c.role() == Role.LEADER && (n.lastRole != Role.LEADER || n.lastRoleTerm != c.currentTerm())) {
      // Election Safety: at most one leader per term.
      String other = leaderOfTerm.putIfAbsent(c.currentTerm(), n.id);
      if (other != null && !other.equals(n.id)) {
        throw new Violation("election safety: " + other + " and " + n.id + " both lead term "
            + c.currentTerm());
      }
      elections++;
      // Leader Completeness: the new leader holds every committed entry.
      for (long i = 1; i <= maxCommitted; i++) {
        Long term = committedTerm.get(i);
        if (term != null && i >= c.firstIndex() - 1 && c.termAt(i) != term) {
          throw new Violation("leader completeness: " + n.id + " leads term " + c.currentTerm()
              + " without committed entry " + i + "@" + term);
        }
      }
      n.leaderLastIndex = c.lastIndex();
      n.leaderLastTerm = c.termAt(c.lastIndex());
    }
    if (n.lastRole == Role.LEADER && (c.role() != Role.LEADER || n.lastRoleTerm != c.currentTerm())) {
      n.applier.failAll(RaftError.INDETERMINATE);
    }
    n.lastRole = c.role();
    n.lastRoleTerm = c.currentTerm();
  }

  private void checkNodes() {
    for (SimNode n : nodes.values()) {
      if (!n.up) {
        continue;
      }
      RaftCore c = n.core;
      if (c.role() == Role.LEADER && n.lastRole == Role.LEADER) {
        // Leader Append-Only: a leader never overwrites or deletes entries in its log.
        if (c.lastIndex() < n.leaderLastIndex || (n.leaderLastIndex >= c.firstIndex() - 1
            && c.termAt(n.leaderLastIndex) != n.leaderLastTerm)) {
          throw new Violation("leader append-only: " + n.id + " lost entry " + n.leaderLastIndex);
        }
        n.leaderLastIndex = c.lastIndex();
        n.leaderLastTerm = c.termAt(c.lastIndex());
      }
      checkLogMatching(n);
      // Committed entries never change.
      for (long i = Math.max(1, c.commitIndex() - 64); i <= c.commitIndex(); i++) {
        long term = c.termAt(i);
        if (term < 0) {
          continue; // compacted into a snapshot
        }
        Long before = committedTerm.putIfAbsent(i, term);
        if (before != null && before != term) {
          throw new Violation("committed entry " + i + " changed from term " + before + " to "
              + term + " on " + n.id);
        }
      }
      maxCommitted = Math.max(maxCommitted, c.commitIndex());
    }
  }

  /**
   * Log Matching, checked inductively: whenever two logs hold an entry with the same index and
   * term, the entries are identical and so are the terms just before them. By induction the whole
   * prefixes are identical. Each entry is registered once when it appears in a log.
   */
  private void checkLogMatching(SimNode n) {
    RaftCore c = n.core;
    java.util.TreeMap<Long, LogEntry> seen = n.registered;
    seen.headMap(c.firstIndex()).clear(); // compacted into a snapshot
    // drop registrations the log no longer holds (truncated or replaced), newest first
    while (!seen.isEmpty()) {
      LogEntry last = seen.lastEntry().getValue();
      if (last.equals(c.entryAt(last.index()))) {
        break;
      }
      seen.pollLastEntry();
    }
    for (long i = seen.isEmpty() ? c.firstIndex() : seen.lastKey() + 1; i <= c.lastIndex(); i++) {
      LogEntry e = c.entryAt(i);
      String key = e.index() + "@" + e.term();
      LogEntry other = entryAt.putIfAbsent(key, e);
      if (other != null && !other.equals(e)) {
        throw new Violation("log matching: two different entries " + key + " (" + n.id + ")");
      }
      long prevTerm = i == 1 ? 0 : c.termAt(i - 1);
      Long otherPrev = prevTermOf.putIfAbsent(key, prevTerm);
      if (otherPrev != null && otherPrev != prevTerm) {
        throw new Violation("log matching: entry " + key + " follows term " + otherPrev
            + " on one node and " + prevTerm + " on " + n.id);
      }
      seen.put(i, e);
    }
  }


  private void checkCommitted(SimNode n, List<LogEntry> committed) {
    for (LogEntry e : committed) {
      // State Machine Safety: no two nodes apply different entries at one index.
      LogEntry other = appliedAt.putIfAbsent(e.index(), e);
      if (other != null && !other.equals(e)) {
        throw new Violation("state machine safety: index " + e.index() + " applied as " + other
            + " and as " + e + " (" + n.id + ")");
      }
    }
  }

  private Configuration latestConfiguration() {
    SimNode best = null;
    for (SimNode n : nodes.values()) {
      if (n.up && (best == null || n.core.commitIndex() > best.core.commitIndex())) {
        best = n;
      }
    }
    return best.core.configuration();
  }

  private void finalChecks() {
    // Liveness after the faults stop: one leader, and every member applied the same log.
    List<SimNode> leaders = nodes.values().stream()
        .filter(n -> n.up && n.core.role() == Role.LEADER).toList();
    if (leaders.size() != 1) {
      throw new Violation("no single leader after the faults stopped: " + leaders.size());
    }
    long commit = leaders.get(0).core.commitIndex();
    Configuration members = leaders.get(0).core.configuration();
    for (SimNode n : nodes.values()) {
      if (!members.isMember(n.id)) {
        continue;
      }
      if (n.applier.appliedIndex() != commit) {
        throw new Violation(n.id + " applied " + n.applier.appliedIndex() + " of " + commit
            + " after the cluster settled");
      }
    }
    // Every acknowledged command was applied, on every node (at most once: the handler checks).
    for (long op : ackedOps) {
      for (SimNode n : nodes.values()) {
        if (members.isMember(n.id) && !n.appliedOps.contains(op)) {
          throw new Violation("acknowledged op " + op + " was not applied on " + n.id);
        }
      }
    }
  }

  String summary() {
    return "seed " + params.seed() + ": " + params.nodes() + " nodes, " + writesAcked
        + " writes acked, " + readsServed + " reads, " + elections + " elections, " + crashes
        + " crashes, " + partitions + " partitions, " + membershipChanges + " membership changes, "
        + transfers + " transfers, " + snapshotsTaken + " snapshots taken, " + snapshotsInstalled
        + " installed, " + messagesSent + " messages";
  }
}
