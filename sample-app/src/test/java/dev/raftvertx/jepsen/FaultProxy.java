package dev.raftvertx.jepsen;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A fault-injecting TCP proxy for the links between nodes. Each directed pair (from, to) has its
 * own listening port, named as {@code to}'s address in {@code from}'s {@code --peers}: the raft
 * TCP transport only sends on connections it dialled (the bridge answers nothing but errors), so
 * everything {@code from} sends to {@code to} crosses that one link, and the link can be
 * <ul>
 *   <li>passing (optionally delaying every chunk by a fixed time, order kept),
 *   <li>cut: its connections are reset and new ones closed at once (the sender sees the peer go
 *       away and reconnects with backoff), or
 *   <li>stalled: connections stay open but nothing is read from the sender until the link heals
 *       (the sender sees a silent peer, as in a partition TCP has not noticed; what it wrote in
 *       the meantime arrives late, all at once).
 * </ul>
 * The proxy runs on its own Vert.x instance; mode changes may come from any thread.
 */
public final class FaultProxy implements AutoCloseable {

  /** What a link does to the bytes crossing it. */
  public enum Mode { PASS, CUT, STALL }

  /** One directed link. */
  private final class Link {
    final String from;
    final String to;
    final int targetPort;
    volatile Mode mode = Mode.PASS;
    volatile long delayMillis;
    final Set<Conn> conns = ConcurrentHashMap.newKeySet();
    NetServer server;

    Link(String from, String to, int targetPort) {
      this.from = from;
      this.to = to;
      this.targetPort = targetPort;
    }
  }

  /** One proxied connection: the sender's socket and ours to the target. */
  private final class Conn {
    final Link link;
    final Context context;
    final NetSocket inbound;
    NetSocket outbound;
    final ArrayDeque<Object[]> delayed = new ArrayDeque<>();
    long timer = -1;
    boolean backpressure;
    boolean closed;

    Conn(Link link, Context context, NetSocket inbound) {
      this.link = link;
      this.context = context;
      this.inbound = inbound;
    }

    /** Pauses or resumes reading from the sender; on the connection's context. */
    void updateFlow() {
      if (closed || outbound == null) {
        return;
      }
      if (backpressure || link.mode == Mode.STALL) {
        inbound.pause();
      } else {
        inbound.resume();
      }
    }

    void onData(Buffer data) {
      long delay = link.delayMillis;
      if (delay <= 0 && delayed.isEmpty()) {
        write(data);
        return;
      }
      delayed.add(new Object[] {System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay), data});
      if (timer < 0) {
        schedule();
      }
    }

    private void schedule() {
      long due = (long) delayed.peek()[0];
      long wait = Math.max(1, TimeUnit.NANOSECONDS.toMillis(due - System.nanoTime()));
      timer = vertx.setTimer(wait, id -> {
        timer = -1;
        long now = System.nanoTime();
        while (!delayed.isEmpty() && (long) delayed.peek()[0] <= now) {
          write((Buffer) delayed.poll()[1]);
        }
        if (!delayed.isEmpty() && !closed) {
          schedule();
        }
      });
    }

    private void write(Buffer data) {
      if (closed) {
        return;
      }
      outbound.write(data);
      if (outbound.writeQueueFull()) {
        backpressure = true;
        updateFlow();
        outbound.drainHandler(v -> {
          backpressure = false;
          updateFlow();
        });
      }
    }

    /** Resets both sides; on the connection's context. */
    void close() {
      if (closed) {
        return;
      }
      closed = true;
      link.conns.remove(this);
      if (timer >= 0) {
        vertx.cancelTimer(timer);
      }
      delayed.clear();
      reset(inbound);
      if (outbound != null) {
        reset(outbound);
      }
    }
  }

  private final Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
  private final NetClient client = vertx.createNetClient(new NetClientOptions()
      .setConnectTimeout(1000).setTcpNoDelay(true));
  private final Map<String, Link> links = new ConcurrentHashMap<>();

  /**
   * Starts the proxy port of one directed link.
   *
   * @param from the sending node
   * @param to the receiving node
   * @param listenPort the proxy port (to's address in from's peers)
   * @param targetPort to's real bridge port
   */
  public void addLink(String from, String to, int listenPort, int targetPort) {
    Link link = new Link(from, to, targetPort);
    link.server = vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true))
        .connectHandler(socket -> accept(link, socket));
    try {
      link.server.listen(listenPort, "127.0.0.1").await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("proxy " + from + "->" + to + " cannot listen on "
          + listenPort, e);
    }
    links.put(key(from, to), link);
  }

  private void accept(Link link, NetSocket inbound) {
    Conn conn = new Conn(link, vertx.getOrCreateContext(), inbound);
    if (link.mode == Mode.CUT) {
      reset(inbound);
      return;
    }
    inbound.pause();
    link.conns.add(conn);
    inbound.closeHandler(v -> conn.close());
    inbound.exceptionHandler(e -> conn.close());
    client.connect(link.targetPort, "127.0.0.1").onComplete(ar -> {
      if (ar.failed() || conn.closed) {
        if (ar.succeeded()) {
          reset(ar.result());
        }
        conn.close();
        return;
      }
      NetSocket outbound = ar.result();
      conn.outbound = outbound;
      outbound.closeHandler(v -> conn.close());
      outbound.exceptionHandler(e -> conn.close());
      // replies (bridge errors only) go back unhindered
      outbound.handler(inbound::write);
      inbound.handler(conn::onData);
      conn.updateFlow();
    });
  }

  /**
   * Sets one directed link's mode.
   *
   * @param from the sending node
   * @param to the receiving node
   * @param mode pass, cut or stall
   */
  public void set(String from, String to, Mode mode) {
    Link link = link(from, to);
    link.mode = mode;
    for (Conn c : List.copyOf(link.conns)) {
      c.context.runOnContext(v -> {
        if (mode == Mode.CUT) {
          c.close();
        } else {
          c.updateFlow();
        }
      });
    }
  }

  /**
   * @param from the sending node
   * @param to the receiving node
   * @param millis delay of every chunk on the link from now on (0 = none)
   */
  public void delay(String from, String to, long millis) {
    link(from, to).delayMillis = millis;
  }

  /** Every link passes, without delay. */
  public void healAll() {
    for (Link link : links.values()) {
      link.delayMillis = 0;
      set(link.from, link.to, Mode.PASS);
    }
  }

  /** @return the links not passing undelayed, as "from->to mode" */
  public List<String> faulty() {
    List<String> out = new ArrayList<>();
    for (Link l : links.values()) {
      if (l.mode != Mode.PASS || l.delayMillis > 0) {
        out.add(l.from + "->" + l.to + " " + l.mode
            + (l.delayMillis > 0 ? " +" + l.delayMillis + "ms" : ""));
      }
    }
    out.sort(null);
    return out;
  }

  private Link link(String from, String to) {
    Link link = links.get(key(from, to));
    if (link == null) {
      throw new IllegalArgumentException("no link " + from + "->" + to);
    }
    return link;
  }

  private static String key(String from, String to) {
    return from + "->" + to;
  }

  /** Closes a socket at once, without flushing what it still has to write. */
  private static void reset(NetSocket socket) {
    if (socket instanceof NetSocketInternal internal) {
      internal.channelHandlerContext().close();
    } else {
      socket.close();
    }
  }

  @Override
  public void close() {
    try {
      vertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the proxy did not close", e);
    }
  }
}
