package dev.raftvertx.jepsen;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Concurrent clients of the key-value HTTP API: each is a sequential process that picks a random
 * key among a few, a random operation (read, write, compare-and-set, delete) and a random node,
 * and records the operation in the history with its invoke and completion times and outcome.
 * Every written value is unique. Keys are retired after a fixed number of operations and replaced
 * by fresh ones, so each key's history stays small enough for the checker to decide.
 *
 * <p>Times in the history are nanoseconds since the workload was created.
 *
 * <p>Outcomes: an answer is OK; an error whose {@code outcome} is {@code not_applied}, or a
 * connection that could not be opened, is FAILED; a timeout, a connection lost after the request
 * was sent, or an error whose outcome is {@code unknown}, is UNKNOWN.
 */
public final class Workload {

  /** How long a client waits for an answer (the server's own request timeout is 5 s). */
  static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(8);

  private final NodeProcesses cluster;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(1)).build();
  private final List<Op> history = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger ids = new AtomicInteger();
  private final int keySlots;
  private final int opsPerKey;
  private final int[] generation;
  private final int[] used;
  private final Set<String> keys = Collections.synchronizedSet(new LinkedHashSet<>());
  private final Map<String, AtomicInteger> unexpected = new HashMap<>();
  private final long origin = System.nanoTime();
  private volatile boolean staleReads;

  /**
   * @param cluster the nodes
   * @param keySlots how many keys are in use at a time
   * @param opsPerKey operations on a key before it is replaced by a fresh one
   */
  public Workload(NodeProcesses cluster, int keySlots, int opsPerKey) {
    this.cluster = cluster;
    this.keySlots = keySlots;
    this.opsPerKey = opsPerKey;
    this.generation = new int[keySlots];
    this.used = new int[keySlots];
  }

  /**
   * Makes the clients read with {@code ?consistency=stale} (local, not linearizable): a check
   * that the harness catches stale reads. Final reads stay linearizable.
   */
  public void useStaleReads() {
    staleReads = true;
  }

  /** @return every key used so far */
  public List<String> keys() {
    synchronized (keys) {
      return List.copyOf(keys);
    }
  }

  /** @return the history so far */
  public List<Op> history() {
    synchronized (history) {
      return List.copyOf(history);
    }
  }

  /** @return answers that fit no expected shape, by status and code (reported, and UNKNOWN) */
  public synchronized Map<String, Integer> unexpected() {
    Map<String, Integer> out = new HashMap<>();
    unexpected.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  private synchronized String pickKey(Random rnd) {
    int slot = rnd.nextInt(keySlots);
    if (used[slot] >= opsPerKey) {
      generation[slot]++;
      used[slot] = 0;
    }
    used[slot]++;
    String key = "k" + slot + "g" + generation[slot];
    keys.add(key);
    return key;
  }

  /**
   * Runs one client until the deadline.
   *
   * @param client the client number
   * @param rnd its random source
   * @param deadlineNanos System.nanoTime() after which it starts no operation
   */
  public void runClient(int client, Random rnd, long deadlineNanos) {
    Map<String, String> lastSeen = new HashMap<>();
    int seq = 0;
    while (System.nanoTime() < deadlineNanos && !Thread.currentThread().isInterrupted()) {
      String key = pickKey(rnd);
      String node = cluster.ids().get(rnd.nextInt(cluster.ids().size()));
      int r = rnd.nextInt(100);
      Op op;
      if (r < 45) {
        op = staleReads ? call(client, key, Op.Kind.READ, null, null, node,
            HttpRequest.newBuilder(URI.create(uri(node, key, "") + "?consistency=stale")).GET())
            : read(client, key, node);
      } else if (r < 75) {
        op = write(client, key, "c" + client + "-" + (++seq), node);
      } else if (r < 95) {
        String expect = lastSeen.get(key);
        op = cas(client, key, expect, "c" + client + "-" + (++seq), node);
      } else {
        op = delete(client, key, node);
      }
      if (op.outcome() == Op.Outcome.FAILED) {
        // the node is down or refused at once: back off a little rather than spin on it
        try {
          Thread.sleep(op.detail().startsWith("no connection") ? 50 + rnd.nextInt(100)
              : 10 + rnd.nextInt(40));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (op.outcome() == Op.Outcome.OK) {
        switch (op.kind()) {
          case READ -> lastSeen.put(key, op.result());
          case WRITE -> lastSeen.put(key, op.value());
          case DELETE -> lastSeen.put(key, null);
          case CAS -> lastSeen.put(key, op.flag() ? op.value() : op.result());
        }
      }
    }
  }

  /** A linearizable read, recorded. */
  public Op read(int client, String key, String node) {
    return call(client, key, Op.Kind.READ, null, null, node,
        HttpRequest.newBuilder(uri(node, key, "")).GET());
  }

  /** A write, recorded. */
  public Op write(int client, String key, String value, String node) {
    return call(client, key, Op.Kind.WRITE, value, null, node,
        HttpRequest.newBuilder(uri(node, key, "")).PUT(HttpRequest.BodyPublishers.ofString(value)));
  }

  /** A compare-and-set, recorded. */
  public Op cas(int client, String key, String expect, String value, String node) {
    String body = new JsonObject().put("expect", expect).put("value", value).encode();
    return call(client, key, Op.Kind.CAS, value, expect, node,
        HttpRequest.newBuilder(uri(node, key, "/cas")).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  /** A delete, recorded. */
  public Op delete(int client, String key, String node) {
    return call(client, key, Op.Kind.DELETE, null, null, node,
        HttpRequest.newBuilder(uri(node, key, "")).DELETE());
  }

  /**
   * A stale (local) read, not recorded: for comparing replicas once the cluster is quiet.
   *
   * @return the value (null = absent), or the string "!error ..." if the node did not answer
   */
  public String localValue(String key, String node) {
    try {
      HttpResponse<String> resp = http.send(HttpRequest.newBuilder(
          URI.create(uri(node, key, "") + "?consistency=stale")).timeout(REQUEST_TIMEOUT).GET()
          .build(), HttpResponse.BodyHandlers.ofString());
      return resp.statusCode() == 200 ? resp.body() : resp.statusCode() == 404 ? null
          : "!error " + resp.statusCode() + " " + resp.body();
    } catch (IOException e) {
      return "!error " + e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "!error interrupted";
    }
  }

  private URI uri(String node, String key, String suffix) {
    return URI.create("http://127.0.0.1:" + cluster.httpPort(node) + "/kv/"
        + URLEncoder.encode(key, StandardCharsets.UTF_8) + suffix);
  }

  private Op call(int client, String key, Op.Kind kind, String value, String expect,
      String node, HttpRequest.Builder request) {
    int id = ids.incrementAndGet();
    long invoke = now();
    HttpResponse<String> resp;
    try {
      resp = http.send(request.timeout(REQUEST_TIMEOUT).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException | HttpConnectTimeoutException e) {
      // never connected: the request was not sent
      return record(new Op(id, client, key, kind, value, expect, Op.Outcome.FAILED, null, null,
          invoke, now(), node, "no connection: " + e));
    } catch (IOException e) {
      return record(new Op(id, client, key, kind, value, expect, Op.Outcome.UNKNOWN, null, null,
          invoke, Op.NEVER, node, String.valueOf(e)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return record(new Op(id, client, key, kind, value, expect, Op.Outcome.UNKNOWN, null, null,
          invoke, Op.NEVER, node, "interrupted"));
    }
    long complete = now();
    int status = resp.statusCode();
    String body = resp.body();
    JsonObject json = parse(body);
    String detail = status + " " + (body.length() > 200 ? body.substring(0, 200) : body);
    Boolean flag = null;
    String result = null;
    boolean ok = false;
    switch (kind) {
      case READ -> {
        if (status == 200) {
          ok = true;
          result = body;
        } else if (status == 404 && json != null && "NOT_FOUND".equals(json.getString("code"))) {
          ok = true;
        }
      }
      case WRITE -> ok = status == 200;
      case DELETE -> {
        if ((status == 200 || status == 404) && json != null && json.containsKey("deleted")) {
          ok = true;
          flag = json.getBoolean("deleted");
        }
      }
      case CAS -> {
        if (status == 200) {
          ok = true;
          flag = true;
        } else if (status == 409 && json != null && json.containsKey("current")) {
          ok = true;
          flag = false;
          result = json.getString("current");
        }
      }
    }
    if (ok) {
      return record(new Op(id, client, key, kind, value, expect, Op.Outcome.OK, flag, result,
          invoke, complete, node, kind == Op.Kind.READ ? null : detail));
    }
    String outcome = json == null ? null : json.getString("outcome");
    if ("not_applied".equals(outcome)) {
      return record(new Op(id, client, key, kind, value, expect, Op.Outcome.FAILED, null, null,
          invoke, complete, node, detail));
    }
    if (!"unknown".equals(outcome)) {
      String what = status + " " + (json == null ? "non-JSON" : json.getString("code"));
      synchronized (this) {
        unexpected.computeIfAbsent(what, k -> new AtomicInteger()).incrementAndGet();
      }
    }
    return record(new Op(id, client, key, kind, value, expect, Op.Outcome.UNKNOWN, null, null,
        invoke, Op.NEVER, node, detail));
  }

  private static JsonObject parse(String body) {
    try {
      return body.startsWith("{") ? new JsonObject(body) : null;
    } catch (DecodeException e) {
      return null;
    }
  }

  private Op record(Op op) {
    history.add(op);
    return op;
  }

  /** @return nanoseconds since this workload was created: the history's clock */
  private long now() {
    return System.nanoTime() - origin;
  }

  /** @return seconds since this workload was created, for logs */
  public double elapsed() {
    return (System.nanoTime() - origin) / 1e9;
  }

  /** @return the time origin (System.nanoTime) of {@link #elapsed()} */
  public long origin() {
    return origin;
  }
}
