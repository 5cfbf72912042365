package dev.raftvertx.core;

import dev.raftvertx.core.Message.AppendEntriesRequest;
import dev.raftvertx.core.Message.AppendEntriesResponse;
import dev.raftvertx.core.Message.InstallSnapshot;
import dev.raftvertx.core.Message.ProposeRequest;
import dev.raftvertx.core.Message.ProposeResponse;
import dev.raftvertx.core.Message.ReadIndexRequest;
import dev.raftvertx.core.Message.ReadIndexResponse;
import dev.raftvertx.core.Message.TimeoutNow;
import dev.raftvertx.core.Message.VoteRequest;
import dev.raftvertx.core.Message.VoteResponse;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.random.RandomGenerator;

/**
 * The Raft protocol of one node as a deterministic state machine (§5, §8; pre-vote and
 * check-quorum from the thesis, §9.6 and §6.2).
 *
 * <p>Inputs: {@link #step(Message)} for RPCs from peers, {@link #tick()} for the logical clock,
 * {@link #propose} and {@link #readIndex(long)} for clients, {@link #persisted(long)} when a
 * {@link StorageWrite} became durable. Output: {@link #ready()}. Randomness comes only from the
 * injected generator, so a seeded generator makes a run repeatable.
 *
 * <p><b>Durability ordering.</b> Responses (votes, append acknowledgements) leave only after the
 * state they promise is durable: they are held until {@link #persisted(long)} covers the newest
 * write at the time they were made. A candidate's own vote is such a held message, so it counts
 * only once its term and vote are durable; a leader counts itself toward commitment only up to its
 * last durable index. A leader's AppendEntries promise nothing about its own disk and go out at
 * once, so its fsync runs in parallel with replication.
 *
 * <p><b>Threading:</b> not thread-safe; confine an instance to one thread.
 */
public final class RaftCore {

  private final CoreConfig config;
  private final String id;
  private final RandomGenerator random;

  // ---- persistent state (§5, Figure 2), durable through StorageWrite ----
  /** Latest term this node has seen. */
  private long currentTerm;
  /** Candidate voted for in currentTerm, or null. */
  private String votedFor;
  /** The log, including entries not yet durable. */
  private final RaftLog log;

  // ---- volatile state ----
  private Role role = Role.FOLLOWER;
  /** The leader of currentTerm as far as this node knows, or null. */
  private String leaderId;
  /** Highest index known committed (§5.3). */
  private long commitIndex;
  /** Highest index handed to the driver for applying. */
  private long handedOutIndex;
  /** Configurations found in the log, by index; the newest is in force (§6). */
  private final TreeMap<Long, Configuration> configsInLog = new TreeMap<>();
  /** The configuration in force before the first CONFIG entry in the log (empty, or a snapshot's). */
  private Configuration baseConfiguration;
  private Configuration configuration;

  // ---- snapshots (§7) ----
  /** Last index covered by the latest durable snapshot (0: none). */
  private long snapshotIndex;
  /** Term of the entry at {@link #snapshotIndex}. */
  private long snapshotTerm;
  /** The configuration in force at {@link #snapshotIndex}. */
  private Configuration snapshotConfiguration;
  /** A snapshot this follower installed since the last ready(), for the driver to restore. */
  private Ready.SnapshotRestore restoreOut;

  // ---- timers, in ticks ----
  private int electionElapsed;
  private int heartbeatElapsed;
  private int randomizedElectionTimeout;

  // ---- candidate state ----
  /** Votes (or pre-votes) received in the current campaign. */
  private final Map<String, Boolean> votes = new HashMap<>();

  // ---- leader state ----
  /** One entry per other member (voters of both halves and learners). */
  private final Map<String, Progress> progress = new LinkedHashMap<>();
  /** Followers that may need an AppendEntries at the next {@link #ready()}. */
  private final Set<String> needsAppend = new HashSet<>();
  /** Followers that should learn the new commit index even if there is nothing new to send. */
  private final Set<String> needsCommitUpdate = new HashSet<>();
  /**
   * Replicating followers that answered a heartbeat while behind: their in-flight AppendEntries may
   * all have been lost, so an empty AppendEntries at nextIndex - 1 checks that they hold what was
   * sent (a refusal puts them back into PROBE).
   */
  private final Set<String> needsTailCheck = new HashSet<>();

  // ---- leadership transfer (thesis §3.10) ----
  /** The node leadership is being transferred to, or null. */
  private String leadTransferee;
  /** Ticks since the transfer started; it aborts after an election timeout. */
  private int transferElapsed;

  // ---- ReadIndex (thesis §6.4) ----
  /** The latest heartbeat round started; every AppendEntries carries it. */
  private long round;
  /** The round whose reads are waiting for a quorum, or 0. */
  private long inflightRound;
  private List<PendingRead> inflightRoundReads = new ArrayList<>();
  /** Reads that wait for the next round. */
  private List<PendingRead> nextRoundReads = new ArrayList<>();
  /** Reads that arrived before this leader committed an entry of its term (index unset). */
  private final List<PendingRead> readsAwaitingTermCommit = new ArrayList<>();

  /** A read waiting on the leader: local (origin null) or forwarded by a follower. */
  private record PendingRead(String origin, long readId, long readIndex) {
    PendingRead at(long index) {
      return new PendingRead(origin, readId, index);
    }
  }

  // ---- durability tracking ----
  /** Highest index such that the log prefix up to it is durable as held in memory. */
  private long persistedIndex;
  /** Sequence number of the last write handed out. */
  private long writeSequence;
  /** The hard state in the last write handed out (or loaded). */
  private HardState writtenHardState;
  /** Pending (not yet handed out) write: the log is discarded and restarts here, or 0. */
  private long pendingResetTo;
  /** Pending (not yet handed out) write: truncation point, or 0. */
  private long pendingTruncateFrom;
  /** Pending (not yet handed out) write: entries to append. */
  private final List<LogEntry> pendingEntries = new ArrayList<>();
  /** Writes handed out but not yet reported durable, oldest first. */
  private final ArrayDeque<InflightWrite> inflightWrites = new ArrayDeque<>();
  /** Messages held until the write with the given sequence number is durable, in order. */
  private final ArrayDeque<HeldMessage> heldMessages = new ArrayDeque<>();

  /** How many forwarded proposals per sender {@link #answeredProposals} remembers. */
  static final int REMEMBERED_PROPOSALS = 1024;
  /**
   * The answers given to recent forwarded proposals, by sender and request id: a
   * {@link ProposeRequest} the network delivers twice is answered again, never appended twice
   * (a forwarded command without a session would otherwise be applied twice).
   */
  private final Map<String, Map<Long, ProposeResult>> answeredProposals = new HashMap<>();

  // ---- outputs, drained by ready() ----
  private final List<Message> outbox = new ArrayList<>();
  private final List<StorageWrite> writesOut = new ArrayList<>();
  private final List<ReadState> readsOut = new ArrayList<>();
  private final List<Long> failedReadsOut = new ArrayList<>();
  private final List<Ready.Forwarded> forwardedOut = new ArrayList<>();

  /**
   * Test hook for the simulator's self-check: when true the leader commits by counting replicas of
   * entries from earlier terms, the bug Figure 8 of the paper warns about. Never set outside tests.
   */
  boolean unsafeCommitEntriesOfEarlierTerms;

