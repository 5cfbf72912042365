package dev.raftvertx;

import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Options of one Raft node, in the Vert.x style: {@code DEFAULT_*} constants, fluent setters, a
 * JSON constructor and {@link #toJson()}.
 */
public class RaftOptions {

  /** How nodes reach each other. */
  public enum TransportKind {
    /** The local event bus: every node in one Vert.x instance. */
    EVENT_BUS,
    /** The TCP event-bus bridge: nodes in different processes or machines. */
    TCP
  }

  /** Default cluster id: {@code raft}. */
  public static final String DEFAULT_CLUSTER_ID = "raft";
  /** Default transport: the local event bus. */
  public static final TransportKind DEFAULT_TRANSPORT = TransportKind.EVENT_BUS;
  /** Default logical clock tick: 10 ms. */
  public static final long DEFAULT_TICK_MILLIS = 10;
  /** Default minimum election timeout: 150 ms (each timeout is drawn from 150-300 ms). */
  public static final long DEFAULT_ELECTION_TIMEOUT_MILLIS = 150;
  /** Default heartbeat interval: 50 ms. */
  public static final long DEFAULT_HEARTBEAT_INTERVAL_MILLIS = 50;
  /** Default: pre-vote on. */
  public static final boolean DEFAULT_PRE_VOTE = true;
  /** Default: check-quorum on. */
  public static final boolean DEFAULT_CHECK_QUORUM = true;
  /** Default AppendEntries in flight per follower: 256. */
  public static final int DEFAULT_MAX_INFLIGHT_APPENDS = 256;
  /** Default entry bytes in flight per follower: 64 MiB. */
  public static final long DEFAULT_MAX_INFLIGHT_BYTES = 64L << 20;
  /** Default entry bytes per AppendEntries: 1 MiB. */
  public static final long DEFAULT_MAX_APPEND_BYTES = 1L << 20;
  /** Default uncommitted entries before proposals fail as overloaded: 100,000. */
  public static final int DEFAULT_MAX_UNCOMMITTED_ENTRIES = 100_000;
  /** Default largest command: 1 MiB. */
  public static final int DEFAULT_MAX_ENTRY_BYTES = 1 << 20;
  /** Default time a proposal or read waits for its outcome: 5 s. */
  public static final long DEFAULT_REQUEST_TIMEOUT_MILLIS = 5_000;
  /** Default idle time after which a client session expires: 1 hour (leader-stamped time). */
  public static final long DEFAULT_SESSION_TIMEOUT_MILLIS = 3_600_000;
  /** Default most client sessions kept: 100,000. */
  public static final int DEFAULT_MAX_SESSIONS = 100_000;
  /** Default results kept per session (commands a client may have in flight): 256. */
  public static final int DEFAULT_SESSION_RESPONSE_WINDOW = 256;
  /** Default lag (entries behind the commit index) at which a learner counts as caught up: 100. */
  public static final long DEFAULT_LEARNER_CATCH_UP_MAX_LAG = 100;
  /** Default time a membership change or leadership transfer may take: 60 s. */
  public static final long DEFAULT_MEMBERSHIP_TIMEOUT_MILLIS = 60_000;
  /** Default log segment size: 64 MiB. */
  public static final long DEFAULT_MAX_SEGMENT_BYTES = 64L << 20;
  /** Default log entries applied since the latest snapshot that trigger a new one: 16,384. */
  public static final long DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES = 16_384;
  /** Default log size in bytes (held in memory) that triggers a snapshot: 64 MiB. */
  public static final long DEFAULT_SNAPSHOT_THRESHOLD_BYTES = 64L << 20;
  /** Default entries kept below a new snapshot for followers that lag a little: 1,024. */
  public static final long DEFAULT_SNAPSHOT_TRAILING_ENTRIES = 1_024;
  /** Default size of one InstallSnapshot chunk: 256 KiB. */
  public static final int DEFAULT_SNAPSHOT_CHUNK_BYTES = 256 << 10;
  /** Default: no Micrometer metrics. */
  public static final boolean DEFAULT_METRICS_ENABLED = false;

  private String nodeId;
  private String clusterId = DEFAULT_CLUSTER_ID;
  private Map<String, String> peers = new LinkedHashMap<>();
  private String dataDir;
  private TransportKind transport = DEFAULT_TRANSPORT;
  private long tickMillis = DEFAULT_TICK_MILLIS;
  private long electionTimeoutMillis = DEFAULT_ELECTION_TIMEOUT_MILLIS;
  private long heartbeatIntervalMillis = DEFAULT_HEARTBEAT_INTERVAL_MILLIS;
  private boolean preVote = DEFAULT_PRE_VOTE;
  private boolean checkQuorum = DEFAULT_CHECK_QUORUM;
  private int maxInflightAppends = DEFAULT_MAX_INFLIGHT_APPENDS;
  private long maxInflightBytes = DEFAULT_MAX_INFLIGHT_BYTES;
  private long maxAppendBytes = DEFAULT_MAX_APPEND_BYTES;
  private int maxUncommittedEntries = DEFAULT_MAX_UNCOMMITTED_ENTRIES;
  private int maxEntryBytes = DEFAULT_MAX_ENTRY_BYTES;
  private long requestTimeoutMillis = DEFAULT_REQUEST_TIMEOUT_MILLIS;
  private long sessionTimeoutMillis = DEFAULT_SESSION_TIMEOUT_MILLIS;
  private int maxSessions = DEFAULT_MAX_SESSIONS;
  private int sessionResponseWindow = DEFAULT_SESSION_RESPONSE_WINDOW;
  private long maxSegmentBytes = DEFAULT_MAX_SEGMENT_BYTES;
  private long snapshotThresholdEntries = DEFAULT_SNAPSHOT_THRESHOLD_ENTRIES;
  private long snapshotThresholdBytes = DEFAULT_SNAPSHOT_THRESHOLD_BYTES;
  private long snapshotTrailingEntries = DEFAULT_SNAPSHOT_TRAILING_ENTRIES;
  private int snapshotChunkBytes = DEFAULT_SNAPSHOT_CHUNK_BYTES;
  private boolean metricsEnabled = DEFAULT_METRICS_ENABLED;
  private String metricsRegistryName;
  private long learnerCatchUpMaxLag = DEFAULT_LEARNER_CATCH_UP_MAX_LAG;
  private long membershipTimeoutMillis = DEFAULT_MEMBERSHIP_TIMEOUT_MILLIS;
  private boolean join;
  private TlsOptions tls;

  /** Default options; set at least the node id, the peers and the data directory. */
  public RaftOptions() {
  }

  /**
   * Copy constructor.
   *
   * @param other the options to copy
   */
  public RaftOptions(RaftOptions other) {
    this(other.toJson());
  }

  /**
   * Creates options from JSON (the field names of {@link #toJson()}); absent fields keep defaults.
   *
   * @param json the JSON
   */
  public RaftOptions(JsonObject json) {
    nodeId = json.getString("nodeId", nodeId);
    clusterId = json.getString("clusterId", clusterId);
    JsonObject p = json.getJsonObject("peers");
    if (p != null) {
      peers = new LinkedHashMap<>();
      for (String k : p.fieldNames()) {
        peers.put(k, p.getString(k));
      }
    }
    dataDir = json.getString("dataDir", dataDir);
    if (json.getString("transport") != null) {
      transport = TransportKind.valueOf(json.getString("transport"));
    }
    tickMillis = json.getLong("tickMillis", tickMillis);
    electionTimeoutMillis = json.getLong("electionTimeoutMillis", electionTimeoutMillis);
    heartbeatIntervalMillis = json.getLong("heartbeatIntervalMillis", heartbeatIntervalMillis);
    preVote = json.getBoolean("preVote", preVote);
    checkQuorum = json.getBoolean("checkQuorum", checkQuorum);
    maxInflightAppends = json.getInteger("maxInflightAppends", maxInflightAppends);
    maxInflightBytes = json.getLong("maxInflightBytes", maxInflightBytes);
    maxAppendBytes = json.getLong("maxAppendBytes", maxAppendBytes);
    maxUncommittedEntries = json.getInteger("maxUncommittedEntries", maxUncommittedEntries);
    maxEntryBytes = json.getInteger("maxEntryBytes", maxEntryBytes);
    requestTimeoutMillis = json.getLong("requestTimeoutMillis", requestTimeoutMillis);
    sessionTimeoutMillis = json.getLong("sessionTimeoutMillis", sessionTimeoutMillis);
    maxSessions = json.getInteger("maxSessions", maxSessions);
    sessionResponseWindow = json.getInteger("sessionResponseWindow", sessionResponseWindow);
    maxSegmentBytes = json.getLong("maxSegmentBytes", maxSegmentBytes);
    snapshotThresholdEntries = json.getLong("snapshotThresholdEntries", snapshotThresholdEntries);
    snapshotThresholdBytes = json.getLong("snapshotThresholdBytes", snapshotThresholdBytes);
    snapshotTrailingEntries = json.getLong("snapshotTrailingEntries", snapshotTrailingEntries);
    snapshotChunkBytes = json.getInteger("snapshotChunkBytes", snapshotChunkBytes);
    metricsEnabled = json.getBoolean("metricsEnabled", metricsEnabled);
    metricsRegistryName = json.getString("metricsRegistryName", metricsRegistryName);
    learnerCatchUpMaxLag = json.getLong("learnerCatchUpMaxLag", learnerCatchUpMaxLag);
    membershipTimeoutMillis = json.getLong("membershipTimeoutMillis", membershipTimeoutMillis);
    join = json.getBoolean("join", join);
    JsonObject t = json.getJsonObject("tls");
    tls = t == null ? null : new TlsOptions(t);
  }

  /** @return the options as JSON */
  public JsonObject toJson() {
    JsonObject p = new JsonObject();
    peers.forEach(p::put);
    return new JsonObject()
        .put("nodeId", nodeId)
        .put("clusterId", clusterId)
        .put("peers", p)
        .put("dataDir", dataDir)
        .put("transport", transport.name())
        .put("tickMillis", tickMillis)
        .put("electionTimeoutMillis", electionTimeoutMillis)
        .put("heartbeatIntervalMillis", heartbeatIntervalMillis)
        .put("preVote", preVote)
        .put("checkQuorum", checkQuorum)
        .put("maxInflightAppends", maxInflightAppends)
        .put("maxInflightBytes", maxInflightBytes)
        .put("maxAppendBytes", maxAppendBytes)
        .put("maxUncommittedEntries", maxUncommittedEntries)
        .put("maxEntryBytes", maxEntryBytes)
        .put("requestTimeoutMillis", requestTimeoutMillis)
        .put("sessionTimeoutMillis", sessionTimeoutMillis)
        .put("maxSessions", maxSessions)
        .put("sessionResponseWindow", sessionResponseWindow)
        .put("maxSegmentBytes", maxSegmentBytes)
        .put("snapshotThresholdEntries", snapshotThresholdEntries)
        .put("snapshotThresholdBytes", snapshotThresholdBytes)
        .put("snapshotTrailingEntries", snapshotTrailingEntries)
        .put("snapshotChunkBytes", snapshotChunkBytes)
        .put("metricsEnabled", metricsEnabled)
        .put("metricsRegistryName", metricsRegistryName)
        .put("learnerCatchUpMaxLag", learnerCatchUpMaxLag)
        .put("membershipTimeoutMillis", membershipTimeoutMillis)
        .put("join", join)
        .put("tls", tls == null ? null : tls.toJson());
  }

  /**
   * Checks that the options make sense.
   *
   * @throws IllegalArgumentException naming the first bad option
   */
  public void validate() {
    require(nodeId != null && !nodeId.isBlank(), "nodeId is required");
    require(clusterId != null && clusterId.matches("[A-Za-z0-9_-]+"),
        "clusterId must be letters, digits, '_' or '-': " + clusterId);
    require(nodeId.matches("[A-Za-z0-9_-]+"), "nodeId must be letters, digits, '_' or '-': " + nodeId);
    require(peers.containsKey(nodeId), "peers must include this node (" + nodeId + ")");
    require(dataDir != null && !dataDir.isBlank(), "dataDir is required");
    require(tickMillis >= 1, "tickMillis must be >= 1");
    require(heartbeatIntervalMillis >= tickMillis, "heartbeatIntervalMillis must be >= tickMillis");
    require(electionTimeoutMillis > heartbeatIntervalMillis,
        "electionTimeoutMillis must be above heartbeatIntervalMillis");
    require(maxInflightAppends >= 1 && maxInflightBytes >= 1 && maxAppendBytes >= 1
        && maxUncommittedEntries >= 1 && maxEntryBytes >= 1, "limits must be positive");
    require(requestTimeoutMillis >= 1, "requestTimeoutMillis must be >= 1");
    require(sessionTimeoutMillis >= 1 && maxSessions >= 1 && sessionResponseWindow >= 1,
        "session limits must be positive");
    require(maxSegmentBytes >= 1024, "maxSegmentBytes must be >= 1024");
    require(snapshotThresholdEntries >= 1 && snapshotThresholdBytes >= 1,
        "snapshot thresholds must be positive");
    require(snapshotTrailingEntries >= 0, "snapshotTrailingEntries must be >= 0");
    require(snapshotChunkBytes >= 1024 && snapshotChunkBytes <= 16 << 20,
        "snapshotChunkBytes must be between 1 KiB and 16 MiB");
    require(learnerCatchUpMaxLag >= 0, "learnerCatchUpMaxLag must be >= 0");
    require(membershipTimeoutMillis >= 1, "membershipTimeoutMillis must be >= 1");
    if (transport == TransportKind.TCP) {
      for (Map.Entry<String, String> e : peers.entrySet()) {
        require(e.getValue() != null && e.getValue().matches("[^:\\s]+:\\d{1,5}"),
            "peer " + e.getKey() + " needs a host:port address for the TCP transport, got "
                + e.getValue());
      }
    }
    if (tls != null) {
      require(transport == TransportKind.TCP, "tls applies to the TCP transport only");
      tls.validate();
    }
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** @return this node's id */
  public String getNodeId() {
    return nodeId;
  }

  /**
   * @param nodeId this node's id (letters, digits, '_' or '-')
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setNodeId(String nodeId) {
    this.nodeId = nodeId;
    return this;
  }

  /** @return the cluster id every message carries */
  public String getClusterId() {
    return clusterId;
  }

  /**
   * @param clusterId the cluster id; messages from another cluster are refused
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setClusterId(String clusterId) {
    this.clusterId = clusterId;
    return this;
  }

  /** @return every node id (this one included) and its address ("host:port" for TCP) */
  public Map<String, String> getPeers() {
    return peers;
  }

  /**
   * Sets the founding members and their addresses. After the first start the membership comes from
   * the log; the map then only supplies addresses.
   *
   * @param peers node id to address ("host:port" of its TCP bridge; any string for the event bus)
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setPeers(Map<String, String> peers) {
    this.peers = new LinkedHashMap<>(Objects.requireNonNull(peers));
    return this;
  }

  /** @return the data directory */
  public String getDataDir() {
    return dataDir;
  }

  /**
   * @param dataDir where the log, term and vote are kept; one node per directory
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setDataDir(String dataDir) {
    this.dataDir = dataDir;
    return this;
  }

  /** @return the transport */
  public TransportKind getTransport() {
    return transport;
  }

  /**
   * @param transport how nodes reach each other
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setTransport(TransportKind transport) {
    this.transport = Objects.requireNonNull(transport);
    return this;
  }

  /** @return the logical clock tick in milliseconds */
  public long getTickMillis() {
    return tickMillis;
  }

  /**
   * @param tickMillis the logical clock tick; timeouts are rounded to whole ticks
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setTickMillis(long tickMillis) {
    this.tickMillis = tickMillis;
    return this;
  }

  /** @return the minimum election timeout in milliseconds */
  public long getElectionTimeoutMillis() {
    return electionTimeoutMillis;
  }

  /**
   * @param electionTimeoutMillis minimum election timeout; each is drawn from [T, 2T)
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setElectionTimeoutMillis(long electionTimeoutMillis) {
    this.electionTimeoutMillis = electionTimeoutMillis;
    return this;
  }

  /** @return the heartbeat interval in milliseconds */
  public long getHeartbeatIntervalMillis() {
    return heartbeatIntervalMillis;
  }

  /**
   * @param heartbeatIntervalMillis how often a leader sends heartbeats
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setHeartbeatIntervalMillis(long heartbeatIntervalMillis) {
    this.heartbeatIntervalMillis = heartbeatIntervalMillis;
    return this;
  }

  /** @return whether pre-vote is on */
  public boolean isPreVote() {
    return preVote;
  }

  /**
   * @param preVote run a pre-vote before raising the term (thesis §9.6)
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setPreVote(boolean preVote) {
    this.preVote = preVote;
    return this;
  }

  /** @return whether check-quorum is on */
  public boolean isCheckQuorum() {
    return checkQuorum;
  }

  /**
   * @param checkQuorum leaders step down without a quorum; followers ignore disruptive votes
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setCheckQuorum(boolean checkQuorum) {
    this.checkQuorum = checkQuorum;
    return this;
  }

  /** @return AppendEntries in flight per follower */
  public int getMaxInflightAppends() {
    return maxInflightAppends;
  }

  /**
   * @param maxInflightAppends AppendEntries in flight per follower (pipelining)
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxInflightAppends(int maxInflightAppends) {
    this.maxInflightAppends = maxInflightAppends;
    return this;
  }

  /** @return entry bytes in flight per follower */
  public long getMaxInflightBytes() {
    return maxInflightBytes;
  }

  /**
   * @param maxInflightBytes entry bytes in flight per follower
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxInflightBytes(long maxInflightBytes) {
    this.maxInflightBytes = maxInflightBytes;
    return this;
  }

  /** @return entry bytes per AppendEntries */
  public long getMaxAppendBytes() {
    return maxAppendBytes;
  }

  /**
   * @param maxAppendBytes entry bytes per AppendEntries
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxAppendBytes(long maxAppendBytes) {
    this.maxAppendBytes = maxAppendBytes;
    return this;
  }

  /** @return uncommitted entries before proposals fail as overloaded */
  public int getMaxUncommittedEntries() {
    return maxUncommittedEntries;
  }

  /**
   * @param maxUncommittedEntries uncommitted entries before proposals fail as overloaded
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxUncommittedEntries(int maxUncommittedEntries) {
    this.maxUncommittedEntries = maxUncommittedEntries;
    return this;
  }

  /** @return the largest command in bytes */
  public int getMaxEntryBytes() {
    return maxEntryBytes;
  }

  /**
   * @param maxEntryBytes the largest command in bytes
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxEntryBytes(int maxEntryBytes) {
    this.maxEntryBytes = maxEntryBytes;
    return this;
  }

  /** @return how long a proposal or read waits for its outcome */
  public long getRequestTimeoutMillis() {
    return requestTimeoutMillis;
  }

  /**
   * @param requestTimeoutMillis how long a proposal or read waits before failing with TIMEOUT
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setRequestTimeoutMillis(long requestTimeoutMillis) {
    this.requestTimeoutMillis = requestTimeoutMillis;
    return this;
  }

  /** @return idle time after which a session expires */
  public long getSessionTimeoutMillis() {
    return sessionTimeoutMillis;
  }

  /**
   * @param sessionTimeoutMillis idle time (leader-stamped) after which a session expires
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSessionTimeoutMillis(long sessionTimeoutMillis) {
    this.sessionTimeoutMillis = sessionTimeoutMillis;
    return this;
  }

  /** @return most sessions kept */
  public int getMaxSessions() {
    return maxSessions;
  }

  /**
   * @param maxSessions most sessions kept; the least recently active is evicted beyond
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxSessions(int maxSessions) {
    this.maxSessions = maxSessions;
    return this;
  }

  /** @return results kept per session */
  public int getSessionResponseWindow() {
    return sessionResponseWindow;
  }

  /**
   * @param sessionResponseWindow results kept per session (commands a client may have in flight)
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSessionResponseWindow(int sessionResponseWindow) {
    this.sessionResponseWindow = sessionResponseWindow;
    return this;
  }

  /** @return the log segment size */
  public long getMaxSegmentBytes() {
    return maxSegmentBytes;
  }

  /**
   * @param maxSegmentBytes size at which the log rolls to a new segment file
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMaxSegmentBytes(long maxSegmentBytes) {
    this.maxSegmentBytes = maxSegmentBytes;
    return this;
  }

  /** @return entries applied since the latest snapshot that make the node take a new one */
  public long getSnapshotThresholdEntries() {
    return snapshotThresholdEntries;
  }

  /**
   * Log compaction (§7): the node snapshots its state machine, on its own and without pausing
   * proposals, once this many entries were applied since its latest snapshot (or once the log
   * passes {@link #setSnapshotThresholdBytes}), then deletes the log segments the snapshot
   * covers. Only state machines that implement {@link StateMachine#snapshot} are snapshotted.
   *
   * @param snapshotThresholdEntries the entry count, at least 1
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSnapshotThresholdEntries(long snapshotThresholdEntries) {
    this.snapshotThresholdEntries = snapshotThresholdEntries;
    return this;
  }

  /** @return the size in bytes of the log held in memory that makes the node take a snapshot */
  public long getSnapshotThresholdBytes() {
    return snapshotThresholdBytes;
  }

  /**
   * @param snapshotThresholdBytes the node takes a snapshot once the entries of its log held in
   *     memory (as counted by {@link dev.raftvertx.core.LogEntry#sizeInBytes()}) pass this size
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSnapshotThresholdBytes(long snapshotThresholdBytes) {
    this.snapshotThresholdBytes = snapshotThresholdBytes;
    return this;
  }

  /** @return entries kept below a new snapshot */
  public long getSnapshotTrailingEntries() {
    return snapshotTrailingEntries;
  }

  /**
   * @param snapshotTrailingEntries entries kept in the log below a new snapshot, so that a
   *     follower that lags by fewer entries catches up from the log rather than a snapshot
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSnapshotTrailingEntries(long snapshotTrailingEntries) {
    this.snapshotTrailingEntries = snapshotTrailingEntries;
    return this;
  }

  /** @return the size of one InstallSnapshot chunk */
  public int getSnapshotChunkBytes() {
    return snapshotChunkBytes;
  }

  /**
   * @param snapshotChunkBytes bytes of snapshot data per InstallSnapshot chunk (1 KiB to 16 MiB);
   *     a leader keeps up to four chunks in flight per follower
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setSnapshotChunkBytes(int snapshotChunkBytes) {
    this.snapshotChunkBytes = snapshotChunkBytes;
    return this;
  }

  /** @return whether the node publishes its metrics to Vert.x's Micrometer registry */
  public boolean isMetricsEnabled() {
    return metricsEnabled;
  }

  /**
   * Publishes the node's metrics ({@link dev.raftvertx.metrics.RaftMetrics}) to the Micrometer
   * registry of Vert.x's metrics (vertx-micrometer-metrics, which must then be on the class path
   * and enabled in the {@code VertxOptions}): the registry named by
   * {@link #setMetricsRegistryName}, or Vert.x's default one. The node fails to deploy if no such
   * registry exists. To use a registry of your own instead, leave this off and call
   * {@link dev.raftvertx.metrics.RaftMetrics#bind}.
   *
   * @param metricsEnabled true to publish metrics
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMetricsEnabled(boolean metricsEnabled) {
    this.metricsEnabled = metricsEnabled;
    return this;
  }

  /** @return the name of the Vert.x Micrometer registry used, or null for the default one */
  public String getMetricsRegistryName() {
    return metricsRegistryName;
  }

  /**
   * @param metricsRegistryName the {@code registryName} of the Vert.x {@code
   *     MicrometerMetricsOptions} whose registry receives the node's metrics; null for the default
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMetricsRegistryName(String metricsRegistryName) {
    this.metricsRegistryName = metricsRegistryName;
    return this;
  }

  /** @return entries behind the commit index at which a learner counts as caught up */
  public long getLearnerCatchUpMaxLag() {
    return learnerCatchUpMaxLag;
  }

  /**
   * @param learnerCatchUpMaxLag a learner is caught up, and may be promoted, when it holds the
   *     configuration entry that added it and its match index is at most this many entries behind
   *     the leader's commit index
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setLearnerCatchUpMaxLag(long learnerCatchUpMaxLag) {
    this.learnerCatchUpMaxLag = learnerCatchUpMaxLag;
    return this;
  }

  /** @return how long a membership change or transfer may take */
  public long getMembershipTimeoutMillis() {
    return membershipTimeoutMillis;
  }

  /**
   * @param membershipTimeoutMillis how long a membership change (catch-up included) or a
   *     leadership transfer may take before its Future fails with TIMEOUT
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setMembershipTimeoutMillis(long membershipTimeoutMillis) {
    this.membershipTimeoutMillis = membershipTimeoutMillis;
    return this;
  }

  /** @return whether this node starts empty and waits to be added */
  public boolean isJoin() {
    return join;
  }

  /**
   * @param join start a node with an empty data directory as a non-member that waits to be added
   *     (it never campaigns and takes no configuration from the peers option); ignored once the
   *     node has a log
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setJoin(boolean join) {
    this.join = join;
    return this;
  }

  /** @return the TLS settings of the TCP transport, or null for plain TCP */
  public TlsOptions getTls() {
    return tls;
  }

  /**
   * Encrypts and mutually authenticates the TCP transport: see {@link TlsOptions}. Without it the
   * nodes talk plain TCP, which suits only a trusted network such as one machine's loopback (the
   * node logs a warning when it listens on, or dials, any other address in plain TCP). Whether
   * TLS is on or not, a node accepts messages only from the members of its configuration.
   *
   * @param tls the certificate, key and CA of this node, or null for plain TCP
   * @return a reference to this, so the API can be used fluently
   */
  public RaftOptions setTls(TlsOptions tls) {
    this.tls = tls;
    return this;
  }
}
