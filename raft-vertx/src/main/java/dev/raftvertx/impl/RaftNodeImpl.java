package dev.raftvertx.impl;

import dev.raftvertx.Committed;
import dev.raftvertx.LogEntryInfo;
import dev.raftvertx.NodeStats;
import dev.raftvertx.NodeStatus;
import dev.raftvertx.RaftEvent;
import dev.raftvertx.RaftException;
import dev.raftvertx.RaftNode;
import dev.raftvertx.RaftOptions;
import dev.raftvertx.StateMachine;
import dev.raftvertx.core.Applier;
import dev.raftvertx.core.Configuration;
import dev.raftvertx.core.CoreConfig;
import dev.raftvertx.core.EntryType;
import dev.raftvertx.core.HardState;
import dev.raftvertx.core.LogEntry;
import dev.raftvertx.core.MembershipChange;
import dev.raftvertx.core.Message;
import dev.raftvertx.core.ProposeResult;
import dev.raftvertx.core.RaftCore;
import dev.raftvertx.core.RaftError;
import dev.raftvertx.core.ReadState;
import dev.raftvertx.core.Ready;
import dev.raftvertx.core.Role;
import dev.raftvertx.core.Status;
import dev.raftvertx.core.StorageWrite;
import dev.raftvertx.impl.storage.FileRaftStorage;
import dev.raftvertx.impl.storage.FileSnapshotStore;
import dev.raftvertx.impl.storage.VertxStorageFileSystem;
import dev.raftvertx.impl.transport.AbstractTransport;
import dev.raftvertx.impl.transport.EventBusTransport;
import dev.raftvertx.impl.transport.TcpBridgeOptions;
import dev.raftvertx.impl.transport.TcpBridgeTransport;
import dev.raftvertx.impl.transport.TransportMetrics;
import dev.raftvertx.spi.RaftStorage;
import dev.raftvertx.spi.SnapshotMeta;
import dev.raftvertx.spi.SnapshotStore;
import dev.raftvertx.spi.SnapshotWriter;
import dev.raftvertx.spi.StoredState;
import dev.raftvertx.spi.Transport;
import dev.raftvertx.spi.TransportFaults;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import dev.raftvertx.metrics.RaftMetrics;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Vert.x node: one verticle, hence one event-loop context, owning one {@link RaftCore}. It
 * turns wall time into ticks, hands the core's writes to storage (pipelined; the storage groups
 * fsyncs), sends its messages, applies committed entries through the {@link Applier}, and
 * completes the users' Futures. Every core call happens on the node's context.
 */
public final class RaftNodeImpl extends VerticleBase implements RaftNode {

  private static final System.Logger log = System.getLogger(RaftNodeImpl.class.getName());

  /** Nodes deployed per Vert.x instance, to refuse a second deployment of one node. */
  private static final Set<String> DEPLOYED = ConcurrentHashMap.newKeySet();

  private final RaftOptions options;
  private final StateMachine stateMachine;
  private RaftStorage storage;
  private SnapshotStore snapshots;
  private SnapshotTransfers transfers;
  private Transport transport;
  private String registryKey;

  private RaftCore core;
  private Applier applier;
  private long timerId = -1;
  private boolean drainScheduled;
  private boolean stopped;
  /** Why the node halted (storage failure, state machine failure), or null. */
  private volatile String haltReason;

  /**
   * Ids of forwarded proposals and reads. They start from the clock so that a restarted node does
   * not reuse the ids of its previous run, which the leader remembers to answer a duplicated
   * proposal again rather than append it twice.
   */
  private long nextRequestId = System.currentTimeMillis() << 20;
  private final Map<Long, PendingRead> reads = new HashMap<>();
  private final Map<Long, Applier.Completion> forwarded = new HashMap<>();
  /** Deadlines of requests, oldest first: a request not answered by then fails with TIMEOUT. */
  private final ArrayDeque<Deadline> deadlines = new ArrayDeque<>();

  private Role lastRole = Role.FOLLOWER;
  private long lastTerm = -1;
  private String lastLeader;
  /**
   * Least time between two "commit" events: each one is a JSON message on the event bus, so one
   * per tick cost the leader a tenth of its CPU under load; watchers (the web UI) batch anyway.
   */
  static final long COMMIT_EVENT_INTERVAL_MILLIS = 100;
  private long lastPublishedCommit = -1;
  private long lastCommitEventMillis;
  private Handler<RaftEvent> eventHandler;
  private String eventsAddress;

  /** Ticks between two samples of the followers' replication lag (metrics). */
  private static final int LAG_SAMPLE_TICKS = 10;
  /** Counters and gauges for metrics and status pages, readable from any thread. */
  private final NodeStatsImpl stats = new NodeStatsImpl();
  private int ticksSinceLagSample;

  private record PendingRead(Buffer query, Promise<Buffer> promise) {
  }

  private record Deadline(long atMillis, Promise<?> promise) {
  }

  /**
   * A membership change or transfer waiting for its outcome: {@code step} runs on every drain and
   * tick (it may act, e.g. promote a learner once caught up) and returns true when done.
   */
  private record Watch(java.util.function.BooleanSupplier step, Promise<Void> promise,
      long deadline) {
  }

  private final List<Watch> watches = new java.util.ArrayList<>();