  /**
   * Test hook for the simulator's self-check: when true the node votes without the election
   * restriction of §5.4.1 (it ignores whether the candidate's log is up to date). Never set outside
   * tests.
   */
  boolean unsafeSkipElectionRestriction;

  private record InflightWrite(long sequence, long lastIndexAtCut, long cap) {
    InflightWrite withCap(long newCap) {
      return new InflightWrite(sequence, lastIndexAtCut, Math.min(cap, newCap));
    }
  }

  private record HeldMessage(long sequence, Message message) {
  }

  /**
   * Creates a core from durable state.
   *
   * @param config settings
   * @param random source of randomized election timeouts; seed it to repeat a run
   * @param hardState the durable term and vote
   * @param entries the durable log, contiguous from index 1 (a founding member's log starts with a
   *     {@link EntryType#CONFIG} entry, see {@link #bootstrapEntry(Configuration)}; a node waiting
   *     to join has an empty log)
   */
  public RaftCore(CoreConfig config, RandomGenerator random, HardState hardState,
      List<LogEntry> entries) {
    this(config, random, hardState, Configuration.of(Set.of()), 0, 0, entries);
  }

  /**
   * Creates a core from durable state whose log starts after a base: the last entry covered by a
   * snapshot, with the configuration in force at that entry.
   *
   * @param config settings
   * @param random source of randomized election timeouts
   * @param hardState the durable term and vote
   * @param baseConfiguration the configuration in force at baseIndex
   * @param baseIndex index of the last entry before {@code entries} (0 for none)
   * @param baseTerm term of that entry (0 for none)
   * @param entries the durable log, contiguous from baseIndex + 1
   */
  public RaftCore(CoreConfig config, RandomGenerator random, HardState hardState,
      Configuration baseConfiguration, long baseIndex, long baseTerm, List<LogEntry> entries) {
    this.config = Objects.requireNonNull(config, "config");
    this.id = config.nodeId();
    this.random = Objects.requireNonNull(random, "random");
    this.currentTerm = hardState.currentTerm();
    this.votedFor = hardState.votedFor();
    this.writtenHardState = hardState;
    this.log = new RaftLog(baseIndex, baseTerm, entries);
    this.persistedIndex = log.lastIndex();
    this.commitIndex = baseIndex;
    this.handedOutIndex = baseIndex;
    this.baseConfiguration = Objects.requireNonNull(baseConfiguration, "baseConfiguration");
    this.snapshotIndex = baseIndex;
    this.snapshotTerm = baseTerm;
    this.snapshotConfiguration = baseConfiguration;
    for (LogEntry e : entries) {
      if (e.type() == EntryType.CONFIG) {
        configsInLog.put(e.index(), Configuration.decode(e.data()));
      }
    }
    this.configuration = currentConfigurationFromLog();
    resetRandomizedElectionTimeout();
  }

  /**
   * @param configuration the founding members
   * @return the first log entry of every founding member (index 1, term 0): the initial
   *     configuration lives in the log, so flags cannot silently change membership later
   */
  public static LogEntry bootstrapEntry(Configuration configuration) {
    return new LogEntry(1, 0, EntryType.CONFIG, 0, 0, 0, configuration.encode());
  }

  // =====================================================================================
  // Inputs
  // =====================================================================================

  /** Advances the logical clock by one tick: election timeouts, heartbeats, check-quorum. */
  public void tick() {
    if (role == Role.LEADER) {
      tickLeader();
    } else {
      electionElapsed++;
      if (promotable() && electionElapsed >= randomizedElectionTimeout) {
        campaign();
      }
    }
  }

  private void tickLeader() {
    heartbeatElapsed++;
    electionElapsed++;
    if (leadTransferee != null && ++transferElapsed >= config.electionTicks()) {
      leadTransferee = null; // the target did not take over in time: serve again
    }
    if (electionElapsed >= config.electionTicks()) {
      electionElapsed = 0;
      if (config.checkQuorum()) {
        // Check-quorum (thesis §6.2): a leader that cannot reach a quorum steps down so that
        // clients find the real leader instead of waiting on this one.
        Set<String> active = new HashSet<>();
        active.add(id);
        for (Map.Entry<String, Progress> e : progress.entrySet()) {
          if (e.getValue().recentActive) {
            active.add(e.getKey());
          }
          e.getValue().recentActive = false;
        }
        if (!Quorum.isQuorum(configuration, active)) {
          becomeFollower(currentTerm, null);
          return;
        }
      }
    }
    if (heartbeatElapsed >= config.heartbeatTicks()) {
      heartbeatElapsed = 0;
      broadcastHeartbeat();
      checkReadRound();
    }
  }

  /**
   * Handles an RPC from a peer. Unknown senders and messages for other nodes are the transport's
   * business; the core trusts what it is given.
   *
   * @param m the message
   */
  public void step(Message m) {
    if (m instanceof Message.SnapshotChunk || m instanceof Message.SnapshotChunkResponse) {
      throw new IllegalArgumentException("snapshot chunks are the driver's business: " + m);
    }
    if (m instanceof ProposeRequest || m instanceof ProposeResponse
        || m instanceof ReadIndexRequest || m instanceof ReadIndexResponse) {
      stepClientMessage(m); // client traffic: carries no term promise
      return;
    }
    if (m.term() > currentTerm) {
      if (m instanceof VoteRequest vr) {
        // §6: a server that heard from a current leader within the minimum election timeout
        // ignores vote requests, so removed or partitioned servers cannot disrupt the cluster.
        // A transfer (TimeoutNow) election is allowed through.
        boolean inLease = config.checkQuorum() && leaderId != null
            && electionElapsed < config.electionTicks() && !vr.transfer();
        if (inLease) {
          return;
        }
      }
      boolean preVoteTraffic = (m instanceof VoteRequest vr && vr.preVote())
          || (m instanceof VoteResponse vs && vs.preVote() && vs.voteGranted());
      if (!preVoteTraffic) {
        // §5.1: a node that sees a higher term adopts it and becomes a follower.
        becomeFollower(m.term(),
            m instanceof AppendEntriesRequest || m instanceof InstallSnapshot ? m.from() : null);
      }
    } else if (m.term() < currentTerm) {
      if (m instanceof InstallSnapshot is) {
        // The snapshot is durable here already and holds only committed entries, so it is safe
        // to install whoever sent it; the answer carries our term, which deposes the sender.
        installSnapshot(is, false);
        return;
      }
      if (m instanceof AppendEntriesRequest) {
        // §5.1: reject a stale leader; our term in the reply makes it step down. This also lets a
        // node whose term ran ahead (check-quorum may make others ignore its votes) pull the
        // cluster up to its term and rejoin.
        long prev = m instanceof AppendEntriesRequest ae ? ae.prevLogIndex() : 0;
        sendAfterPersist(new AppendEntriesResponse(currentTerm, id, m.from(), false, 0, prev, 0, 0,
            0));
      } else if (m instanceof VoteRequest vr) {
        sendAfterPersist(new VoteResponse(currentTerm, id, m.from(), false, vr.preVote()));
      }
      return; // responses from older terms are stale
    }

    if (m instanceof VoteRequest vr) {
      handleVoteRequest(vr);
    } else if (m instanceof VoteResponse vs) {
      handleVoteResponse(vs);
    } else if (m instanceof AppendEntriesRequest ae) {
      if (role == Role.LEADER) {
        throw new IllegalStateException(id + ": two leaders in term " + currentTerm + ": "
            + ae.from() + " and " + id);
      }
      if (role != Role.FOLLOWER) {
        becomeFollower(ae.term(), ae.from()); // §5.2: a candidate recognizes the new leader
      }
      handleAppendEntries(ae);
    } else if (m instanceof InstallSnapshot is) {
      if (role == Role.LEADER) {
        throw new IllegalStateException(id + ": two leaders in term " + currentTerm + ": "
            + is.from() + " and " + id);
      }
      if (role != Role.FOLLOWER) {
        becomeFollower(is.term(), is.from());
      }
      installSnapshot(is, true);
    } else if (m instanceof AppendEntriesResponse ar) {
      if (role == Role.LEADER) {
        handleAppendResponse(ar);
      }
    } else if (m instanceof TimeoutNow) {
      // The leader hands over: campaign at once, without pre-vote (thesis §3.10).
      if (role != Role.LEADER && promotable()) {
        becomeCandidate(true);
      }
    }
  }

