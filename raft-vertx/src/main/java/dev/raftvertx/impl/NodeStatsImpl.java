package dev.raftvertx.impl;

import dev.raftvertx.NodeStats;
import dev.raftvertx.core.Role;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The node's {@link NodeStats}: written by the node on its context, read from any thread. Counters
 * are {@link LongAdder}s and gauges volatile fields, so recording allocates nothing. Distributions
 * (latencies, batch sizes) are not kept here: they go to the attached {@link Observer}s, which
 * {@link dev.raftvertx.metrics.RaftMetrics} uses to feed Micrometer timers and summaries.
 */
public final class NodeStatsImpl implements NodeStats {

  /**
   * Receives the samples that make distributions, on the node's context. Must not block and
   * should not allocate.
   */
  public interface Observer {
    /** @param nanos latency of a committed proposal */
    void proposalCommitted(long nanos);

    /**
     * @param nanos time until a storage write was durable
     * @param entries entries in that write
     */
    void storageWrite(long nanos, int entries);

    /** @param entries entries carried by a non-empty AppendEntries that was sent */
    void appendEntriesSent(int entries);

    /** @param nanos duration of a snapshot */
    void snapshot(long nanos);

    /** @param peer a member this node learnt of (it gets a replication-lag gauge) */
    void peerSeen(String peer);

    /** The node stopped: its meters should go. */
    void nodeStopped();
  }

  private static final Observer[] NO_OBSERVERS = new Observer[0];

  private volatile long term;
  private volatile Role role = Role.FOLLOWER;
  private volatile long commitIndex;
  private volatile long appliedIndex;
  private volatile long lastIndex;
  private volatile long logEntries;
  private volatile long logBytes;

  private final LongAdder proposalsCommitted = new LongAdder();
  private final LongAdder proposalsFailed = new LongAdder();
  private final LongAdder proposalLatencyNanos = new LongAdder();
  private final LongAdder storageWrites = new LongAdder();
  private final LongAdder storageWriteNanos = new LongAdder();
  private final LongAdder storageWriteEntries = new LongAdder();
  private final LongAdder appendEntriesSent = new LongAdder();
  private final LongAdder appendEntriesRejected = new LongAdder();
  private final LongAdder electionsStarted = new LongAdder();
  private final LongAdder electionsWon = new LongAdder();
  private final LongAdder snapshots = new LongAdder();
  private final LongAdder snapshotNanos = new LongAdder();

  /** Each known peer's lag, -1 while unknown (this node not leading). */
  private final Map<String, AtomicLong> lag = new ConcurrentHashMap<>();
  private volatile Observer[] observers = NO_OBSERVERS;

  /** Term of the last election counted as started, so a rewrite of the same vote is not recounted. */
  private long lastCandidateTerm = -1;
  /** Term of the last election counted as won. */
  private long lastWonTerm = -1;

  // ---- recording, on the node's context ----

  void gauges(Role role, long term, long commitIndex, long appliedIndex, long lastIndex,
      long logEntries, long logBytes) {
    this.role = role;
    this.term = term;
    this.commitIndex = commitIndex;
    this.appliedIndex = appliedIndex;
    this.lastIndex = lastIndex;
    this.logEntries = logEntries;
    this.logBytes = logBytes;
  }

  void proposalCommitted(long nanos) {
    proposalsCommitted.increment();
    proposalLatencyNanos.add(nanos);
    Observer[] os = observers;
    for (Observer o : os) {
      o.proposalCommitted(nanos);
    }
  }

  void proposalFailed() {
    proposalsFailed.increment();
  }

  void storageWrite(long nanos, int entries) {
    storageWrites.increment();
    storageWriteNanos.add(nanos);
    storageWriteEntries.add(entries);
    Observer[] os = observers;
    for (Observer o : os) {
      o.storageWrite(nanos, entries);
    }
  }

  void appendEntriesSent(int entries) {
    appendEntriesSent.increment();
    if (entries > 0) {
      Observer[] os = observers;
      for (Observer o : os) {
        o.appendEntriesSent(entries);
      }
    }
  }

