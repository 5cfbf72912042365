package dev.raftvertx.metrics;

import dev.raftvertx.NodeStats;
import dev.raftvertx.RaftNode;
import dev.raftvertx.impl.NodeStatsImpl;
import dev.raftvertx.impl.RaftNodeImpl;
import dev.raftvertx.impl.transport.TransportMetrics;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Publishes one node's metrics to a Micrometer {@link MeterRegistry}. Every meter is tagged with
 * {@code node} (the node id) and {@code cluster} (the cluster id), so several nodes can share one
 * JVM and one registry. In Prometheus format the names are:
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>kind</th><th>meaning</th></tr>
 *   <tr><td>raft_term</td><td>gauge</td><td>current term</td></tr>
 *   <tr><td>raft_role{role}</td><td>gauge</td><td>1 for the node's role (follower,
 *       pre_candidate, candidate, leader), 0 for the others</td></tr>
 *   <tr><td>raft_commit_index, raft_applied_index, raft_last_index</td><td>gauges</td>
 *       <td>commit index, last applied index, last log index</td></tr>
 *   <tr><td>raft_log_entries, raft_log_size_bytes</td><td>gauges</td><td>entries held in the
 *       log and their size</td></tr>
 *   <tr><td>raft_proposals_total{outcome}</td><td>counter</td><td>proposals submitted on this
 *       node, by outcome ({@code committed} or {@code failed})</td></tr>
 *   <tr><td>raft_proposal_latency_seconds</td><td>histogram</td><td>from submission to the
 *       applied result, committed proposals</td></tr>
 *   <tr><td>raft_fsync_latency_seconds</td><td>histogram</td><td>from handing a write to storage
 *       until it is durable (the storage groups concurrent writes into one fsync)</td></tr>
 *   <tr><td>raft_storage_batch_entries</td><td>histogram</td><td>entries per storage write</td></tr>
 *   <tr><td>raft_append_batch_entries</td><td>histogram</td><td>entries per non-empty
 *       AppendEntries sent</td></tr>
 *   <tr><td>raft_append_entries_sent_total, raft_append_entries_rejected_total</td>
 *       <td>counters</td><td>AppendEntries sent (heartbeats included), and refusals received</td></tr>
 *   <tr><td>raft_elections_started_total, raft_elections_won_total</td><td>counters</td>
 *       <td>candidacies in a new term, and terms led</td></tr>
 *   <tr><td>raft_snapshots_total, raft_snapshot_duration_seconds</td><td>counter, histogram</td>
 *       <td>snapshots taken and their duration (0 while the node takes none)</td></tr>
 *   <tr><td>raft_replication_lag_entries{peer}</td><td>gauge</td><td>on the leader, entries each
 *       member lacks (last index minus its match index); NaN on other nodes</td></tr>
 *   <tr><td>raft_transport_messages_total{direction}</td><td>counter</td><td>Raft messages
 *       {@code sent} to peers and {@code received} from them</td></tr>
 *   <tr><td>raft_transport_dropped_total{reason}</td><td>counter</td><td>outbound messages not
 *       sent: {@code unavailable} (peer not connected), {@code queue_full}, {@code send_failure},
 *       {@code fault} (a test fault rule)</td></tr>
 *   <tr><td>raft_transport_rejected_total{reason}</td><td>counter</td><td>inbound traffic refused:
 *       {@code malformed} messages and frames (bad length, not JSON, bad fields, other cluster,
 *       wrong address), {@code sender} (not a member, or not the node its certificate names),
 *       {@code connection} (connections closed or refused: failed TLS handshake, bad frame)</td></tr>
 * </table>
 *
 * <p>Counters and gauges read the node's {@link NodeStats}, so they count from the node's start
 * whenever they are bound; histograms record from the moment of binding. Recording allocates
 * nothing per message. The meters are removed when the node stops or {@link #close()} is called.
 *
 * <p>Either bind a node yourself with {@link #bind(RaftNode, MeterRegistry)}, or let the node do it
 * with {@link dev.raftvertx.RaftOptions#setMetricsEnabled(boolean)} (Vert.x's registry).
 */
public final class RaftMetrics {

  private static final String[] ROLES = {"follower", "pre_candidate", "candidate", "leader"};

  private static final Duration[] LATENCY_BUCKETS = millis(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50,
      100, 250, 500, 1_000, 2_500, 5_000, 10_000);
  private static final Duration[] SNAPSHOT_BUCKETS = millis(10, 50, 100, 500, 1_000, 5_000,
      10_000, 30_000, 60_000);
  private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024,
      4096};

  private final MeterRegistry registry;
  private final NodeStatsImpl stats;
  private final Tags tags;
  private final List<Meter> meters = new CopyOnWriteArrayList<>();
  private final Map<String, Meter> peerGauges = new ConcurrentHashMap<>();
  private final Timer proposalLatency;
  private final Timer fsyncLatency;
  private final Timer snapshotDuration;
  private final DistributionSummary storageBatch;
  private final DistributionSummary appendBatch;
  private final NodeStatsImpl.Observer observer;
  private volatile boolean closed;

  private RaftMetrics(RaftNodeImpl node, MeterRegistry registry) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.stats = node.statsImpl();
    this.tags = Tags.of("node", node.id(), "cluster", node.clusterId());

    gauge("raft.term", "The node's current term", null, NodeStats::term);
    for (String role : ROLES) {
      meters.add(Gauge.builder("raft.role", stats, s -> role.equals(s.role()) ? 1 : 0)
          .description("1 for the node's current role, 0 for the others").tags(tags)
          .tag("role", role).strongReference(true).register(registry));
    }
    gauge("raft.commit.index", "Highest log index known committed", null, NodeStats::commitIndex);
    gauge("raft.applied.index", "Highest log index applied to the state machine", null,
        NodeStats::appliedIndex);
    gauge("raft.last.index", "Index of the last log entry", null, NodeStats::lastIndex);
    gauge("raft.log.entries", "Entries held in the log", null, NodeStats::logEntries);
    gauge("raft.log.size", "Size of the entries held in the log", "bytes", NodeStats::logBytes);

    counter("raft.proposals", "Proposals submitted on this node, by outcome",
        Tags.of("outcome", "committed"), NodeStats::proposalsCommitted);
    counter("raft.proposals", "Proposals submitted on this node, by outcome",
        Tags.of("outcome", "failed"), NodeStats::proposalsFailed);
    counter("raft.append.entries.sent", "AppendEntries sent, heartbeats included", Tags.empty(),
        NodeStats::appendEntriesSent);
    counter("raft.append.entries.rejected", "AppendEntries refused by followers (log mismatch)",
        Tags.empty(), NodeStats::appendEntriesRejected);
    counter("raft.elections.started", "Elections started (candidacies in a new term)",
        Tags.empty(), NodeStats::electionsStarted);
    counter("raft.elections.won", "Elections won (terms led)", Tags.empty(),
        NodeStats::electionsWon);
    counter("raft.snapshots", "Snapshots taken", Tags.empty(), NodeStats::snapshots);

    TransportMetrics transport = node.transportMetrics();
    if (transport != null) {
      transportCounter(transport, "raft.transport.messages", "Raft messages sent to and received"
          + " from peers", "direction", "sent", TransportMetrics::sent);
      transportCounter(transport, "raft.transport.messages", "Raft messages sent to and received"
          + " from peers", "direction", "received", TransportMetrics::received);
      String dropped = "Outbound Raft messages not sent, by reason";
      transportCounter(transport, "raft.transport.dropped", dropped, "reason", "unavailable",
          TransportMetrics::droppedUnavailable);
      transportCounter(transport, "raft.transport.dropped", dropped, "reason", "queue_full",
          TransportMetrics::droppedQueueFull);
      transportCounter(transport, "raft.transport.dropped", dropped, "reason", "send_failure",
          TransportMetrics::sendFailures);
      transportCounter(transport, "raft.transport.dropped", dropped, "reason", "fault",
          TransportMetrics::droppedByFaults);
      String rejected = "Inbound Raft traffic refused, by reason";
      transportCounter(transport, "raft.transport.rejected", rejected, "reason", "malformed",
          t -> t.rejected() - t.rejectedSender());
      transportCounter(transport, "raft.transport.rejected", rejected, "reason", "sender",
          TransportMetrics::rejectedSender);
      transportCounter(transport, "raft.transport.rejected", rejected, "reason", "connection",
          TransportMetrics::rejectedConnections);
    }

    proposalLatency = add(Timer.builder("raft.proposal.latency")
        .description("From submitting a proposal to its applied result (committed proposals)")
        .tags(tags).serviceLevelObjectives(LATENCY_BUCKETS).register(registry));
    fsyncLatency = add(Timer.builder("raft.fsync.latency")
        .description("From handing a write to storage until it is durable (grouped fsync)")
        .tags(tags).serviceLevelObjectives(LATENCY_BUCKETS).register(registry));
    snapshotDuration = add(Timer.builder("raft.snapshot.duration")
        .description("Time to take a snapshot").tags(tags)
        .serviceLevelObjectives(SNAPSHOT_BUCKETS).register(registry));
    storageBatch = add(DistributionSummary.builder("raft.storage.batch")
        .description("Entries per storage write").baseUnit("entries").tags(tags)
        .serviceLevelObjectives(BATCH_BUCKETS).register(registry));
    appendBatch = add(DistributionSummary.builder("raft.append.batch")
        .description("Entries per non-empty AppendEntries sent").baseUnit("entries").tags(tags)
        .serviceLevelObjectives(BATCH_BUCKETS).register(registry));

    observer = new NodeStatsImpl.Observer() {
      @Override
      public void proposalCommitted(long nanos) {
        proposalLatency.record(nanos, TimeUnit.NANOSECONDS);
      }

      @Override
      public void storageWrite(long nanos, int entries) {
        fsyncLatency.record(nanos, TimeUnit.NANOSECONDS);
        storageBatch.record(entries);
      }

      @Override
      public void appendEntriesSent(int entries) {
        appendBatch.record(entries);
      }

      @Override
      public void snapshot(long nanos) {
        snapshotDuration.record(nanos, TimeUnit.NANOSECONDS);
      }

      @Override
      public void peerSeen(String peer) {
        addPeer(peer);
      }

      @Override
      public void nodeStopped() {
        close();
      }
    };
    stats.addObserver(observer);
  }

  /**
   * Publishes a running node's metrics to your registry, until the node stops or
   * {@link #close()} is called.
   *
   * @param node a node deployed with {@link RaftNode#deploy}
   * @param registry the registry
   * @return the binding
   * @throws IllegalArgumentException if the node was not deployed by this library
   */
  public static RaftMetrics bind(RaftNode node, MeterRegistry registry) {
    if (!(node instanceof RaftNodeImpl impl)) {
      throw new IllegalArgumentException("RaftMetrics binds nodes deployed with RaftNode.deploy,"
          + " not " + node.getClass().getName());
    }
    return new RaftMetrics(impl, registry);
  }

  /**
   * Publishes a running node's metrics to the registry of Vert.x's Micrometer metrics
   * (vertx-micrometer-metrics enabled in the {@code VertxOptions}).
   *
   * @param node a node deployed with {@link RaftNode#deploy}
   * @param registryName the {@code registryName} of the {@code MicrometerMetricsOptions}, or null
   *     for the default registry
   * @return the binding
   * @throws IllegalStateException if there is no such registry (Vert.x metrics not enabled, or
   *     vertx-micrometer-metrics missing from the class path)
   */
  public static RaftMetrics bindToVertxRegistry(RaftNode node, String registryName) {
    MeterRegistry registry;
    try {
      registry = registryName == null
          ? io.vertx.micrometer.backends.BackendRegistries.getDefaultNow()
          : io.vertx.micrometer.backends.BackendRegistries.getNow(registryName);
    } catch (LinkageError e) {
      throw new IllegalStateException("metrics are enabled but vertx-micrometer-metrics is not on"
          + " the class path", e);
    }
    if (registry == null) {
      throw new IllegalStateException("metrics are enabled but Vert.x has no Micrometer registry"
          + (registryName == null ? "" : " named '" + registryName + "'") + ": create Vert.x"
          + " with MicrometerMetricsOptions enabled (or bind a registry with RaftMetrics.bind)");
    }
    return bind(node, registry);
  }

  /** @return the registry the meters are in */
  public MeterRegistry registry() {
    return registry;
  }

  /** Removes this node's meters from the registry and stops recording. Idempotent. */
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    stats.removeObserver(observer);
    for (Meter m : meters) {
      registry.remove(m);
    }
    for (Meter m : peerGauges.values()) {
      registry.remove(m);
    }
    meters.clear();
    peerGauges.clear();
  }

  private synchronized void addPeer(String peer) {
    if (closed || peerGauges.containsKey(peer)) {
      return;
    }
    peerGauges.put(peer, Gauge.builder("raft.replication.lag", stats, s -> {
      long lag = s.replicationLag(peer);
      return lag < 0 ? Double.NaN : lag;
    }).description("On the leader, entries a member lacks (last index minus its match index)")
        .baseUnit("entries").tags(tags).tag("peer", peer).strongReference(true)
        .register(registry));
  }

  private void gauge(String name, String description, String unit,
      ToDoubleFunction<NodeStats> value) {
    meters.add(Gauge.builder(name, (NodeStats) stats, value).description(description)
        .baseUnit(unit).tags(tags).strongReference(true).register(registry));
  }

  private void counter(String name, String description, Tags extra,
      ToDoubleFunction<NodeStats> value) {
    meters.add(FunctionCounter.builder(name, (NodeStats) stats, value).description(description)
        .tags(tags).tags(extra).register(registry));
  }

  private void transportCounter(TransportMetrics transport, String name, String description,
      String tag, String value, ToDoubleFunction<TransportMetrics> count) {
    meters.add(FunctionCounter.builder(name, transport, count).description(description)
        .tags(tags).tag(tag, value).register(registry));
  }

  private <M extends Meter> M add(M meter) {
    meters.add(meter);
    return meter;
  }

  private static Duration[] millis(double... values) {
    Duration[] out = new Duration[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = Duration.ofNanos((long) (values[i] * 1_000_000));
    }
    return out;
  }
}
