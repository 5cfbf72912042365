package dev.raftvertx.kv.bench;

import dev.raftvertx.RaftNode;
import dev.raftvertx.kv.KvCodec;
import dev.raftvertx.kv.KvCommand;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The embedded load generator, inside a node process started by {@code bench} (hidden option
 * {@code --bench-agent-port}): on {@code POST /run} with a {@link LoadSpec} it drives a
 * {@link ClosedLoop} through its own node's Future API ({@link RaftNode#propose},
 * {@link RaftNode#read}, {@link RaftNode#readLocal}) and answers with the window's histogram and
 * CPU time. It also ends its process when the benchmark that started it goes away (its standard
 * input closes), so that no node outlives a killed benchmark.
 */
public final class BenchAgent {

  private final AtomicBoolean busy = new AtomicBoolean();
  private final Vertx vertx;
  private final RaftNode node;

  private BenchAgent(Vertx vertx, RaftNode node) {
    this.vertx = vertx;
    this.node = node;
  }

  /**
   * Starts the agent.
   *
   * @param vertx the node's Vert.x instance
   * @param node the node
   * @param host the address to listen on
   * @param port the port
   * @return the server once listening
   */
  public static Future<HttpServer> start(Vertx vertx, RaftNode node, String host, int port) {
    watchParent();
    BenchAgent agent = new BenchAgent(vertx, node);
    return vertx.createHttpServer().requestHandler(agent::handle).listen(port, host);
  }

  /** Exits when standard input reaches its end: the benchmark that holds its other end died. */
  private static void watchParent() {
    Thread t = new Thread(() -> {
      try {
        InputStream in = System.in;
        while (in.read() != -1) {
          // the benchmark writes nothing; wait for the end of the stream
        }
      } catch (IOException e) {
        // treat as closed
      }
      System.out.println("bench agent: the benchmark went away; stopping");
      System.exit(0);
    }, "bench-parent-watch");
    t.setDaemon(true);
    t.start();
  }

  private void handle(HttpServerRequest req) {
    if (req.method() != HttpMethod.POST || !req.path().equals("/run")) {
      req.response().setStatusCode(404).end();
      return;
    }
    req.body().onSuccess(body -> {
      if (!busy.compareAndSet(false, true)) {
        req.response().setStatusCode(409).end("a run is in progress");
        return;
      }
      JsonObject cmd = body.toJsonObject();
      LoadSpec spec = LoadSpec.fromJson(cmd.getJsonObject("spec"));
      List<Long> pids = new ArrayList<>();
      for (Object p : cmd.getJsonArray("pids", new JsonArray())) {
        pids.add(((Number) p).longValue());
      }
      CpuProbe cpu = new CpuProbe(pids, cmd.getLong("clockTicks", 100L));
      Thread t = new Thread(() -> {
        try {
          ClosedLoop loop = new ClosedLoop(vertx, operation(node, spec), spec.clients());
          ClosedLoop.Measurement m = loop.run(spec.warmupSeconds(), spec.seconds(), cpu);
          req.response().putHeader("Content-Type", "application/json")
              .end(toJson(m, loop.lastError()).encode());
        } catch (Throwable e) {
          req.response().setStatusCode(500).end(String.valueOf(e));
        } finally {
          busy.set(false);
        }
      }, "bench-load");
      t.setDaemon(true);
      t.start();
    });
  }

  /**
   * @param node the node to load
   * @param spec the configuration
   * @return one operation as a user of the Future API would issue it: encode, propose or read
   */
  static ClosedLoop.Operation operation(RaftNode node, LoadSpec spec) {
    if (spec.write()) {
      String value = LoadSpec.value(spec.payload());
      return slot -> node.propose(new KvCommand.Put(LoadSpec.key(slot), value).encode());
    }
    if (spec.stale()) {
      return slot -> node.readLocal(query());
    }
    return slot -> node.read(query());
  }

  private static Buffer query() {
    return KvCodec.query(LoadSpec.READ_KEY);
  }

  static JsonObject toJson(ClosedLoop.Measurement m, Throwable lastError) {
    ByteBuffer buf = ByteBuffer.allocate(m.histogram().getNeededByteBufferCapacity());
    int n = m.histogram().encodeIntoCompressedByteBuffer(buf);
    return new JsonObject().put("histogram", Arrays.copyOf(buf.array(), n))
        .put("errors", m.errors()).put("seconds", m.seconds()).put("cpuMillis", m.cpuMillis())
        .put("loadAverage1", m.loadAverage1())
        .put("lastError", lastError == null ? null : lastError.toString());
  }

  static ClosedLoop.Measurement fromJson(JsonObject json) {
    org.HdrHistogram.Histogram h;
    try {
      h = org.HdrHistogram.Histogram.decodeFromCompressedByteBuffer(
          ByteBuffer.wrap(json.getBinary("histogram")), 0);
    } catch (java.util.zip.DataFormatException e) {
      throw new IllegalStateException("bad histogram from the embedded load generator", e);
    }
    return new ClosedLoop.Measurement(h, json.getLong("errors"), json.getDouble("seconds"),
        json.getLong("cpuMillis"), json.getString("loadAverage1"));
  }
}