  void appendEntryRejected() {
    appendEntriesRejected.increment();
  }

  /** A candidate's durable vote for itself in a new term: one election started. */
  void candidateVotePersisted(long term) {
    if (term > lastCandidateTerm) {
      lastCandidateTerm = term;
      electionsStarted.increment();
    }
  }

  /** The node leads in this term: one election won (counted once per term). */
  void leading(long term) {
    if (term > lastWonTerm) {
      lastWonTerm = term;
      electionsWon.increment();
    }
  }

  /**
   * Records a snapshot. Called by the snapshot code path.
   *
   * @param nanos how long it took
   */
  public void snapshotTaken(long nanos) {
    snapshots.increment();
    snapshotNanos.add(nanos);
    Observer[] os = observers;
    for (Observer o : os) {
      o.snapshot(nanos);
    }
  }

  /**
   * @param peer a member other than this node
   * @param value its lag, or -1 if unknown
   */
  void lag(String peer, long value) {
    AtomicLong cell = lag.get(peer);
    if (cell == null) {
      cell = new AtomicLong(value);
      lag.put(peer, cell);
      Observer[] os = observers;
      for (Observer o : os) {
        o.peerSeen(peer);
      }
    }
    cell.set(value);
  }

  /** Tells the observers that the node stopped. */
  void stopped() {
    Observer[] os = observers;
    for (Observer o : os) {
      o.nodeStopped();
    }
  }

  /** Marks every peer's lag unknown (this node stopped leading). */
  void clearLag() {
    for (AtomicLong cell : lag.values()) {
      cell.set(-1);
    }
  }

  // ---- observers ----

  /**
   * Attaches an observer; it is told at once of the peers already known.
   *
   * @param observer the observer
   */
  public synchronized void addObserver(Observer observer) {
    Observer[] os = java.util.Arrays.copyOf(observers, observers.length + 1);
    os[os.length - 1] = observer;
    observers = os;
    for (String peer : lag.keySet()) {
      observer.peerSeen(peer);
    }
  }

  /** @param observer an observer to detach */
  public synchronized void removeObserver(Observer observer) {
    observers = java.util.Arrays.stream(observers).filter(o -> o != observer)
        .toArray(Observer[]::new);
  }

  /** @return the peers with a replication-lag value */
  public Set<String> peers() {
    return Set.copyOf(lag.keySet());
  }

  // ---- NodeStats ----

  @Override
  public long term() {
    return term;
  }

  @Override
  public String role() {
    return role.display();
  }

  @Override
  public long commitIndex() {
    return commitIndex;
  }

  @Override
  public long appliedIndex() {
    return appliedIndex;
  }

  @Override
  public long lastIndex() {
    return lastIndex;
  }

  @Override
  public long logEntries() {
    return logEntries;
  }

  @Override
  public long logBytes() {
    return logBytes;
  }

  @Override
  public long proposalsCommitted() {
    return proposalsCommitted.sum();
  }

  @Override
  public long proposalsFailed() {
    return proposalsFailed.sum();
  }

  @Override
  public long proposalLatencyNanos() {
    return proposalLatencyNanos.sum();
  }

  @Override
  public long storageWrites() {
    return storageWrites.sum();
  }

  @Override
  public long storageWriteNanos() {
    return storageWriteNanos.sum();
  }

  @Override
  public long storageWriteEntries() {
    return storageWriteEntries.sum();
  }

  @Override
  public long appendEntriesSent() {
    return appendEntriesSent.sum();
  }

  @Override
  public long appendEntriesRejected() {
    return appendEntriesRejected.sum();
  }

  @Override
  public long electionsStarted() {
    return electionsStarted.sum();
  }

  @Override
  public long electionsWon() {
    return electionsWon.sum();
  }

  @Override
  public long snapshots() {
    return snapshots.sum();
  }

  @Override
  public long snapshotNanos() {
    return snapshotNanos.sum();
  }

  @Override
  public long replicationLag(String peer) {
    AtomicLong cell = lag.get(peer);
    return cell == null ? -1 : cell.get();
  }
}
