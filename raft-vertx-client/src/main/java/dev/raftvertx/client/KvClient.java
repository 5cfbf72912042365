package dev.raftvertx.client;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A client of the sample key-value store's HTTP API. It asks the nodes for their status to find
 * the leader and sends every request to it over a few keep-alive connections (HTTP/1.1 with
 * pipelining, or HTTP/2), so that many requests can be in flight at once.
 *
 * <p><b>Retries:</b> an answer that says nothing was applied (no leader yet, a former leader:
 * 503 with {@code "outcome": "not_applied"}, 429 overloaded) and a refused connection are retried,
 * towards the leader the answer names when it names one, until
 * {@link KvClientOptions#getRetryTimeoutMillis()}. Reads are retried after any failure. A write
 * whose outcome is unknown (a timeout, a lost connection after sending) fails with a
 * {@link KvClientException} whose {@code knownNotApplied()} is false: it may or may not have been
 * applied.
 *
 * <p>With {@link KvClientOptions#setToken} every request carries {@code Authorization: Bearer
 * <token>}; a refused token fails the call with a {@link KvClientException} of status 401.
 *
 * <p>Thread-safe; Futures complete on the client's Vert.x event loop.
 */
public final class KvClient {

  private final Vertx vertx;
  private final KvClientOptions options;
  private final HttpClient http;
  private final List<SocketAddress> endpoints = new ArrayList<>();
  /** Node id to HTTP address, learnt from the nodes' status. */
  private final Map<String, SocketAddress> byId = new ConcurrentHashMap<>();
  private volatile SocketAddress leader;
  private final AtomicReference<Future<SocketAddress>> discovery = new AtomicReference<>();

  private record Answer(int status, Buffer body) {
  }

  private KvClient(Vertx vertx, KvClientOptions options) {
    this.vertx = vertx;
    this.options = options;
    if (options.getEndpoints().isEmpty()) {
      throw new IllegalArgumentException("at least one endpoint is required");
    }
    for (String e : options.getEndpoints()) {
      int colon = e.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("endpoint must be host:port: " + e);
      }
      endpoints.add(SocketAddress.inetSocketAddress(Integer.parseInt(e.substring(colon + 1)),
          e.substring(0, colon)));
    }
    HttpClientOptions ho = new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true)
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, options.getRequestTimeoutMillis()));
    if (options.getProtocol() == KvClientOptions.Protocol.HTTP_2) {
      ho.setProtocolVersion(HttpVersion.HTTP_2).setHttp2ClearTextUpgrade(false)
          .setHttp2MultiplexingLimit(-1);
    } else {
      ho.setPipelining(true).setPipeliningLimit(options.getPipeliningLimit());
    }
    PoolOptions po = new PoolOptions().setHttp1MaxSize(options.getConnections())
        .setHttp2MaxSize(options.getConnections()).setMaxWaitQueueSize(-1);
    http = vertx.createHttpClient(ho, po);
  }

  /**
   * @param vertx the Vert.x instance
   * @param options the options, with the endpoints set
   * @return a new client
   */
  public static KvClient create(Vertx vertx, KvClientOptions options) {
    return new KvClient(vertx, options);
  }

  /**
   * Sets a key; completes once the write is committed and applied.
   *
   * @param key the key
   * @param value the value (UTF-8 text)
   * @return the log index of the write
   */
  public Future<Long> put(String key, Buffer value) {
    return call(HttpMethod.PUT, "/kv/" + encodePath(key), value, false).compose(a -> {
      if (a.status() == 200) {
        return Future.succeededFuture(new JsonObject(a.body()).getLong("index"));
      }
      return Future.failedFuture(refusal(a));
    });
  }

  /**
   * A linearizable read.
   *
   * @param key the key
   * @return the value, or null if the key is absent
   */
  public Future<Buffer> get(String key) {
    return get(key, false);
  }

  /**
   * A read.
   *
   * @param key the key
   * @param stale true to read the answering node's state, possibly stale, without a ReadIndex
   *     round; false for a linearizable read
   * @return the value, or null if the key is absent
   */
  public Future<Buffer> get(String key, boolean stale) {
    String uri = "/kv/" + encodePath(key) + (stale ? "?consistency=stale" : "");
    return call(HttpMethod.GET, uri, null, true).compose(a -> switch (a.status()) {
      case 200 -> Future.succeededFuture(a.body());
      case 404 -> Future.succeededFuture(null);
      default -> Future.failedFuture(refusal(a));
    });
  }

  /**
   * Removes a key.
   *
   * @param key the key
   * @return true if it was present
   */
  public Future<Boolean> delete(String key) {
    return call(HttpMethod.DELETE, "/kv/" + encodePath(key), null, false).compose(a -> {
      if (a.status() == 200 || a.status() == 404) {
        return Future.succeededFuture(a.status() == 200);
      }
      return Future.failedFuture(refusal(a));
    });
  }

  /**
   * @param endpoint a node's HTTP address, "host:port"
   * @return its {@code GET /status} answer
   */
  public Future<JsonObject> status(String endpoint) {
    int colon = endpoint.lastIndexOf(':');
    return status(SocketAddress.inetSocketAddress(
        Integer.parseInt(endpoint.substring(colon + 1)), endpoint.substring(0, colon)));
  }

  /** @return the HTTP address ("host:port") of the leader, found anew */
  public Future<String> leader() {
    leader = null;
    return discover().map(a -> a.host() + ":" + a.port());
  }

  /** @return a future completed once the connections are closed */
  public Future<Void> close() {
    return http.close();
  }

  private Future<JsonObject> status(SocketAddress to) {
    RequestOptions ro = authorize(new RequestOptions().setMethod(HttpMethod.GET).setServer(to)
        .setURI("/status").setIdleTimeout(options.getRequestTimeoutMillis()));
    return http.request(ro).compose(HttpClientRequest::send).compose(resp -> resp.body()
        .map(b -> {
          if (resp.statusCode() != 200) {
            throw new KvClientException(resp.statusCode(), null, true, "status: " + b, null);
          }
          JsonObject s = new JsonObject(b);
          if (s.getString("id") != null) {
            byId.put(s.getString("id"), to);
          }
          return s;
        }));
  }

  /** Asks every endpoint for its status; one discovery at a time. */
  private Future<SocketAddress> discover() {
    Future<SocketAddress> running = discovery.get();
    if (running != null) {
      return running;
    }
    Promise<SocketAddress> promise = Promise.promise();
    if (!discovery.compareAndSet(null, promise.future())) {
      return discovery.get();
    }
    List<Future<JsonObject>> answers = new ArrayList<>();
    for (SocketAddress e : endpoints) {
      answers.add(status(e).otherwise((JsonObject) null));
    }
    // Never let a discovery hang (a node that takes no requests): the calls waiting for it retry.
    long timer = vertx.setTimer(options.getRequestTimeoutMillis(), id -> {
      if (discovery.compareAndSet(promise.future(), null)) {
        promise.tryFail(new KvClientException(503, "NO_LEADER", true, "no status answer within "
            + options.getRequestTimeoutMillis() + " ms", null));
      }
    });
    Future.all(answers).onComplete(ar -> {
      vertx.cancelTimer(timer);
      LeaderChoice choice = LeaderChoice.of(answers.stream().map(Future::result).toList());
      SocketAddress best = choice.leader() >= 0 ? endpoints.get(choice.leader())
          : choice.hintedId() != null ? byId.get(choice.hintedId()) : null;
      discovery.compareAndSet(promise.future(), null);
      if (best == null) {
        promise.tryFail(new KvClientException(503, "NO_LEADER", true, "no node knows a leader", null));
      } else {
        leader = best;
        promise.tryComplete(best);
      }
    });
    return promise.future();
  }

  private Future<SocketAddress> target() {
    SocketAddress l = leader;
    return l != null ? Future.succeededFuture(l) : discover();
  }

  private Future<Answer> call(HttpMethod method, String uri, Buffer body, boolean idempotent) {
    Promise<Answer> promise = Promise.promise();
    attempt(method, uri, body, idempotent,
        System.currentTimeMillis() + options.getRetryTimeoutMillis(), 0, promise);
    return promise.future();
  }

  private void attempt(HttpMethod method, String uri, Buffer body, boolean idempotent,
      long deadline, int n, Promise<Answer> promise) {
    target().onComplete(t -> {
      if (t.failed()) {
        retry(method, uri, body, idempotent, deadline, n, promise, t.cause());
        return;
      }
      SocketAddress to = t.result();
      RequestOptions ro = authorize(new RequestOptions().setMethod(method).setServer(to)
          .setURI(uri).setIdleTimeout(options.getRequestTimeoutMillis()));
      http.request(ro).onComplete(rq -> {
        if (rq.failed()) { // no connection: nothing was sent
          forget(to);
          retry(method, uri, body, idempotent, deadline, n, promise, new KvClientException(0,
              "UNREACHABLE", true, "cannot reach " + to + ": " + rq.cause(), rq.cause()));
          return;
        }
        HttpClientRequest req = rq.result();
        Future<HttpClientResponse> sent = body == null ? req.send() : req.send(body);
        sent.compose(resp -> resp.body().map(b -> new Answer(resp.statusCode(), b)))
            .onComplete(ar -> {
              if (ar.failed()) {
                forget(to);
                KvClientException e = new KvClientException(0, "NO_ANSWER", false,
                    "no answer from " + to + ": " + ar.cause(), ar.cause());
                if (idempotent) {
                  retry(method, uri, body, true, deadline, n, promise, e);
                } else {
                  promise.fail(e);
                }
                return;
              }
              Answer a = ar.result();
              if (a.status() != 503 && a.status() != 429) {
                promise.complete(a);
                return;
              }
              KvClientException e = refusal(a);
              if (a.status() == 503) {
                String hint = hint(a);
                leader = hint == null ? null : byId.get(hint);
              }
              if (e.knownNotApplied() || idempotent) {
                retry(method, uri, body, idempotent, deadline, n, promise, e);
              } else {
                promise.fail(e);
              }
            });
      });
    });
  }

  private void retry(HttpMethod method, String uri, Buffer body, boolean idempotent,
      long deadline, int n, Promise<Answer> promise, Throwable last) {
    long delay = Math.min(100, 5L << Math.min(n, 5));
    if (System.currentTimeMillis() + delay > deadline) {
      promise.fail(last);
      return;
    }
    vertx.setTimer(delay, id -> attempt(method, uri, body, idempotent, deadline, n + 1, promise));
  }

  /** Adds the bearer token, if the options have one. */
  private RequestOptions authorize(RequestOptions ro) {
    String token = options.getToken();
    return token == null ? ro : ro.putHeader("Authorization", "Bearer " + token);
  }

  private void forget(SocketAddress to) {
    if (to.equals(leader)) {
      leader = null;
    }
  }

  private static String hint(Answer a) {
    try {
      return new JsonObject(a.body()).getString("leader");
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static KvClientException refusal(Answer a) {
    JsonObject err;
    try {
      err = new JsonObject(a.body());
    } catch (RuntimeException e) {
      err = new JsonObject().put("error", a.body().toString());
    }
    return new KvClientException(a.status(), err.getString("code"),
        "not_applied".equals(err.getString("outcome")) || a.status() == 429,
        "HTTP " + a.status() + ": " + err.getString("error"), null);
  }

  /** Percent-encodes a path segment (RFC 3986 unreserved characters stay). */
  static String encodePath(String segment) {
    StringBuilder sb = new StringBuilder(segment.length());
    for (byte b : segment.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~') {
        sb.append((char) c);
      } else {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return sb.toString();
  }
}
