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
import dev.raftvertx.impl.storage.VertxStorageFileSystem;
import dev.raftvertx.impl.transport.AbstractTransport;
import dev.raftvertx.impl.transport.EventBusTransport;
import dev.raftvertx.impl.transport.TcpBridgeOptions;
import dev.raftvertx.impl.transport.TcpBridgeTransport;
import dev.raftvertx.spi.RaftStorage;
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
  private Transport transport;
  private String registryKey;

  private RaftCore core;
  private Applier applier;
  private long timerId = -1;
  private boolean drainScheduled;
  private boolean stopped;
  /** Why the node halted (storage failure, state machine failure), or null. */
  private volatile String haltReason;

  private long nextRequestId;
  private final Map<Long, PendingRead> reads = new HashMap<>();
  private final Map<Long, Applier.Completion> forwarded = new HashMap<>();
  /** Deadlines of requests, oldest first: a request not answered by then fails with TIMEOUT. */
  private final ArrayDeque<Deadline> deadlines = new ArrayDeque<>();

  private Role lastRole = Role.FOLLOWER;
  private long lastTerm = -1;
  private String lastLeader;
  private long lastPublishedCommit = -1;
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
    if (options.isMetricsEnabled()) {
      try {
        RaftMetrics.bindToVertxRegistry(this, options.getMetricsRegistryName());
      } catch (RuntimeException | LinkageError e) {
        DEPLOYED.remove(registryKey);
        return Future.failedFuture(e instanceof RuntimeException ? e
            : new IllegalStateException("metrics are enabled but Micrometer is not on the class"
                + " path", e));
      }
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
    eventsAddress = "raft." + options.getClusterId() + "." + options.getNodeId() + ".events";
    return storage.open(options.getClusterId(), options.getNodeId())
        .compose(this::bootstrapIfNew)
        .compose(state -> {
          core = new RaftCore(coreConfig(), new SplittableRandom(new SecureRandom().nextLong()),
              state.hardState(), state.entries());
          applier = new Applier(this::applyCommand, options.getSessionTimeoutMillis(),
              options.getMaxSessions(), options.getSessionResponseWindow());
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
        });
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
    Future<Void> t = transport == null ? Future.succeededFuture() : transport.close();
    return t.eventually(() -> storage == null ? Future.succeededFuture() : storage.close())
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
  }

  private boolean active() {
    return !stopped && haltReason == null && core != null;
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
    while (!deadlines.isEmpty() && (deadlines.peekFirst().atMillis() <= now
        || deadlines.peekFirst().promise().future().isComplete())) {
      deadlines.pollFirst().promise().tryFail(RaftException.of(RaftError.TIMEOUT, core.leaderId()));
    }
    drain();
    sampleStats();
    if (core.commitIndex() != lastPublishedCommit) {
      lastPublishedCommit = core.commitIndex();
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
      for (StorageWrite w : r.writes()) {
        long writeStarted = System.nanoTime();
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
      for (Message m : r.messages()) {
        if (m instanceof Message.AppendEntriesRequest a) {
          stats.appendEntriesSent(a.entries().size());
        }
        transport.send(m.to(), m);
      }
      if (!r.committed().isEmpty()) {
        try {
          applier.apply(r.committed());
        } catch (RuntimeException e) {
          halt("the state machine failed to apply a committed command", e);
          return;
        }
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
        promise.fail(RaftException.of(RaftError.STOPPED, null));
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
        promise.fail(RaftException.of(RaftError.STOPPED, null));
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
        promise.fail(RaftException.of(RaftError.STOPPED, null));
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
        promise.fail(RaftException.of(RaftError.STOPPED, null));
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
      Map<String, Long> match = new TreeMap<>();
      s.followers().forEach((id, f) -> match.put(id, f.matchIndex()));
      Map<String, Long> next = new TreeMap<>();
      s.followers().forEach((id, f) -> next.put(id, f.nextIndex()));
      Configuration c = s.configuration();
      promise.complete(new NodeStatus(s.id(), s.role().display(), s.currentTerm(), s.votedFor(),
          s.leaderId(), s.commitIndex(), applier.appliedIndex(), s.lastIndex(), match, c.voters(),
          c.outgoingVoters(), c.learners(), haltReason, options.getClusterId(), next,
          s.firstIndex() - 1));
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