  /**
   * Appends a proposal to the leader's log.
   *
   * @param type the entry type ({@link EntryType#COMMAND} or {@link EntryType#SESSION_OPEN})
   * @param session exactly-once session id, or 0
   * @param sequence per-session sequence number, or 0
   * @param data payload
   * @return where the entry was appended, or why it was refused (then it will never be applied)
   */
  public ProposeResult propose(EntryType type, long session, long sequence, byte[] data) {
    if (role != Role.LEADER) {
      return ProposeResult.refused(ProposeResult.Status.NOT_LEADER, leaderId);
    }
    if (leadTransferee != null) {
      return ProposeResult.refused(ProposeResult.Status.TRANSFERRING, id);
    }
    if (data != null && data.length > config.maxEntryBytes()) {
      return ProposeResult.refused(ProposeResult.Status.TOO_LARGE, id);
    }
    if (log.lastIndex() - commitIndex >= config.maxUncommittedEntries()) {
      return ProposeResult.refused(ProposeResult.Status.OVERLOADED, id);
    }
    LogEntry entry = new LogEntry(log.lastIndex() + 1, currentTerm, type, session, sequence,
        lastTimestamp, data);
    appendLocal(entry);
    return ProposeResult.appended(entry.index(), entry.term());
  }

  /**
   * Proposes a membership change (§6). Changes to the voters go through a joint configuration
   * C_old,new; once it commits, the leader appends C_new by itself. One change at a time: refused
   * while any configuration entry sits above the commit index (one inherited from an earlier
   * leader included), while a joint configuration is in force, and until this leader has committed
   * an entry of its own term.
   *
   * @param change the change
   * @return where the configuration entry was appended, or why the change was refused
   */
  public ProposeResult changeMembership(MembershipChange change) {
    if (role != Role.LEADER) {
      return ProposeResult.refused(ProposeResult.Status.NOT_LEADER, leaderId);
    }
    if (leadTransferee != null) {
      return ProposeResult.refused(ProposeResult.Status.TRANSFERRING, id);
    }
    if (configIndex() > commitIndex || configuration.isJoint() || !committedInCurrentTerm()) {
      return ProposeResult.refused(ProposeResult.Status.CHANGE_IN_PROGRESS, id);
    }
    java.util.TreeSet<String> voters = new java.util.TreeSet<>(configuration.voters());
    java.util.TreeSet<String> learners = new java.util.TreeSet<>(configuration.learners());
    java.util.TreeMap<String, String> addresses = new java.util.TreeMap<>(configuration.addresses());
    String node = change.nodeId();
    boolean joint;
    switch (change.kind()) {
      case ADD_LEARNER -> {
        if (configuration.isMember(node)) {
          return ProposeResult.refused(ProposeResult.Status.INVALID_CHANGE, id);
        }
        learners.add(node);
        if (change.address() != null) {
          addresses.put(node, change.address());
        }
        joint = false;
      }
      case PROMOTE -> {
        if (!learners.remove(node)) {
          return ProposeResult.refused(ProposeResult.Status.INVALID_CHANGE, id);
        }
        voters.add(node);
        joint = true;
      }
      case REMOVE -> {
        if (learners.remove(node)) {
          joint = false;
        } else if (voters.contains(node) && voters.size() > 1) {
          voters.remove(node);
          joint = true;
        } else {
          return ProposeResult.refused(ProposeResult.Status.INVALID_CHANGE, id);
        }
        addresses.remove(node);
      }
      default -> throw new IllegalArgumentException(change.kind().name());
    }
    if (joint) {
      // addresses of outgoing voters stay until C_new, so they keep receiving the log
      configuration.voters().forEach(v -> addresses.putIfAbsent(v, configuration.addresses().get(v)));
      addresses.values().removeIf(Objects::isNull);
    }
    Configuration next = new Configuration(voters,
        joint ? new java.util.TreeSet<>(configuration.voters()) : new java.util.TreeSet<>(),
        learners, addresses);
    LogEntry entry = new LogEntry(log.lastIndex() + 1, currentTerm, EntryType.CONFIG, 0, 0,
        lastTimestamp, next.encode());
    appendLocal(entry);
    return ProposeResult.appended(entry.index(), entry.term());
  }

  /**
   * Starts a leadership transfer (thesis §3.10): the leader brings the target up to date, then
   * tells it to campaign at once (TimeoutNow). Meanwhile proposals are refused with
   * {@link ProposeResult.Status#TRANSFERRING}; the transfer aborts after an election timeout.
   *
   * @param target a voter other than this leader
   * @return null if the transfer started, else why not
   */
  public RaftError transferLeadership(String target) {
    if (role != Role.LEADER) {
      return RaftError.NOT_LEADER;
    }
    if (target.equals(id)) {
      return null; // already leads
    }
    Progress p = progress.get(target);
    if (p == null || !configuration.isVoter(target)) {
      return RaftError.INVALID_CHANGE;
    }
    leadTransferee = target;
    transferElapsed = 0;
    if (p.match == log.lastIndex()) {
      outbox.add(new TimeoutNow(currentTerm, id, target));
    } else {
      needsAppend.add(target);
    }
    return null;
  }

  /**
   * Tells the core that the driver made a snapshot durable that covers the log up to index (the
   * state machine as applied through index). A leader sends its latest snapshot to followers
   * whose next entry its log no longer holds. Then call {@link #compact} to free the entries.
   *
   * @param index the snapshot's last included index: handed out for applying, and still held by
   *     the log (or its base)
   * @throws IllegalArgumentException if index was not handed out or is no longer in the log
   */
  public void snapshotTaken(long index) {
    if (index <= snapshotIndex) {
      return;
    }
    if (index > handedOutIndex) {
      throw new IllegalArgumentException("a snapshot at " + index + " covers entries not yet"
          + " handed out for applying (up to " + handedOutIndex + ")");
    }
    long term = log.term(index);
    if (term < 0) {
      throw new IllegalArgumentException("a snapshot at " + index + " is outside the log ("
          + log.baseIndex() + ", " + log.lastIndex() + "]");
    }
    snapshotIndex = index;
    snapshotTerm = term;
    snapshotConfiguration = configurationAt(index);
  }

