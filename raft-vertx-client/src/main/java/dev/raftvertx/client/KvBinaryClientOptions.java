package dev.raftvertx.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Options of a {@link KvBinaryClient}, in the Vert.x style: defaults and fluent setters. */
public class KvBinaryClientOptions {

  /** Default connections to the leader: 2. */
  public static final int DEFAULT_CONNECTIONS = 2;
  /** Default requests in flight at once: 4096. */
  public static final int DEFAULT_MAX_IN_FLIGHT = 4096;
  /** Default requests waiting for a place in flight: 65536. */
  public static final int DEFAULT_MAX_WAITING = 65_536;
  /** Default time one request may go unanswered: 10 s. */
  public static final long DEFAULT_REQUEST_TIMEOUT_MILLIS = 10_000;
  /** Default time a call keeps retrying refusals that applied nothing: 10 s. */
  public static final long DEFAULT_RETRY_TIMEOUT_MILLIS = 10_000;
  /** Default largest answer frame accepted: 16 MiB. */
  public static final int DEFAULT_MAX_FRAME_BYTES = KvBinaryProtocol.MAX_FRAME_BYTES;

  private List<String> endpoints = new ArrayList<>();
  private int connections = DEFAULT_CONNECTIONS;
  private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
  private int maxWaiting = DEFAULT_MAX_WAITING;
  private long requestTimeoutMillis = DEFAULT_REQUEST_TIMEOUT_MILLIS;
  private long retryTimeoutMillis = DEFAULT_RETRY_TIMEOUT_MILLIS;
  private int maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  private String token;

  /** @return the nodes' binary client addresses, "host:port" */
  public List<String> getEndpoints() {
    return endpoints;
  }

  /**
   * @param endpoints the binary client address ("host:port") of every node, or of some of them:
   *     the client asks each for its status to find the leader, and follows the leader a
   *     NOT_LEADER answer names
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setEndpoints(List<String> endpoints) {
    this.endpoints = new ArrayList<>(Objects.requireNonNull(endpoints));
    return this;
  }

  /** @return connections kept to one node */
  public int getConnections() {
    return connections;
  }

  /**
   * @param connections connections opened to the leader (requests are spread over them; one
   *     is enough for most loads, since each carries any number of requests at once)
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setConnections(int connections) {
    if (connections < 1) {
      throw new IllegalArgumentException("connections must be >= 1");
    }
    this.connections = connections;
    return this;
  }

  /** @return the most calls in flight at once */
  public int getMaxInFlight() {
    return maxInFlight;
  }

  /**
   * @param maxInFlight the most calls in flight at once (sent, or waiting for a retry); more
   *     wait in a queue
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setMaxInFlight(int maxInFlight) {
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight must be >= 1");
    }
    this.maxInFlight = maxInFlight;
    return this;
  }

  /** @return the most calls waiting for a place in flight */
  public int getMaxWaiting() {
    return maxWaiting;
  }

  /**
   * @param maxWaiting the most calls waiting for a place in flight; beyond, a call fails at once
   *     (not applied)
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setMaxWaiting(int maxWaiting) {
    this.maxWaiting = maxWaiting;
    return this;
  }

  /** @return the time one request may go unanswered */
  public long getRequestTimeoutMillis() {
    return requestTimeoutMillis;
  }

  /**
   * @param requestTimeoutMillis the time one request may go unanswered (and a connection may
   *     take to open); a write not answered in time fails with an unknown outcome, a read is
   *     retried
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setRequestTimeoutMillis(long requestTimeoutMillis) {
    this.requestTimeoutMillis = requestTimeoutMillis;
    return this;
  }

  /** @return how long a call retries refusals that applied nothing */
  public long getRetryTimeoutMillis() {
    return retryTimeoutMillis;
  }

  /**
   * @param retryTimeoutMillis how long a call keeps retrying answers that applied nothing (no
   *     leader yet, a former leader, a refused connection) before failing with the last one
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setRetryTimeoutMillis(long retryTimeoutMillis) {
    this.retryTimeoutMillis = retryTimeoutMillis;
    return this;
  }

  /** @return the largest answer frame accepted */
  public int getMaxFrameBytes() {
    return maxFrameBytes;
  }

  /**
   * @param maxFrameBytes the largest answer frame accepted; a larger length closes the
   *     connection
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setMaxFrameBytes(int maxFrameBytes) {
    this.maxFrameBytes = maxFrameBytes;
    return this;
  }

  /** @return the key-value token presented on every connection, or null */
  public String getToken() {
    return token;
  }

  /**
   * @param token the key-value token the nodes require (their {@code --kv-token}), presented on
   *     every connection before its first request; null (the default) for open nodes
   * @return a reference to this, so the API can be used fluently
   */
  public KvBinaryClientOptions setToken(String token) {
    this.token = token;
    return this;
  }
}
