package dev.raftvertx.client;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** Options of a {@link KvClient}, in the Vert.x style: defaults and fluent setters. */
public class KvClientOptions {

  /** The HTTP protocol the client speaks to the nodes. */
  public enum Protocol {
    /** HTTP/1.1 keep-alive connections with pipelining. */
    HTTP_1_1,
    /** HTTP/2 over cleartext with prior knowledge: many streams on one connection. */
    HTTP_2
  }

  /** Default protocol: HTTP/1.1 with pipelining. */
  public static final Protocol DEFAULT_PROTOCOL = Protocol.HTTP_1_1;
  /** Default connections per node: 4. */
  public static final int DEFAULT_CONNECTIONS = 4;
  /** Default requests in flight per HTTP/1.1 connection: 64. */
  public static final int DEFAULT_PIPELINING_LIMIT = 64;
  /** Default time one request may take: 10 s. */
  public static final long DEFAULT_REQUEST_TIMEOUT_MILLIS = 10_000;
  /** Default time a call keeps retrying refusals that applied nothing: 10 s. */
  public static final long DEFAULT_RETRY_TIMEOUT_MILLIS = 10_000;

  private List<String> endpoints = new ArrayList<>();
  private Protocol protocol = DEFAULT_PROTOCOL;
  private int connections = DEFAULT_CONNECTIONS;
  private int pipeliningLimit = DEFAULT_PIPELINING_LIMIT;
  private long requestTimeoutMillis = DEFAULT_REQUEST_TIMEOUT_MILLIS;
  private long retryTimeoutMillis = DEFAULT_RETRY_TIMEOUT_MILLIS;
  private String token;

  /** @return the nodes' HTTP addresses, "host:port" */
  public List<String> getEndpoints() {
    return endpoints;
  }

  /**
   * @param endpoints the HTTP address ("host:port") of every node, or of some of them: the
   *     client asks each for its status to find the leader
   * @return a reference to this, so the API can be used fluently
   */
  public KvClientOptions setEndpoints(List<String> endpoints) {
    this.endpoints = new ArrayList<>(Objects.requireNonNull(endpoints));
    return this;
  }

  /** @return the protocol */
  public Protocol getProtocol() {
    return protocol;
  }

  /**
   * @param protocol HTTP/1.1 (pipelined) or HTTP/2 (cleartext, prior knowledge)
   * @return a reference to this, so the API can be used fluently
   */
  public KvClientOptions setProtocol(Protocol protocol) {
    this.protocol = Objects.requireNonNull(protocol);
    return this;
  }

  /** @return connections per node */
  public int getConnections() {
    return connections;
  }

  /**
   * @param connections the most connections kept to one node
   * @return a reference to this, so the API can be used fluently
   */
  public KvClientOptions setConnections(int connections) {
    this.connections = connections;
    return this;
  }

  /** @return requests in flight per HTTP/1.1 connection */
  public int getPipeliningLimit() {
    return pipeliningLimit;
  }

  /**
   * @param pipeliningLimit requests sent on one HTTP/1.1 connection before their answers
   * @return a reference to this, so the API can be used fluently
   */
  public KvClientOptions setPipeliningLimit(int pipeliningLimit) {
    this.pipeliningLimit = pipeliningLimit;
    return this;
  }

  /** @return the time one request may take */
  public long getRequestTimeoutMillis() {
    return requestTimeoutMillis;
  }

  /**
   * @param requestTimeoutMillis the time one HTTP request may take before it fails
   * @return a reference to this, so the API can be used fluently
   */
  public KvClientOptions setRequestTimeoutMillis(long requestTimeoutMillis) {
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
  public KvClientOptions setRetryTimeoutMillis(long retryTimeoutMillis) {
    this.retryTimeoutMillis = retryTimeoutMillis;
    return this;
  }

  /** @return the bearer token sent with every request, or null for none */
  public String getToken() {
    return token;
  }

  /**
   * @param token the key-value API's bearer token (a node started with {@code --kv-token} or
   *     {@code RAFT_KV_TOKEN}), sent as {@code Authorization: Bearer <token>} with every request;
   *     null (the default) for a node whose key-value API is open
   * @return a reference to this, so the API can be used fluently
   * @throws IllegalArgumentException if the token is blank or holds a line break
   */
  public KvClientOptions setToken(String token) {
    if (token != null && (token.isBlank() || token.indexOf('\r') >= 0
        || token.indexOf('\n') >= 0)) {
      throw new IllegalArgumentException("the token must not be blank nor hold a line break");
    }
    this.token = token;
    return this;
  }
}