  /**
   * Drops the log entries up to index from memory (log compaction, §7); a durable snapshot must
   * cover them ({@link #snapshotTaken}). A driver may keep some entries below its latest snapshot
   * so that a follower that lags a little catches up from the log instead of a snapshot.
   *
   * @param index the last entry to drop: at most the latest snapshot's index
   */
  public void compact(long index) {
    if (index > snapshotIndex) {
      throw new IllegalArgumentException("cannot compact to " + index + ": the latest snapshot"
          + " covers entries up to " + snapshotIndex);
    }
    if (index <= log.baseIndex()) {
      return;
    }
    Configuration atIndex = configurationAt(index);
    log.compactTo(index);
    configsInLog.headMap(index, true).clear();
    baseConfiguration = atIndex;
  }

  /**
   * @param index a log index, at or above the log's base ({@link #firstIndex()} - 1)
   * @return the configuration in force at index (the newest configuration entry at or below it)
   */
  public Configuration configurationAt(long index) {
    Map.Entry<Long, Configuration> e = configsInLog.floorEntry(index);
    return e != null ? e.getValue() : baseConfiguration;
  }

  /** @return the last index covered by the latest snapshot this core knows of (0: none) */
  public long snapshotIndex() {
    return snapshotIndex;
  }

  /**
   * Reports how the transfer of a snapshot to a follower ended ({@link InstallSnapshot} handed
   * out by a leader). After a failure the leader tries again at the next heartbeat; after a
   * success it continues with the entries after the snapshot.
   *
   * @param peer the follower
   * @param ok true if the follower holds the snapshot durably
   */
  public void reportSnapshot(String peer, boolean ok) {
    Progress p = role == Role.LEADER ? progress.get(peer) : null;
    if (p == null || p.state != Progress.State.SNAPSHOT) {
      return;
    }
    long sent = p.pendingSnapshot;
    p.becomeProbe();
    if (ok) {
      p.next = Math.max(p.match, sent) + 1;
      needsAppend.add(peer);
    } else {
      p.probeSent = true; // retried at the next heartbeat
    }
  }

  /** @return the index of the entry holding the configuration in force */
  public long configurationIndex() {
    return configIndex();
  }

  /** @return true if the configuration in force is committed (no change is in flight) */
  public boolean configurationCommitted() {
    return configIndex() <= commitIndex;
  }

  /** @return the node a leadership transfer is under way to, or null */
  public String leadTransferee() {
    return leadTransferee;
  }

  /**
   * Asks for a linearizable read (ReadIndex, thesis §6.4). The read waits until this leader has
   * committed an entry of its term, then joins the next heartbeat round that starts after it
   * arrived; once a quorum acknowledged that round, {@link #ready()} hands out a {@link ReadState}
   * with the commit index seen on arrival. Many reads share one round.
   *
   * @param readId the driver's id for the read
   * @return false if this node is not the leader (nothing will be handed out for the id)
   */
  public boolean readIndex(long readId) {
    if (role != Role.LEADER) {
      if (leaderId == null || leaderId.equals(id)) {
        return false;
      }
      // Thesis §6.4: a follower asks the leader for the read index, then serves the read itself
      // once it has applied that far.
      outbox.add(new ReadIndexRequest(currentTerm, id, leaderId, readId));
      return true;
    }
    leaderRead(new PendingRead(null, readId, 0));
    return true;
  }

  private void leaderRead(PendingRead read) {
    if (!committedInCurrentTerm()) {
      readsAwaitingTermCommit.add(read);
      return;
    }
    nextRoundReads.add(read.at(commitIndex));
    if (inflightRound == 0) {
      startReadRound();
    }
  }

  /**
   * Forwards a proposal to the leader (§8: a follower redirects clients). The outcome comes back
   * in {@link Ready#forwarded()}; the driver then tracks the entry by (index, term) and completes
   * it when it applies that index itself.
   *
   * @param requestId the driver's id for the proposal
   * @param type the entry type
   * @param session exactly-once session, or 0
   * @param sequence per-session sequence number, or 0
   * @param data payload
   * @return false if this node is the leader or knows no leader (nothing was sent)
   */
  public boolean forward(long requestId, EntryType type, long session, long sequence, byte[] data) {
    if (role == Role.LEADER || leaderId == null || leaderId.equals(id)) {
      return false;
    }
    outbox.add(new ProposeRequest(currentTerm, id, leaderId, requestId, type, session, sequence,
        data));
    return true;
  }

  /**
   * The driver's clock in milliseconds, as last observed; stamped into new entries (the replicated
   * state's only notion of time, e.g. for session expiry). Never goes backwards.
   */
  private long lastTimestamp;

  /**
   * Tells the core the driver's wall-clock time, which leaders stamp into new entries. The core
   * keeps the maximum it has seen, so the stamps never go backwards.
   *
   * @param millis milliseconds since an epoch of the driver's choosing
   */
  public void observeTime(long millis) {
    lastTimestamp = Math.max(lastTimestamp, millis);
  }