  // ---- snapshots (§7) ----
  /** Committed entries and snapshot restores, applied in order; a restore pauses the rest. */
  private final ArrayDeque<Object> applyQueue = new ArrayDeque<>();
  /** A state machine restore is under way. */
  private boolean restoring;
  /** A snapshot of the state machine is being written. */
  private boolean snapshotting;
  /** False once the state machine said it does not support snapshots. */
  private boolean snapshotsSupported = true;
  /** Applied index below which no new snapshot is tried (after a failed one). */
  private long nextSnapshotAttempt;
  /**
   * Started with {@code join} on an empty data directory: until it learns the configuration, the
   * node checks that the cluster does not already count it as a voter (a wiped node under its
   * old id would vote with a forgotten log).
   */
  private boolean joiningEmpty;
  private Configuration lastConfiguration;

  private RaftNodeImpl(RaftOptions options, StateMachine stateMachine, RaftStorage storage,
      Transport transport) {
    this.options = new RaftOptions(options);
    this.stateMachine = stateMachine;
    this.storage = storage;
    this.transport = transport;
  }

  /**
   * Deploys a node; see {@link RaftNode#deploy(Vertx, RaftOptions, StateMachine, RaftStorage,
   * Transport)}.
   */
  public static Future<RaftNode> deploy(Vertx vertx, RaftOptions options, StateMachine sm,
      RaftStorage storage, Transport transport) {
    try {
      options.validate();
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    RaftNodeImpl node = new RaftNodeImpl(options, sm, storage, transport);
    return vertx.deployVerticle(node).map(id -> node);
  }

  // =====================================================================================
  // Lifecycle
  // =====================================================================================

  @Override
  public Future<?> start() {
    registryKey = System.identityHashCode(vertx) + "/" + options.getClusterId() + "/"
        + options.getNodeId();
    if (!DEPLOYED.add(registryKey)) {
      return Future.failedFuture(new IllegalStateException("node " + options.getNodeId()
          + " of cluster " + options.getClusterId() + " is already deployed in this Vert.x"
          + " instance; deploy one instance per node"));
    }
    if (storage == null) {
      storage = new FileRaftStorage(vertx, Path.of(options.getDataDir()),
          options.getMaxSegmentBytes(), new VertxStorageFileSystem(vertx));
    }
    if (transport == null) {
      transport = options.getTransport() == RaftOptions.TransportKind.TCP
          ? new TcpBridgeTransport(vertx, options.getClusterId(), options.getNodeId(),
              options.getPeers(), TcpBridgeOptions.defaults().withTls(options.getTls()))
          : new EventBusTransport(vertx, options.getClusterId(), options.getNodeId());
    }
    if (snapshots == null) {
      snapshots = new FileSnapshotStore(vertx,
          Path.of(options.getDataDir()).resolve(FileSnapshotStore.DIRECTORY));
    }
    if (options.isMetricsEnabled()) { // after the transport, whose counters it exports
      try {
        RaftMetrics.bindToVertxRegistry(this, options.getMetricsRegistryName());
      } catch (RuntimeException | LinkageError e) {
        DEPLOYED.remove(registryKey);
        return Future.failedFuture(e instanceof RuntimeException ? e
            : new IllegalStateException("metrics are enabled but Micrometer is not on the class"
                + " path", e));
      }
    }
    eventsAddress = "raft." + options.getClusterId() + "." + options.getNodeId() + ".events";
    return storage.open(options.getClusterId(), options.getNodeId())
        .compose(state -> snapshots.load().compose(meta -> recover(state, meta)))
        .compose(v -> {
          transfers = new SnapshotTransfers(transferHost(), snapshots,
              options.getSnapshotChunkBytes(), Math.max(1_000, 2 * options.getElectionTimeoutMillis()),
              System::currentTimeMillis);
          transport.receiver(this::onMessage);
          if (transport instanceof AbstractTransport t) { // senders: members, else (joining) peers
            t.allowSenders(id -> core.configuration().isMember(id)
                || core.configuration().members().isEmpty() && options.getPeers().containsKey(id));
          }
          return transport.start();
        })
        .onSuccess(v -> {
          // A periodic timer fires on a duplicate of the verticle's context; hop onto the
          // context itself so that every storage write leaves from one place, in order.
          timerId = vertx.setPeriodic(options.getTickMillis(),
              id -> context.runOnContext(tick -> onTick()));
          log.log(System.Logger.Level.INFO, "node " + options.getNodeId() + " started: term " + core.currentTerm()
              + ", " + core.lastIndex() + " entries, members " + core.configuration().members());
        })
        .onFailure(e -> {
          stats.stopped();
          DEPLOYED.remove(registryKey);
          if (storage != null) {
            storage.close();
          }
          if (snapshots != null) {
            snapshots.close();
          }
        });
  }

  /**
   * Builds the core and the state machine from the latest snapshot (if any) and the log after it
   * (§7). The log continues the snapshot if it holds the snapshot's last entry or starts right
   * after it; a log that ends before the snapshot, or holds another entry at its index (a crash
   * between installing a leader's snapshot and resetting the log), is discarded.
   */
  private Future<Void> recover(StoredState state, SnapshotMeta meta) {
    applier = new Applier(this::applyCommand, options.getSessionTimeoutMillis(),
        options.getMaxSessions(), options.getSessionResponseWindow());
    if (meta == null) {
      joiningEmpty = options.isJoin() && state.entries().isEmpty()
          && state.hardState().currentTerm() == 0;
      return bootstrapIfNew(state).map(s -> {
        core = new RaftCore(coreConfig(), new SplittableRandom(new SecureRandom().nextLong()),
            s.hardState(), s.entries());
        return null;
      });
    }
    long index = meta.index();
    List<LogEntry> entries = state.entries();
    long first = state.firstIndex();
    long last = first + entries.size() - 1;
    Future<Void> reconciled;
    List<LogEntry> kept;
    if (first > index + 1) {
      return Future.failedFuture(new dev.raftvertx.spi.StorageException("the log of node "
          + options.getNodeId() + " starts at index " + first + " but its latest snapshot ends"
          + " at " + index + ": entries are missing. Wipe the data directory and rejoin the"
          + " cluster as a new member under a new id."));
    } else if (first == index + 1
        || (last >= index && entries.get((int) (index - first)).term() == meta.term())) {
      kept = entries.stream().filter(e -> e.index() > index).toList();
      reconciled = Future.succeededFuture();
    } else {
      kept = List.of();
      reconciled = storage.reset(index + 1);
    }
    return reconciled.compose(v -> {
      core = new RaftCore(coreConfig(), new SplittableRandom(new SecureRandom().nextLong()),
          state.hardState(), meta.configuration(), index, meta.term(), kept);
      return restoreStateMachine(meta);
    }).onSuccess(v -> log.log(System.Logger.Level.INFO, "node " + options.getNodeId()
        + " restored snapshot " + index + " (" + meta.size() + " bytes) and " + kept.size()
        + " log entries after it"));
  }

  /** Replaces the state machine and the session table with a durable snapshot's. */
  private Future<Void> restoreStateMachine(SnapshotMeta meta) {
    return snapshots.open(meta).compose(reader -> {
      Future<Void> restored;
      try {
        restored = stateMachine.restore(reader);
      } catch (RuntimeException e) {
        restored = Future.failedFuture(e);
      }
      return restored.onFailure(e -> reader.close());
    }).map(v -> {
      applier.restore(meta.index(), meta.sessions());
      return null;
    });
  }

  private SnapshotTransfers.Node transferHost() {
    return new SnapshotTransfers.Node() {
      @Override
      public String id() {
        return options.getNodeId();
      }

      @Override
      public long currentTerm() {
        return core.currentTerm();
      }

      @Override
      public long commitIndex() {
        return core.commitIndex();
      }

      @Override
      public void send(Message m) {
        transport.send(m.to(), m);
      }

      @Override
      public void install(Message.InstallSnapshot m) {
        if (active()) {
          core.step(m);
          scheduleDrain();
        }
      }

      @Override
      public void report(String peer, boolean ok) {
        if (active()) {
          core.reportSnapshot(peer, ok);
          scheduleDrain();
        }
      }
    };
  }

  /**
   * A founding member's log starts with the configuration built from the peers; afterwards the
   * membership comes from the log and the peers option only supplies addresses.
   */
  private Future<StoredState> bootstrapIfNew(StoredState state) {
    if (!state.entries().isEmpty() || state.hardState().currentTerm() != 0 || options.isJoin()) {
      return Future.succeededFuture(state); // a joining node waits for the leader's log
    }
    LogEntry first = RaftCore.bootstrapEntry(Configuration.of(new TreeMap<>(options.getPeers())));
    return storage.write(new StorageWrite(0, 0, List.of(first), null))
        .map(v -> new StoredState(state.clusterId(), state.nodeId(), HardState.INITIAL,
            List.of(first)));
  }

  private CoreConfig coreConfig() {
    int electionTicks = (int) Math.max(2, options.getElectionTimeoutMillis() / options.getTickMillis());
    int heartbeatTicks = (int) Math.max(1, options.getHeartbeatIntervalMillis() / options.getTickMillis());
    return new CoreConfig(options.getNodeId(), electionTicks, Math.min(heartbeatTicks, electionTicks - 1),
        options.isPreVote(), options.isCheckQuorum(), options.getMaxInflightAppends(),
        options.getMaxInflightBytes(), options.getMaxAppendBytes(),
        options.getMaxUncommittedEntries(), options.getMaxEntryBytes());
  }

  @Override
  public Future<?> stop() {
    stopped = true;
    if (timerId >= 0) {
      vertx.cancelTimer(timerId);
    }
    if (applier != null) {
      applier.failAll(RaftError.INDETERMINATE);
      applier.clearWaitingReads();
    }
    failOutstanding(RaftError.STOPPED);
    DEPLOYED.remove(registryKey);
    stats.stopped();
    if (transfers != null) {
      transfers.close();
    }
    Future<Void> t = transport == null ? Future.succeededFuture() : transport.close();
    return t.eventually(() -> storage == null ? Future.succeededFuture() : storage.close())
        .eventually(() -> snapshots == null ? Future.succeededFuture() : snapshots.close())
        .onComplete(ar -> log.log(System.Logger.Level.INFO, "node " + options.getNodeId() + " stopped"));
  }

  @Override
  public Future<Void> close() {
    String id = deploymentID();
    return id == null ? Future.succeededFuture() : vertx.undeploy(id);
  }

  private void failOutstanding(RaftError error) {
    for (PendingRead r : reads.values()) {
      r.promise().tryFail(RaftException.of(error, null));
    }
    reads.clear();
    List<Applier.Completion> fs = List.copyOf(forwarded.values());
    forwarded.clear();
    for (Applier.Completion c : fs) {
      c.failed(error == RaftError.STOPPED ? RaftError.INDETERMINATE : error);
    }
    for (Deadline d : deadlines) {
      d.promise().tryFail(RaftException.of(error, null));
    }
    deadlines.clear();
    for (Watch w : watches) {
      w.promise().tryFail(RaftException.of(error, null));
    }
    watches.clear();
  }

  /** Stops taking part: nothing more is acknowledged, voted, applied or served. */
  private void halt(String reason, Throwable cause) {
    if (haltReason != null) {
      return;
    }
    haltReason = reason + ": " + cause;
    log.log(System.Logger.Level.ERROR, "node " + options.getNodeId() + " halted: " + haltReason,
        cause);
    if (timerId >= 0) {
      vertx.cancelTimer(timerId);
      timerId = -1;
    }
    applier.failAll(RaftError.INDETERMINATE);
    applier.clearWaitingReads();
    failOutstanding(RaftError.STOPPED);
    if (transfers != null) {
      transfers.close();
    }
    if (core != null) {
      // The gauges stop refreshing now; leave them saying follower, as status() does.
      long last = core.lastIndex();
      stats.gauges(Role.FOLLOWER, core.currentTerm(), core.commitIndex(), applier.appliedIndex(),
          last, last - core.firstIndex() + 1, core.logBytes());
    }
  }

  private boolean active() {
    return !stopped && haltReason == null && core != null;
  }

  /** The refusal of work while not active: STOPPED, naming the reason if the node halted. */
  private RaftException refused() {
    String reason = haltReason;
    return reason == null ? RaftException.of(RaftError.STOPPED, null)
        : new RaftException(RaftError.STOPPED, null, "the node halted and takes no more work ("
            + reason + "); the command was not applied");
  }

  // =====================================================================================
  // Inputs
  // =====================================================================================

  private void onTick() {
    if (!active()) {
      return;
    }
    long now = System.currentTimeMillis();
    core.observeTime(now);
    core.tick();
    transfers.tick();
    while (!deadlines.isEmpty() && (deadlines.peekFirst().atMillis() <= now
        || deadlines.peekFirst().promise().future().isComplete())) {
      Promise<?> p = deadlines.pollFirst().promise();
      if (!p.future().isComplete()) { // an exception only for what times out: they are costly
        p.tryFail(RaftException.of(RaftError.TIMEOUT, core.leaderId()));
      }
    }
    drain();
    sampleStats();
    if (core.commitIndex() != lastPublishedCommit
        && now - lastCommitEventMillis >= COMMIT_EVENT_INTERVAL_MILLIS) {
      lastPublishedCommit = core.commitIndex();
      lastCommitEventMillis = now;
      emit("commit");
    }
  }

  private void onMessage(Message m) {
    if (!active()) {
      return;
    }
    if (m instanceof Message.AppendEntriesResponse r && !r.success()) {
      stats.appendEntryRejected();
    }
    // the snapshot store is used on the node's context itself (not a duplicate of it)
    if (m instanceof Message.SnapshotChunk c) {
      onContext(v -> {
        if (active()) {
          transfers.onChunk(c);
        }
      });
      return;
    }
    if (m instanceof Message.SnapshotChunkResponse r) {
      onContext(v -> {
        if (active()) {
          transfers.onResponse(r);
        }
      });
      return;
    }
    if (m instanceof Message.InstallSnapshot) {
      return; // only ever stepped by the transfer, once the snapshot is durable here
    }
    core.step(m);
    scheduleDrain();
  }

  /** Runs action on the node's context (at once if already there). */
  private void onContext(Handler<Void> action) {
    if (Vertx.currentContext() == context) {
      action.handle(null);
    } else {
      context.runOnContext(action);
    }
  }

  /**
   * Drains at the end of the current event-loop turn, so that proposals and messages handled in
   * the same turn share one write, one fsync and one AppendEntries per follower.
   */
  private void scheduleDrain() {
    if (!drainScheduled) {
      drainScheduled = true;
      context.runOnContext(v -> {
        drainScheduled = false;
        drain();
      });
    }
  }

  // =====================================================================================
  // The Ready loop
  // =====================================================================================

  private void drain() {
    while (active() && core.hasReady()) {
      Ready r = core.ready();
      if (joiningEmpty && !core.configuration().members().isEmpty()) {
        joiningEmpty = false;
        if (core.configuration().isVoter(options.getNodeId())) {
          // before anything of this Ready is written, sent or applied
          halt("refusing to join", new IllegalStateException("node " + options.getNodeId()
              + " started empty with join, but the cluster's configuration already lists it"
              + " as a voter: its earlier log and votes are lost. A wiped node must rejoin"
              + " under a new id; remove " + options.getNodeId() + " from the cluster"));
          return;
        }
      }
      for (StorageWrite w : r.writes()) {
        long writeStarted = System.nanoTime();
        if (w.resetTo() > 0) {
          // ordered before the write, whose success implies the reset's
          storage.reset(w.resetTo());
        }
        storage.write(w).onComplete(ar -> {
          if (ar.failed()) {
            halt("storage write failed; nothing more is acknowledged", ar.cause());
          } else if (active()) {
            recordWrite(w, System.nanoTime() - writeStarted);
            core.persisted(w.sequence());
            scheduleDrain();
          }
        });
      }
      if (!active()) {
        return; // a write failed at once and halted the node: send nothing more
      }
      for (Message m : r.messages()) {
        if (m instanceof Message.AppendEntriesRequest a) {
          stats.appendEntriesSent(a.entries().size());
        }
        if (m instanceof Message.InstallSnapshot is) {
          transfers.send(is);
          continue;
        }
        transport.send(m.to(), m);
      }
      if (r.snapshot() != null) {
        applyQueue.add(r.snapshot());
      }
      if (!r.committed().isEmpty()) {
        applyQueue.add(r.committed());
      }
      runApplyQueue();
      if (!active()) {
        return;
      }
      for (ReadState rs : r.reads()) {
        PendingRead pr = reads.remove(rs.readId());
        if (pr != null) {
          applier.whenApplied(rs.readIndex(), () -> answerRead(pr));
        }
      }
      for (Long id : r.failedReads()) {
        PendingRead pr = reads.remove(id);
        if (pr != null) {
          pr.promise().tryFail(RaftException.of(RaftError.NOT_LEADER, core.leaderId()));
        }
      }
      for (Ready.Forwarded f : r.forwarded()) {
        Applier.Completion c = forwarded.remove(f.requestId());
        if (c == null) {
          continue;
        }
        if (f.result().appended()) {
          applier.track(f.result().index(), f.result().term(), c);
        } else {
          c.failed(RaftError.of(f.result().status()));
        }
      }
    }
    if (active()) {
      observeRole();
      if (core.configuration() != lastConfiguration) {
        lastConfiguration = core.configuration();
        updateAddresses();
      }
      checkWatches();
    }
  }

  /**
   * Applies committed entries in order; a snapshot restore (a follower installed the leader's
   * snapshot) pauses applying until the state machine holds the snapshot's state.
   */
  private void runApplyQueue() {
    while (!restoring && active() && !applyQueue.isEmpty()) {
      Object next = applyQueue.peekFirst();
      if (next instanceof Ready.SnapshotRestore && snapshotting) {
        return; // the state machine is still writing its own snapshot: restore after it
      }
      applyQueue.pollFirst();
      if (next instanceof Ready.SnapshotRestore restore) {
        restoring = true;
        snapshots.latest().compose(meta -> {
          if (meta == null || meta.index() != restore.index()) {
            return Future.failedFuture(new IllegalStateException("the installed snapshot "
                + restore.index() + " is not the latest in the store (" + meta + ")"));
          }
          return restoreStateMachine(meta);
        }).onComplete(ar -> {
          restoring = false;
          if (ar.failed()) {
            halt("could not restore the state machine from snapshot " + restore.index(),
                ar.cause());
            return;
          }
          log.log(System.Logger.Level.INFO, "node " + options.getNodeId()
              + " installed snapshot " + restore.index());
          compactStorage(restore.index());
          runApplyQueue();
          scheduleDrain();
        });
        return;
      }
      @SuppressWarnings("unchecked")
      List<LogEntry> committed = (List<LogEntry>) next;
      try {
        applier.apply(committed);
      } catch (RuntimeException e) {
        halt("the state machine failed to apply a committed command", e);
        return;
      }
    }
    maybeSnapshot();
  }

  /**
   * Takes a snapshot once enough was applied since the latest (§7): the state machine captures
   * its state in this event-loop turn and writes it in the background while entries keep being
   * applied; once the snapshot is durable, the log up to it (less the trailing entries) goes.
   */
  private void maybeSnapshot() {
    if (!snapshotsSupported || snapshotting || restoring || !active() || !applyQueue.isEmpty()) {
      return;
    }
    long applied = applier.appliedIndex();
    long since = applied - core.snapshotIndex();
    boolean bySize = core.logBytes() >= options.getSnapshotThresholdBytes();
    if (since <= 0 || applied < nextSnapshotAttempt
        || (since < options.getSnapshotThresholdEntries() && !bySize)) {
      return;
    }
    SnapshotMeta partial = SnapshotMeta.of(applied, core.termAt(applied),
        core.configurationAt(applied), applier.snapshotSessions());
    Future<SnapshotWriter> created = snapshots.create(partial); // complete at once: same context
    if (!created.succeeded()) {
      if (!created.isComplete()) {
        created.onSuccess(SnapshotWriter::abort);
        scheduleDrain(); // not on the node's context: try again from there
        return;
      }
      nextSnapshotAttempt = applied + options.getSnapshotThresholdEntries();
      log.log(System.Logger.Level.WARNING, "node " + options.getNodeId() + ": cannot start a"
          + " snapshot at " + applied + ": " + created.cause());
      return;
    }
    SnapshotWriter writer = created.result();
    snapshotting = true;
    long started = System.nanoTime();
    Future<Void> written;
    try {
      written = stateMachine.snapshot(writer.stream()); // the cut: nothing is applied meanwhile
    } catch (RuntimeException e) {
      written = Future.failedFuture(e);
    }
    written.compose(v -> writer.commit()).onComplete(ar -> {
      snapshotting = false;
      if (active() && !applyQueue.isEmpty()) {
        context.runOnContext(v -> runApplyQueue()); // a restore may wait for this snapshot
      }
      if (ar.failed()) {
        writer.abort();
        if (ar.cause() instanceof UnsupportedOperationException) {
          snapshotsSupported = false;
          log.log(System.Logger.Level.INFO, "node " + options.getNodeId() + ": the state machine"
              + " does not support snapshots; the log is kept whole");
        } else {
          nextSnapshotAttempt = applied + options.getSnapshotThresholdEntries();
          log.log(System.Logger.Level.WARNING, "node " + options.getNodeId() + ": snapshot at "
              + applied + " failed", ar.cause());
        }
        return;
      }
      stats.snapshotTaken(System.nanoTime() - started);
      if (!active()) {
        return;
      }
      SnapshotMeta meta = ar.result();
      if (meta.index() > core.snapshotIndex()) {
        core.snapshotTaken(meta.index());
        // past the size threshold no entries are kept below the snapshot, so memory is freed
        long compactTo = bySize ? meta.index()
            : Math.max(0, meta.index() - options.getSnapshotTrailingEntries());
        core.compact(compactTo);
        compactStorage(compactTo);
      }
      log.log(System.Logger.Level.DEBUG, "node " + options.getNodeId() + " took snapshot "
          + meta.index() + " (" + meta.size() + " bytes)");
      scheduleDrain();
    });
  }

  /** Deletes the log segments a durable snapshot covers. */
  private void compactStorage(long index) {
    if (index > 0) {
      storage.compact(index).onFailure(e -> halt("log compaction failed", e));
    }
  }

  /** The transport learns the addresses of members added at run time from the configuration. */
  private void updateAddresses() {
    if (transport instanceof TcpBridgeTransport tcp) {
      Map<String, String> all = new TreeMap<>(options.getPeers());
      all.putAll(lastConfiguration.addresses());
      all.put(options.getNodeId(), options.getPeers().get(options.getNodeId()));
      try {
        tcp.updateAddresses(all);
      } catch (IllegalArgumentException e) {
        log.log(System.Logger.Level.WARNING, "node " + options.getNodeId()
            + ": bad member address in the configuration: " + e.getMessage());
      }
    }
  }

  private void checkWatches() {
    if (watches.isEmpty()) {
      return;
    }
    long now = System.currentTimeMillis();
    for (Watch w : List.copyOf(watches)) {
      if (w.promise().future().isComplete()) {
        watches.remove(w);
      } else if (w.step().getAsBoolean()) {
        w.promise().tryComplete();
        watches.remove(w);
      } else if (now > w.deadline()) {
        w.promise().tryFail(RaftException.of(RaftError.TIMEOUT, core.leaderId()));
        watches.remove(w);
      }
    }
    if (core.hasReady()) {
      scheduleDrain(); // a watch may have proposed a change
    }
  }

  private void answerRead(PendingRead pr) {
    try {
      pr.promise().tryComplete(stateMachine.query(pr.query()));
    } catch (RuntimeException e) {
      pr.promise().tryFail(e);
    }
  }

  private byte[] applyCommand(long index, byte[] command) {
    Buffer result = stateMachine.apply(index, Buffer.buffer(command));
    return result == null ? new byte[0] : result.getBytes();
  }

  private void observeRole() {
    Role role = core.role();
    long term = core.currentTerm();
    String leader = core.leaderId();
    if (lastRole == Role.LEADER && (role != Role.LEADER || term != lastTerm)) {
      // Entries this leader appended may still commit under the next leader, or not.
      applier.failAll(RaftError.INDETERMINATE);
      transfers.stopSending();
    }
    boolean roleChanged = role != lastRole;
    boolean termChanged = term != lastTerm;
    boolean leaderChanged = !java.util.Objects.equals(leader, lastLeader);
    if (role == Role.LEADER) {
      stats.leading(term);
    } else if (lastRole == Role.LEADER) {
      stats.clearLag();
    }
    lastRole = role;
    lastTerm = term;
    lastLeader = leader;
    if (roleChanged) {
      log.log(System.Logger.Level.INFO, "node " + options.getNodeId() + " became " + role.display() + " at term " + term);
      emit("role");
    } else if (termChanged) {
      emit("term");
    }
    if (leaderChanged) {
      emit("leader");
    }
  }

  private void emit(String type) {
    RaftEvent e = new RaftEvent(type, options.getNodeId(), core.role().display(),
        core.currentTerm(), core.leaderId(), core.commitIndex(), System.currentTimeMillis());
    if (eventHandler != null) {
      eventHandler.handle(e);
    }
    vertx.eventBus().publish(eventsAddress, e.toJson());
  }

  // =====================================================================================
  // API
  // =====================================================================================

  @Override
  public String id() {
    return options.getNodeId();
  }

  @Override
  public Future<Committed> propose(Buffer command) {
    return submit(EntryType.COMMAND, 0, 0, command.getBytes());
  }

  @Override
  public Future<Long> openSession() {
    return submit(EntryType.SESSION_OPEN, 0, 0, null)
        .map(c -> Applier.sessionId(c.result().getBytes()));
  }

  @Override
  public Future<Committed> propose(long session, long sequence, Buffer command) {
    if (session <= 0 || sequence <= 0) {
      return Future.failedFuture(new IllegalArgumentException(
          "session and sequence must be positive: " + session + ", " + sequence));
    }
    return submit(EntryType.COMMAND, session, sequence, command.getBytes());
  }

  private Future<Committed> submit(EntryType type, long session, long sequence, byte[] data) {
    Promise<Committed> promise = Promise.promise();
    long submitted = System.nanoTime();
    promise.future().onComplete(ar -> {
      if (ar.succeeded()) {
        stats.proposalCommitted(System.nanoTime() - submitted);
      } else {
        stats.proposalFailed();
      }
    });
    onContext(v -> {
      if (!active()) {
        promise.fail(refused());
        return;
      }
      Applier.Completion completion = new Applier.Completion() {
        @Override
        public void succeeded(long index, byte[] result) {
          promise.tryComplete(new Committed(index, Buffer.buffer(result)));
        }

        @Override
        public void failed(RaftError error) {
          promise.tryFail(RaftException.of(error, core.leaderId()));
        }
      };
      if (core.role() == Role.LEADER) {
        ProposeResult r = core.propose(type, session, sequence, data);
        if (!r.appended()) {
          completion.failed(RaftError.of(r.status()));
          return;
        }
        applier.track(r.index(), r.term(), completion);
      } else {
        long requestId = ++nextRequestId;
        if (!core.forward(requestId, type, session, sequence, data)) {
          completion.failed(RaftError.NOT_LEADER);
          return;
        }
        forwarded.put(requestId, completion);
      }
      deadline(promise);
      scheduleDrain();
    });
    return promise.future();
  }

  private void deadline(Promise<?> promise) {
    deadlines.addLast(new Deadline(System.currentTimeMillis() + options.getRequestTimeoutMillis(),
        promise));
  }

  @Override
  public Future<Buffer> read(Buffer query) {
    Promise<Buffer> promise = Promise.promise();
    onContext(v -> {
      if (!active()) {
        promise.fail(refused());
        return;
      }
      long readId = ++nextRequestId;
      if (!core.readIndex(readId)) {
        promise.fail(RaftException.of(RaftError.NOT_LEADER, core.leaderId()));
        return;
      }
      reads.put(readId, new PendingRead(query, promise));
      deadline(promise);
      scheduleDrain();
    });
    return promise.future();
  }

  @Override
  public Future<Buffer> readLocal(Buffer query) {
    Promise<Buffer> promise = Promise.promise();
    onContext(v -> {
      if (!active()) {
        promise.fail(refused());
        return;
      }
      answerRead(new PendingRead(query, promise));
    });
    return promise.future();
  }

  @Override
  public Future<Void> addLearner(String id, String address) {
    return membership(() -> {
      RaftError e = propose(new MembershipChange(MembershipChange.Kind.ADD_LEARNER, id, address));
      if (e != null) {
        throw RaftException.of(e, core.leaderId());
      }
      return () -> core.configurationCommitted() && core.configuration().isMember(id);
    });
  }

  @Override
  public Future<Void> promote(String id) {
    return membership(() -> {
      if (!core.configuration().learners().contains(id)) {
        throw RaftException.of(RaftError.INVALID_CHANGE, core.leaderId());
      }
      boolean[] proposed = {false};
      return () -> {
        if (!proposed[0]) {
          // Caught up: the learner holds the entry that made it a learner (so it is reachable
          // and replicating) and is within the configured lag of the commit index.
          Status.FollowerStatus f = core.status().followers().get(id);
          boolean caughtUp = f != null && f.matchIndex() >= core.configurationIndex()
              && f.matchIndex() + options.getLearnerCatchUpMaxLag() >= core.commitIndex();
          if (core.role() != Role.LEADER) {
            throw RaftException.of(RaftError.NOT_LEADER, core.leaderId());
          }
          if (!caughtUp) {
            return false;
          }
          RaftError e = propose(new MembershipChange(MembershipChange.Kind.PROMOTE, id, null));
          if (e == RaftError.CHANGE_IN_PROGRESS) {
            return false; // another change still commits: try again on the next tick
          }
          if (e != null) {
            throw RaftException.of(e, core.leaderId());
          }
          proposed[0] = true;
        }
        return core.configurationCommitted() && !core.configuration().isJoint()
            && core.configuration().voters().contains(id);
      };
    });
  }

  @Override
  public Future<Void> addVoter(String id, String address) {
    return addLearner(id, address).compose(v -> promote(id));
  }

  @Override
  public Future<Void> removeMember(String id) {
    return membership(() -> {
      RaftError e = propose(new MembershipChange(MembershipChange.Kind.REMOVE, id, null));
      if (e != null) {
        throw RaftException.of(e, core.leaderId());
      }
      return () -> core.configurationCommitted() && !core.configuration().isJoint()
          && !core.configuration().isMember(id);
    });
  }

  @Override
  public Future<Void> transferLeadership(String id) {
    return membership(() -> {
      RaftError e = core.transferLeadership(id);
      if (e != null) {
        throw RaftException.of(e, core.leaderId());
      }
      return () -> {
        if (id.equals(core.leaderId()) && (id.equals(options.getNodeId())
            || core.role() != Role.LEADER)) {
          return true;
        }
        if (core.role() == Role.LEADER && core.leadTransferee() == null) {
          throw RaftException.of(RaftError.TIMEOUT, core.leaderId()); // aborted
        }
        return false;
      };
    });
  }

  private RaftError propose(MembershipChange change) {
    ProposeResult r = core.changeMembership(change);
    return r.appended() ? null : RaftError.of(r.status());
  }

  /**
   * Runs start on the node's context; it acts (or throws a RaftException) and returns the check
   * that tells when the change is done.
   */
  private Future<Void> membership(java.util.function.Supplier<java.util.function.BooleanSupplier> start) {
    Promise<Void> promise = Promise.promise();
    onContext(v -> {
      if (!active()) {
        promise.fail(refused());
        return;
      }
      try {
        java.util.function.BooleanSupplier check = start.get();
        java.util.function.BooleanSupplier guarded = () -> {
          try {
            return check.getAsBoolean();
          } catch (RaftException e) {
            promise.tryFail(e);
            return false;
          }
        };
        watches.add(new Watch(guarded, promise,
            System.currentTimeMillis() + options.getMembershipTimeoutMillis()));
        scheduleDrain();
      } catch (RaftException e) {
        promise.fail(e);
      }
    });
    return promise.future();
  }

  @Override
  public Future<NodeStatus> status() {
    Promise<NodeStatus> promise = Promise.promise();
    onContext(v -> {
      if (core == null) {
        promise.fail(RaftException.of(RaftError.STOPPED, null));
        return;
      }
      Status s = core.status();
      // A halted node serves nothing: it reports no leadership and no leader to follow (the
      // core still holds the role and leader it had when it halted), and why it halted.
      boolean halted = haltReason != null;
      Map<String, Long> match = new TreeMap<>();
      Map<String, Long> next = new TreeMap<>();
      if (!halted) {
        s.followers().forEach((id, f) -> match.put(id, f.matchIndex()));
        s.followers().forEach((id, f) -> next.put(id, f.nextIndex()));
      }
      Configuration c = s.configuration();
      promise.complete(new NodeStatus(s.id(), (halted ? Role.FOLLOWER : s.role()).display(),
          s.currentTerm(), s.votedFor(), halted ? null : s.leaderId(), s.commitIndex(),
          applier.appliedIndex(), s.lastIndex(), match, c.voters(), c.outgoingVoters(),
          c.learners(), haltReason, options.getClusterId(), next, core.snapshotIndex()));
    });
    return promise.future();
  }

  @Override
  public Future<List<LogEntryInfo>> logTail(int maxEntries, int maxDataBytes) {
    if (maxEntries < 0 || maxDataBytes < 0) {
      return Future.failedFuture(new IllegalArgumentException(
          "maxEntries and maxDataBytes must not be negative: " + maxEntries + ", " + maxDataBytes));
    }
    Promise<List<LogEntryInfo>> promise = Promise.promise();
    onContext(v -> {
      if (core == null) {
        promise.fail(RaftException.of(RaftError.STOPPED, null));
        return;
      }
      long last = core.lastIndex();
      long from = Math.max(core.firstIndex(), last - maxEntries + 1);
      List<LogEntryInfo> out = new ArrayList<>((int) Math.max(0, last - from + 1));
      for (long i = from; i <= last; i++) {
        LogEntry e = core.entryAt(i);
        byte[] d = e.data();
        out.add(new LogEntryInfo(e.index(), e.term(), e.type().name().toLowerCase(
            java.util.Locale.ROOT), d.length, Buffer.buffer().appendBytes(d, 0,
            Math.min(d.length, maxDataBytes))));
      }
      promise.complete(out);
    });
    return promise.future();
  }

  @Override
  public NodeStats stats() {
    return stats;
  }

  /** @return the node's statistics, with the recording side (metrics) */
  public NodeStatsImpl statsImpl() {
    return stats;
  }

  /**
   * @return the counters of the node's transport (messages sent and received, dropped, refused),
   *     or null if its transport keeps none (a user-supplied one)
   */
  public TransportMetrics transportMetrics() {
    return transport instanceof AbstractTransport t ? t.metrics() : null;
  }

  /** @return the cluster id */
  public String clusterId() {
    return options.getClusterId();
  }

  private void recordWrite(StorageWrite w, long nanos) {
    stats.storageWrite(nanos, w.entries().size());
    HardState hs = w.hardState();
    if (hs != null && options.getNodeId().equals(hs.votedFor())) {
      // Only a candidate votes for itself: its durable vote marks an election started.
      stats.candidateVotePersisted(hs.currentTerm());
    }
  }

  /** Refreshes the gauges of {@link #stats} (each tick; no allocation but every few ticks). */
  private void sampleStats() {
    if (!active()) {
      return;
    }
    long last = core.lastIndex();
    stats.gauges(core.role(), core.currentTerm(), core.commitIndex(), applier.appliedIndex(),
        last, last - core.firstIndex() + 1, core.logBytes());
    if (++ticksSinceLagSample < LAG_SAMPLE_TICKS) {
      return;
    }
    ticksSinceLagSample = 0;
    Configuration c = core.configuration();
    Map<String, Status.FollowerStatus> followers = core.role() == Role.LEADER
        ? core.status().followers() : Map.of();
    for (java.util.SortedSet<String> group : List.of(c.voters(), c.outgoingVoters(),
        c.learners())) {
      for (String peer : group) {
        if (!peer.equals(options.getNodeId())) {
          Status.FollowerStatus f = followers.get(peer);
          stats.lag(peer, f == null ? -1 : Math.max(0, last - f.matchIndex()));
        }
      }
    }
  }

  @Override
  public RaftNode eventHandler(Handler<RaftEvent> handler) {
    onContext(v -> this.eventHandler = handler);
    return this;
  }

  @Override
  public TransportFaults faults() {
    return transport instanceof TransportFaults f ? f : null;
  }

  /** @return the context the node runs on (tests) */
  public Context nodeContext() {
    return context;
  }
}