  private void stepClientMessage(Message m) {
    if (m instanceof ProposeRequest pr) {
      Map<Long, ProposeResult> answered = answeredProposals.computeIfAbsent(pr.from(),
          from -> new LinkedHashMap<>(16, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, ProposeResult> eldest) {
              return size() > REMEMBERED_PROPOSALS;
            }
          });
      ProposeResult r = answered.get(pr.requestId());
      if (r == null) {
        r = propose(pr.type(), pr.session(), pr.sequence(), pr.data());
        answered.put(pr.requestId(), r);
      }
      outbox.add(new ProposeResponse(currentTerm, id, pr.from(), pr.requestId(), r.status(),
          r.index(), r.term(), leaderId));
    } else if (m instanceof ProposeResponse pr) {
      ProposeResult r = pr.status() == ProposeResult.Status.APPENDED
          ? ProposeResult.appended(pr.index(), pr.entryTerm())
          : ProposeResult.refused(pr.status(), pr.leaderHint());
      forwardedOut.add(new Ready.Forwarded(pr.requestId(), r));
    } else if (m instanceof ReadIndexRequest rr) {
      if (role == Role.LEADER) {
        leaderRead(new PendingRead(rr.from(), rr.requestId(), 0));
      } else {
        outbox.add(new ReadIndexResponse(currentTerm, id, rr.from(), rr.requestId(), false, 0));
      }
    } else if (m instanceof ReadIndexResponse rr) {
      if (rr.ok()) {
        readsOut.add(new ReadState(rr.requestId(), rr.readIndex()));
      } else {
        failedReadsOut.add(rr.requestId());
      }
    }
  }

  /**
   * Reports that every {@link StorageWrite} with a sequence number up to {@code sequence} is
   * durable. Releases the messages that waited for it.
   *
   * @param sequence the highest durable write
   */
  public void persisted(long sequence) {
    while (!inflightWrites.isEmpty() && inflightWrites.peekFirst().sequence() <= sequence) {
      InflightWrite w = inflightWrites.removeFirst();
      // entries up to the base are durable in a snapshot
      persistedIndex = Math.max(log.baseIndex(), Math.min(w.lastIndexAtCut(), w.cap()));
    }
    while (!heldMessages.isEmpty() && heldMessages.peekFirst().sequence() <= sequence) {
      Message m = heldMessages.removeFirst().message();
      if (m.to().equals(id)) {
        step(m); // our own vote, now durable
      } else {
        outbox.add(m);
      }
    }
    if (role == Role.LEADER) {
      maybeCommit();
    }
  }

  // =====================================================================================
  // Output
  // =====================================================================================

  /** @return true if {@link #ready()} would return something */
  public boolean hasReady() {
    return !outbox.isEmpty() || !writesOut.isEmpty() || hasPendingWrite()
        || handedOutIndex < commitIndex || !readsOut.isEmpty() || !failedReadsOut.isEmpty()
        || !forwardedOut.isEmpty() || restoreOut != null
        || (role == Role.LEADER && (!needsAppend.isEmpty() || !needsCommitUpdate.isEmpty()));
  }

  /**
   * Drains everything the driver must do now. Proposals and messages handled since the last call
   * are batched: one storage write, and at most a few AppendEntries per follower.
   *
   * @return the work to do
   */
  public Ready ready() {
    if (role == Role.LEADER) {
      flushAppends();
    }
    cutWrite();
    List<LogEntry> committed = List.of();
    if (handedOutIndex < commitIndex) {
      committed = log.slice(handedOutIndex + 1, Long.MAX_VALUE,
          (int) (commitIndex - handedOutIndex));
      handedOutIndex = commitIndex;
    }
    Ready r = new Ready(List.copyOf(outbox), List.copyOf(writesOut), committed,
        List.copyOf(readsOut), List.copyOf(failedReadsOut), List.copyOf(forwardedOut),
        restoreOut);
    restoreOut = null;
    forwardedOut.clear();
    outbox.clear();
    writesOut.clear();
    readsOut.clear();
    failedReadsOut.clear();
    return r;
  }

  // =====================================================================================
  // Queries
  // =====================================================================================

  /** @return a picture of this node's state */
  public Status status() {
    Map<String, Status.FollowerStatus> followers = new java.util.TreeMap<>();
    if (role == Role.LEADER) {
      for (Map.Entry<String, Progress> e : progress.entrySet()) {
        Progress p = e.getValue();
        followers.put(e.getKey(), new Status.FollowerStatus(p.match, p.next,
            p.state == Progress.State.REPLICATE));
      }
    }
    return new Status(id, role, currentTerm, votedFor, leaderId, commitIndex, log.lastIndex(),
        log.lastTerm(), persistedIndex, log.firstIndex(), configuration, followers);
  }

  /** @return this node's id */
  public String id() {
    return id;
  }

  /** @return the current role */
  public Role role() {
    return role;
  }

  /** @return the current term */
  public long currentTerm() {
    return currentTerm;
  }

  /** @return the known leader of the current term, or null */
  public String leaderId() {
    return leaderId;
  }

  /** @return the commit index */
  public long commitIndex() {
    return commitIndex;
  }

  /** @return the configuration in force */
  public Configuration configuration() {
    return configuration;
  }

  /**
   * @param index a log index
   * @return the term at index, or -1 if not held
   */
  public long termAt(long index) {
    return log.term(index);
  }

  /**
   * @param index a log index
   * @return the entry at index, or null if the log does not hold it
   */
  public LogEntry entryAt(long index) {
    return index >= log.firstIndex() && index <= log.lastIndex() ? log.entry(index) : null;
  }

  /** @return index of the last log entry */
  public long lastIndex() {
    return log.lastIndex();
  }

  /** @return index of the first entry held in the log (after the snapshot base) */
  public long firstIndex() {
    return log.firstIndex();
  }

  /** @return size of the entries held in the log, as counted by {@link LogEntry#sizeInBytes()} */
  public long logBytes() {
    return log.bytes();
  }

  /**
   * @param from first index
   * @return a copy of the log from that index on (for tests and status pages)
   */
  public List<LogEntry> entriesFrom(long from) {
    return log.entriesFrom(from);
  }

  // =====================================================================================
  // Roles (§5.2)
  // =====================================================================================

  private boolean promotable() {
    return configuration.isVoter(id);
  }

  private void campaign() {
    if (config.preVote()) {
      becomePreCandidate();
    } else {
      becomeCandidate(false);
    }
  }

  private void becomeFollower(long term, String leader) {
    if (term > currentTerm) {
      currentTerm = term;
      votedFor = null;
    }
    Role previous = role;
    role = Role.FOLLOWER;
    leaderId = leader;
    leadTransferee = null;
    resetTimers();
    if (previous == Role.LEADER) {
      progress.clear();
      needsAppend.clear();
      needsCommitUpdate.clear();
      needsTailCheck.clear();
    }
    failAllReads();
  }

  private void becomePreCandidate() {
    // Thesis §9.6: ask whether we could win before raising the term, so a node that was cut off
    // does not force the cluster into a new term when it comes back.
    role = Role.PRE_CANDIDATE;
    leaderId = null;
    votes.clear();
    resetTimers();
    votes.put(id, true);
    if (Quorum.voteResult(configuration, votes) == Quorum.VoteResult.WON) {
      becomeCandidate(false);
      return;
    }
    for (String peer : configuration.members()) {
      if (!peer.equals(id) && configuration.isVoter(peer)) {
        outbox.add(new VoteRequest(currentTerm + 1, id, peer, log.lastIndex(), log.lastTerm(),
            true, false));
      }
    }
  }

  private void becomeCandidate(boolean transfer) {
    currentTerm++;
    votedFor = id;
    role = Role.CANDIDATE;
    leaderId = null;
    votes.clear();
    resetTimers();
    // Our own vote counts only once term and vote are durable: it is a held message to ourselves.
    sendAfterPersist(new VoteResponse(currentTerm, id, id, true, false));
    for (String peer : configuration.members()) {
      if (!peer.equals(id) && configuration.isVoter(peer)) {
        // A vote request promises nothing about our state; it leaves at once (§5.2).
        outbox.add(new VoteRequest(currentTerm, id, peer, log.lastIndex(), log.lastTerm(),
            false, transfer));
      }
    }
  }

  private void becomeLeader() {
    role = Role.LEADER;
    leaderId = id;
    resetTimers();
    progress.clear();
    for (String peer : configuration.members()) {
      if (!peer.equals(id)) {
        Progress p = new Progress(log.lastIndex() + 1);
        p.recentActive = true;
        progress.put(peer, p);
      }
    }
    round = 0;
    inflightRound = 0;
    leadTransferee = null;
    // §8: a new leader commits a no-op of its term first; it also commits the earlier terms'
    // entries indirectly (§5.4.2) and lets ReadIndex reads start.
    appendLocal(new LogEntry(log.lastIndex() + 1, currentTerm, EntryType.NOOP, 0, 0, 0, null));
  }

  private void resetTimers() {
    electionElapsed = 0;
    heartbeatElapsed = 0;
    resetRandomizedElectionTimeout();
  }

  private void resetRandomizedElectionTimeout() {
    // §5.2: randomized timeouts in [T, 2T) make split votes rare.
    randomizedElectionTimeout = config.electionTicks() + random.nextInt(config.electionTicks());
  }

  // =====================================================================================
  // Elections (§5.2, §5.4.1)
  // =====================================================================================

  private void handleVoteRequest(VoteRequest m) {
    boolean upToDate = m.lastLogTerm() > log.lastTerm()
        || (m.lastLogTerm() == log.lastTerm() && m.lastLogIndex() >= log.lastIndex())
        || unsafeSkipElectionRestriction;
    boolean grant;
    if (m.preVote()) {
      // A pre-vote is granted when we would vote in that term and have not heard from a leader
      // within the minimum election timeout (thesis §9.6).
      boolean leaderRecent = leaderId != null && electionElapsed < config.electionTicks()
          && !m.transfer();
      grant = m.term() > currentTerm && upToDate && !leaderRecent;
      sendAfterPersist(new VoteResponse(grant ? m.term() : currentTerm, id, m.from(), grant, true));
      return;
    }
    // §5.2: at most one vote per term, first come first served; §5.4.1: only for an up-to-date log.
    boolean canVote = Objects.equals(votedFor, m.from()) || (votedFor == null && leaderId == null);
    grant = canVote && upToDate;
    if (grant) {
      votedFor = m.from();
      electionElapsed = 0;
    }
    sendAfterPersist(new VoteResponse(currentTerm, id, m.from(), grant, false));
  }

  private void handleVoteResponse(VoteResponse m) {
    if (m.preVote()) {
      if (role != Role.PRE_CANDIDATE || m.term() != currentTerm + 1 && m.voteGranted()) {
        return;
      }
    } else if (role != Role.CANDIDATE) {
      return;
    }
    votes.put(m.from(), m.voteGranted());
    switch (Quorum.voteResult(configuration, votes)) {
      case WON -> {
        if (role == Role.PRE_CANDIDATE) {
          becomeCandidate(false);
        } else {
          becomeLeader();
        }
      }
      case LOST -> becomeFollower(currentTerm, null);
      default -> { }
    }
  }

  // =====================================================================================
  // Replication: follower side (§5.3)
  // =====================================================================================

  private void handleAppendEntries(AppendEntriesRequest m) {
    leaderId = m.from();
    electionElapsed = 0;
    // Below the base our log holds no terms, but every entry up to the commit index is committed,
    // so the leader of this term holds it too (§5.4): those entries match.
    if (m.prevLogIndex() < log.baseIndex() || log.matchTerm(m.prevLogIndex(), m.prevLogTerm())) {
      long lastNew = m.prevLogIndex() + m.entries().size();
      // §5.3: delete a conflicting entry and all that follow; entries that already match are kept,
      // so a reordered or duplicated request never truncates anything.
      long conflict = log.findConflict(m.entries());
      if (conflict != 0) {
        if (conflict <= commitIndex) {
          throw new IllegalStateException(id + ": entry " + conflict + " conflicts with committed "
              + "log (commit " + commitIndex + ")");
        }
        if (conflict <= log.lastIndex()) {
          truncateLocal(conflict);
        }
        for (LogEntry e : m.entries()) {
          if (e.index() >= conflict) {
            appendLocal(e);
          }
        }
      }
      // Commit only what this request verified: entries past lastNew may still be a stale leader's.
      long newCommit = Math.min(m.leaderCommit(), lastNew);
      if (newCommit > commitIndex) {
        commitIndex = newCommit;
      }
      // Our committed prefix (durable once this answer leaves) is the leader's too.
      sendAfterPersist(new AppendEntriesResponse(currentTerm, id, m.from(), true,
          Math.max(lastNew, commitIndex), 0, 0, 0, m.round()));
    } else {
      long conflictTerm;
      long conflictIndex;
      if (m.prevLogIndex() > log.lastIndex()) {
        conflictTerm = 0;
        conflictIndex = log.lastIndex() + 1;
      } else {
        conflictTerm = log.term(m.prevLogIndex());
        conflictIndex = log.firstIndexOfTermAt(m.prevLogIndex());
      }
      sendAfterPersist(new AppendEntriesResponse(currentTerm, id, m.from(), false, 0,
          m.prevLogIndex(), conflictTerm, conflictIndex, m.round()));
    }
  }

  /**
   * §7: the driver made a leader's snapshot durable here (the current leader's, or, when our term
   * moved on during the transfer, an earlier one's). A snapshot the commit index already covers
   * changes nothing; otherwise the log keeps the entries after the snapshot if it holds
   * the snapshot's last entry, else it is discarded, and the state machine is restored from it.
   */
  private void installSnapshot(InstallSnapshot m, boolean fromLeader) {
    if (fromLeader) {
      leaderId = m.from();
      electionElapsed = 0;
    }
    if (m.index() <= commitIndex) {
      sendAfterPersist(new AppendEntriesResponse(currentTerm, id, m.from(), true, commitIndex, 0, 0,
          0, 0));
      return;
    }
    if (log.matchTerm(m.index(), m.snapshotTerm())) {
      log.compactTo(m.index());
      configsInLog.headMap(m.index(), true).clear();
    } else {
      log.resetTo(m.index(), m.snapshotTerm());
      configsInLog.clear();
      pendingEntries.clear();
      pendingTruncateFrom = 0;
      pendingResetTo = m.index() + 1;
      if (!inflightWrites.isEmpty()) {
        List<InflightWrite> capped = new ArrayList<>(inflightWrites.size());
        for (InflightWrite w : inflightWrites) {
          capped.add(w.withCap(m.index()));
        }
        inflightWrites.clear();
        inflightWrites.addAll(capped);
      }
    }
    baseConfiguration = m.configuration();
    persistedIndex = Math.max(persistedIndex, m.index());
    commitIndex = m.index();
    handedOutIndex = m.index();
    snapshotIndex = m.index();
    snapshotTerm = m.snapshotTerm();
    snapshotConfiguration = m.configuration();
    setConfiguration(currentConfigurationFromLog());
    restoreOut = new Ready.SnapshotRestore(m.index(), m.snapshotTerm());
    sendAfterPersist(new AppendEntriesResponse(currentTerm, id, m.from(), true, m.index(), 0, 0, 0,
        0));
  }

  // =====================================================================================
  // Replication: leader side (§5.3, §5.4.2)
  // =====================================================================================

  private void handleAppendResponse(AppendEntriesResponse m) {
    Progress p = progress.get(m.from());
    if (p == null) {
      return;
    }
    p.recentActive = true;
    if (m.round() > p.ackedRound) {
      p.ackedRound = m.round();
      checkReadRound();
    }
    if (p.state == Progress.State.SNAPSHOT) {
      // Waiting for a snapshot transfer; an answer that shows the follower past the snapshot
      // (it installed it, or it had committed that far) ends the wait.
      if (m.success() && p.maybeUpdate(m.matchIndex())) {
        if (p.match >= p.pendingSnapshot) {
          p.becomeReplicate();
          needsAppend.add(m.from());
        }
        maybeCommit();
      }
      return;
    }
    if (m.success()) {
      boolean wasProbe = p.state == Progress.State.PROBE;
      if (p.maybeUpdate(m.matchIndex())) {
        if (wasProbe) {
          p.becomeReplicate();
        } else {
          p.freeInflightTo(p.match);
        }
        maybeCommit();
        if (role != Role.LEADER) {
          return; // stepped down (removed by the configuration just committed)
        }
        needsAppend.add(m.from());
        if (m.from().equals(leadTransferee) && p.match == log.lastIndex()) {
          outbox.add(new TimeoutNow(currentTerm, id, m.from()));
        }
      } else if (wasProbe) {
        return; // the probe is retried at the next heartbeat
      } else if (p.match < log.lastIndex()) {
        // Answers or requests may have been lost: check the follower's tail, and let one more
        // message out if the window is full, so replication cannot stall.
        if (p.inflightFull(config.maxInflightMessages(), config.maxInflightBytes())) {
          p.freeFirstInflight();
        }
        needsTailCheck.add(m.from());
        needsAppend.add(m.from());
      }
      return;
    }
    if (m.matchIndex() == 0 && m.rejectedIndex() == 0 && m.conflictIndex() == 0) {
      return; // a term rejection from an older exchange; nothing to learn
    }
    if (p.state == Progress.State.REPLICATE && m.rejectedIndex() <= p.match) {
      if (m.rejectedIndex() == p.match && m.conflictIndex() <= p.match) {
        // The follower no longer holds what it acknowledged (its data was wiped): probe from
        // where its log ends, so that it learns the log (and a wiped node under its old id, the
        // configuration that makes it refuse to serve). Commitment is not affected: match only
        // ever counts toward future commits, and a later success raises it again.
        p.becomeProbe();
        p.next = Math.max(1, m.conflictIndex());
        needsAppend.add(m.from());
      }
      return; // otherwise stale
    }
    if (p.state == Progress.State.PROBE && m.rejectedIndex() != p.next - 1) {
      return; // stale
    }
    // Fast backtracking: skip the follower's whole conflicting term in one round trip.
    long hint;
    if (m.conflictTerm() > 0) {
      long lastOfTerm = log.lastIndexOfTerm(m.conflictTerm(), m.rejectedIndex());
      hint = lastOfTerm >= 0 ? lastOfTerm + 1 : m.conflictIndex();
    } else {
      hint = m.conflictIndex();
    }
    p.next = Math.max(p.match + 1, Math.min(m.rejectedIndex(), hint));
    p.becomeProbe();
    needsAppend.add(m.from());
  }

  private void maybeCommit() {
    Map<String, Long> match = new HashMap<>();
    for (Map.Entry<String, Progress> e : progress.entrySet()) {
      match.put(e.getKey(), e.getValue().match);
    }
    // The leader counts itself only up to what it has made durable.
    match.put(id, persistedIndex);
    long quorumIndex = Quorum.committedIndex(configuration, match);
    if (quorumIndex <= commitIndex || quorumIndex > log.lastIndex()) {
      return;
    }
    // §5.4.2 (Figure 8): only entries of the current term are committed by counting replicas;
    // earlier ones commit indirectly with them.
    if (log.term(quorumIndex) != currentTerm && !unsafeCommitEntriesOfEarlierTerms) {
      return;
    }
    boolean firstInTerm = !committedInCurrentTerm();
    commitIndex = quorumIndex;
    needsCommitUpdate.addAll(progress.keySet());
    if (configIndex() <= commitIndex) {
      if (configuration.isJoint()) {
        // §6: once C_old,new is committed the leader appends C_new (also a new leader that
        // inherited a committed joint configuration).
        Configuration joint = configuration;
        java.util.TreeMap<String, String> addresses = new java.util.TreeMap<>(joint.addresses());
        addresses.keySet().removeIf(n -> !joint.voters().contains(n) && !joint.learners().contains(n));
        Configuration next = new Configuration(joint.voters(), new java.util.TreeSet<>(),
            joint.learners(), addresses);
        appendLocal(new LogEntry(log.lastIndex() + 1, currentTerm, EntryType.CONFIG, 0, 0,
            lastTimestamp, next.encode()));
      } else if (!configuration.isVoter(id)) {
        // §6: a leader that is not part of C_new steps down once C_new is committed.
        becomeFollower(currentTerm, null);
        return;
      }
    }
    if (firstInTerm && committedInCurrentTerm()) {
      for (PendingRead r : readsAwaitingTermCommit) {
        nextRoundReads.add(r.at(commitIndex));
      }
      readsAwaitingTermCommit.clear();
      if (!nextRoundReads.isEmpty() && inflightRound == 0) {
        startReadRound();
      }
    }
  }

  private boolean committedInCurrentTerm() {
    return log.term(commitIndex) == currentTerm;
  }

  private void broadcastHeartbeat() {
    for (Map.Entry<String, Progress> e : progress.entrySet()) {
      Progress p = e.getValue();
      sendHeartbeat(e.getKey(), p);
      needsCommitUpdate.remove(e.getKey());
      if (p.state == Progress.State.PROBE && p.probeSent) {
        // the probe or its answer may be lost: retry once per heartbeat interval
        p.probeSent = false;
        needsAppend.add(e.getKey());
      }
    }
  }

  /**
   * A heartbeat is an empty AppendEntries anchored at the follower's match index, which it is
   * known to hold durably, so it always succeeds and tells the follower the commit index.
   */
  private void sendHeartbeat(String peer, Progress p) {
    // below the base (compacted) the anchor is the base, which the follower holds if it is that
    // far, or below whose commit index it is
    long anchor = Math.max(p.match, log.baseIndex());
    outbox.add(new AppendEntriesRequest(currentTerm, id, peer, anchor, log.term(anchor),
        List.of(), commitIndex, round));
  }

  /** Generates AppendEntries for followers that may need them; called from ready(). */
  private void flushAppends() {
    for (Map.Entry<String, Progress> e : progress.entrySet()) {
      String peer = e.getKey();
      boolean sent = false;
      if (needsAppend.contains(peer)) {
        sent = sendAppends(peer, e.getValue());
      }
      Progress p = e.getValue();
      if (!sent && needsTailCheck.contains(peer) && p.state == Progress.State.REPLICATE
          && p.next - 1 >= log.baseIndex()) {
        outbox.add(new AppendEntriesRequest(currentTerm, id, peer, p.next - 1, log.term(p.next - 1),
            List.of(), commitIndex, round));
      } else if (!sent && needsCommitUpdate.contains(peer)) {
        sendHeartbeat(peer, p);
      }
    }
    needsAppend.clear();
    needsCommitUpdate.clear();
    needsTailCheck.clear();
  }

  private boolean sendAppends(String peer, Progress p) {
    boolean sent = false;
    if (p.state == Progress.State.SNAPSHOT) {
      return false;
    }
    if (p.next - 1 < log.baseIndex()) {
      return sendSnapshot(peer, p);
    }
    if (p.state == Progress.State.PROBE) {
      if (p.probeSent) {
        return false;
      }
      List<LogEntry> entries = log.slice(p.next, config.maxMessageBytes(), Integer.MAX_VALUE);
      outbox.add(new AppendEntriesRequest(currentTerm, id, peer, p.next - 1, log.term(p.next - 1),
          entries, commitIndex, round));
      p.probeSent = true;
      return true;
    }
    while (p.next <= log.lastIndex()
        && !p.inflightFull(config.maxInflightMessages(), config.maxInflightBytes())) {
      if (p.next - 1 < log.baseIndex()) {
        return sendSnapshot(peer, p) || sent;
      }
      List<LogEntry> entries = log.slice(p.next, config.maxMessageBytes(), Integer.MAX_VALUE);
      long bytes = 0;
      for (LogEntry le : entries) {
        bytes += le.sizeInBytes();
      }
      long prev = p.next - 1;
      outbox.add(new AppendEntriesRequest(currentTerm, id, peer, prev, log.term(prev), entries,
          commitIndex, round));
      p.next = entries.get(entries.size() - 1).index() + 1;
      p.addInflight(p.next - 1, bytes);
      sent = true;
    }
    return sent;
  }

  /** §7: the follower needs entries the log no longer holds; the driver sends the snapshot. */
  private boolean sendSnapshot(String peer, Progress p) {
    if (snapshotIndex < log.baseIndex() || snapshotIndex == 0) {
      throw new IllegalStateException(id + ": the log starts after " + log.baseIndex()
          + " but the latest snapshot covers only " + snapshotIndex);
    }
    p.becomeSnapshot(snapshotIndex);
    outbox.add(new InstallSnapshot(currentTerm, id, peer, snapshotIndex, snapshotTerm,
        snapshotConfiguration));
    return true;
  }

  // =====================================================================================
  // ReadIndex (thesis §6.4)
  // =====================================================================================

  private void startReadRound() {
    round++;
    inflightRound = round;
    inflightRoundReads = nextRoundReads;
    nextRoundReads = new ArrayList<>();
    broadcastHeartbeat();
    checkReadRound();
  }

  private void checkReadRound() {
    if (inflightRound == 0) {
      return;
    }
    Set<String> acked = new HashSet<>();
    acked.add(id);
    for (Map.Entry<String, Progress> e : progress.entrySet()) {
      if (e.getValue().ackedRound >= inflightRound) {
        acked.add(e.getKey());
      }
    }
    if (!Quorum.isQuorum(configuration, acked)) {
      return;
    }
    for (PendingRead r : inflightRoundReads) {
      if (r.origin() == null) {
        readsOut.add(new ReadState(r.readId(), r.readIndex()));
      } else {
        outbox.add(new ReadIndexResponse(currentTerm, id, r.origin(), r.readId(), true,
            r.readIndex()));
      }
    }
    inflightRoundReads = new ArrayList<>();
    inflightRound = 0;
    if (!nextRoundReads.isEmpty()) {
      startReadRound();
    }
  }

  private void failAllReads() {
    List<PendingRead> all = new ArrayList<>(inflightRoundReads);
    all.addAll(nextRoundReads);
    all.addAll(readsAwaitingTermCommit);
    for (PendingRead r : all) {
      if (r.origin() == null) {
        failedReadsOut.add(r.readId());
      } else {
        outbox.add(new ReadIndexResponse(currentTerm, id, r.origin(), r.readId(), false, 0));
      }
    }
    inflightRoundReads = new ArrayList<>();
    nextRoundReads = new ArrayList<>();
    readsAwaitingTermCommit.clear();
    inflightRound = 0;
  }

  // =====================================================================================
  // Local log and durability
  // =====================================================================================

  private void appendLocal(LogEntry e) {
    log.append(e);
    pendingEntries.add(e);
    if (e.type() == EntryType.CONFIG) {
      configsInLog.put(e.index(), Configuration.decode(e.data()));
      setConfiguration(currentConfigurationFromLog());
    }
    if (role == Role.LEADER) {
      // The leader's own match advances in persisted(), once the entry is durable.
      needsAppend.addAll(progress.keySet());
    }
  }

  private void truncateLocal(long from) {
    log.truncateFrom(from);
    persistedIndex = Math.min(persistedIndex, from - 1);
    if (!inflightWrites.isEmpty()) {
      List<InflightWrite> capped = new ArrayList<>(inflightWrites.size());
      for (InflightWrite w : inflightWrites) {
        capped.add(w.withCap(from - 1));
      }
      inflightWrites.clear();
      inflightWrites.addAll(capped);
    }
    pendingEntries.removeIf(e -> e.index() >= from);
    pendingTruncateFrom = pendingTruncateFrom == 0 ? from : Math.min(pendingTruncateFrom, from);
    // §6: a configuration entry that is truncated away rolls the node back to the previous one.
    if (!configsInLog.tailMap(from, true).isEmpty()) {
      configsInLog.tailMap(from, true).clear();
      setConfiguration(currentConfigurationFromLog());
    }
  }

  /** Index of the configuration in force (the newest CONFIG entry, or the base). */
  private long configIndex() {
    return configsInLog.isEmpty() ? log.baseIndex() : configsInLog.lastKey();
  }

  /** Every node acts on the newest configuration in its log, committed or not (§6). */
  private void setConfiguration(Configuration next) {
    configuration = next;
    if (role != Role.LEADER) {
      return;
    }
    for (String member : next.members()) {
      if (!member.equals(id) && !progress.containsKey(member)) {
        Progress p = new Progress(log.lastIndex() + 1);
        p.recentActive = true;
        progress.put(member, p);
        needsAppend.add(member);
      }
    }
    progress.keySet().removeIf(member -> !next.isMember(member));
    if (leadTransferee != null && !next.isVoter(leadTransferee)) {
      leadTransferee = null;
    }
    checkReadRound(); // the acks of the round in flight may form a quorum of the new voters
  }

  private Configuration currentConfigurationFromLog() {
    return configsInLog.isEmpty() ? baseConfiguration : configsInLog.lastEntry().getValue();
  }

  private boolean hardStateChanged() {
    return writtenHardState.currentTerm() != currentTerm
        || !Objects.equals(writtenHardState.votedFor(), votedFor);
  }

  private boolean hasPendingWrite() {
    return pendingResetTo != 0 || pendingTruncateFrom != 0 || !pendingEntries.isEmpty()
        || hardStateChanged();
  }

  /** Turns the pending changes into a StorageWrite. */
  private void cutWrite() {
    if (!hasPendingWrite()) {
      return;
    }
    HardState hs = null;
    if (hardStateChanged()) {
      hs = new HardState(currentTerm, votedFor);
      writtenHardState = hs;
    }
    long sequence = ++writeSequence;
    writesOut.add(new StorageWrite(sequence, pendingTruncateFrom, pendingEntries, hs,
        pendingResetTo));
    inflightWrites.addLast(new InflightWrite(sequence, log.lastIndex(), Long.MAX_VALUE));
    pendingEntries.clear();
    pendingTruncateFrom = 0;
    pendingResetTo = 0;
  }

  /**
   * Sends m once everything written so far is durable: at once if nothing is pending or in flight.
   */
  private void sendAfterPersist(Message m) {
    if (hasPendingWrite()) {
      heldMessages.addLast(new HeldMessage(writeSequence + 1, m));
    } else if (!inflightWrites.isEmpty()) {
      heldMessages.addLast(new HeldMessage(inflightWrites.peekLast().sequence(), m));
    } else if (m.to().equals(id)) {
      step(m);
    } else {
      outbox.add(m);
    }
  }
}
