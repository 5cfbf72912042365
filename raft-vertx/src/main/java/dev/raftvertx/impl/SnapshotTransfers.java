package dev.raftvertx.impl;

import dev.raftvertx.core.Message;
import dev.raftvertx.core.Message.InstallSnapshot;
import dev.raftvertx.core.Message.SnapshotChunk;
import dev.raftvertx.core.Message.SnapshotChunkResponse;
import dev.raftvertx.spi.SnapshotMeta;
import dev.raftvertx.spi.SnapshotOffsetException;
import dev.raftvertx.spi.SnapshotStore;
import dev.raftvertx.spi.SnapshotWriter;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The InstallSnapshot RPC (§7) between two nodes' drivers, in chunks. The core only says which
 * follower needs the latest snapshot ({@link InstallSnapshot} from a leader's core) and, on the
 * follower, installs it once it is durable; the data itself flows here.
 *
 * <p><b>Sending</b> (leader): the latest snapshot is read from the {@link SnapshotStore} chunk by
 * chunk and sent as {@link SnapshotChunk}s, at most {@link #WINDOW} chunks ahead of what the
 * follower acknowledged (flow control). A refused chunk names the offset the follower expects, and
 * the transfer resumes there; silence for {@code resendMillis} resends from the last acknowledged
 * offset. The outcome goes to the core ({@code report}).
 *
 * <p><b>Receiving</b> (follower): the first chunk (offset 0) creates a writer with the leader's
 * meta; chunks must arrive in order (the writer refuses others and the leader resumes); the last
 * one commits the snapshot (checked against size and CRC32C, fsynced) and only then is the core
 * handed the {@link InstallSnapshot}. A snapshot the follower's commit index already covers is
 * acknowledged without its data.
 *
 * <p>Not thread-safe: used on the node's context.
 */
final class SnapshotTransfers {

  private static final System.Logger log = System.getLogger(SnapshotTransfers.class.getName());

  /** Chunks a sender keeps in flight beyond the follower's acknowledgement. */
  static final int WINDOW = 4;
  /** Resumptions after which a transfer is reported failed (the leader retries later). */
  static final int MAX_RESUMES = 8;

  /** What the transfers need of their node. */
  interface Node {
    String id();

    long currentTerm();

    long commitIndex();

    void send(Message m);

    /** Steps a durable snapshot's InstallSnapshot into the core. */
    void install(InstallSnapshot m);

    /** Reports a finished transfer to the core. */
    void report(String peer, boolean ok);
  }

  private final Node node;
  private final SnapshotStore store;
  private final int chunkBytes;
  private final long resendMillis;
  private final LongSupplier clock;

  private final Map<String, Outgoing> outgoing = new HashMap<>();
  private Incoming incoming;

  /** Counters, for tests and status. */
  long chunksSent;
  long chunksReceived;
  long chunksRefused;
  long transfersCompleted;

  SnapshotTransfers(Node node, SnapshotStore store, int chunkBytes, long resendMillis,
      LongSupplier clock) {
    this.node = node;
    this.store = store;
    this.chunkBytes = chunkBytes;
    this.resendMillis = resendMillis;
    this.clock = clock;
  }

  // =====================================================================================
  // Sending
  // =====================================================================================

  private final class Outgoing {
    final String peer;
    final SnapshotMeta meta;
    final long term;
    /** The follower holds the data up to here. */
    long acked;
    /** Where the next chunk starts. */
    long sendOffset;
    boolean lastSent;
    boolean reading;
    boolean finished;
    long lastHeard;
    int resumes;
    /** The offset of the latest resumption: chunks in flight before it are refused too. */
    long resumedFrom = -1;

    Outgoing(String peer, SnapshotMeta meta, long term) {
      this.peer = peer;
      this.meta = meta;
      this.term = term;
      this.lastHeard = clock.getAsLong();
    }
  }

  /**
   * Starts (or lets continue) the transfer of the latest snapshot that a leader's core asked for.
   *
   * @param m the core's request
   */
  void send(InstallSnapshot m) {
    Outgoing o = outgoing.get(m.to());
    if (o != null && !o.finished && o.term == m.term() && o.meta.index() >= m.index()) {
      return; // under way: it resumes by itself
    }
    if (o != null) {
      o.finished = true;
      outgoing.remove(m.to());
    }
    store.latest().onComplete(ar -> {
      SnapshotMeta meta = ar.succeeded() ? ar.result() : null;
      if (meta == null || meta.index() < m.index() || node.currentTerm() != m.term()) {
        node.report(m.to(), false);
        return;
      }
      Outgoing started = new Outgoing(m.to(), meta, m.term());
      outgoing.put(m.to(), started);
      log.log(Level.INFO, "node " + node.id() + " sends snapshot " + meta.index() + " ("
          + meta.size() + " bytes) to " + m.to());
      pump(started);
    });
  }

  private void pump(Outgoing o) {
    if (o.finished || o.reading || o.lastSent
        || o.sendOffset - o.acked >= (long) WINDOW * chunkBytes) {
      return;
    }
    long offset = o.sendOffset;
    int length = (int) Math.min(chunkBytes, o.meta.size() - offset);
    o.reading = true;
    Future<Buffer> data = length == 0 ? Future.succeededFuture(Buffer.buffer())
        : store.readChunk(o.meta, offset, length);
    data.onComplete(ar -> {
      o.reading = false;
      if (o.finished) {
        return;
      }
      if (ar.failed()) {
        // a newer snapshot replaced this one: the core asks again with it
        log.log(Level.DEBUG, "node " + node.id() + ": snapshot " + o.meta.index()
            + " to " + o.peer + " stopped: " + ar.cause().getMessage());
        finish(o, false);
        return;
      }
      if (offset != o.sendOffset) {
        pump(o); // the follower asked to resume elsewhere meanwhile
        return;
      }
      boolean first = offset == 0;
      SnapshotChunk chunk = new SnapshotChunk(o.term, node.id(), o.peer, o.meta.index(),
          o.meta.term(), first ? o.meta.configuration() : null, first ? o.meta.sessions() : null,
          o.meta.size(), o.meta.checksum(), offset, ar.result().getBytes());
      o.sendOffset = offset + length;
      o.lastSent = chunk.last();
      chunksSent++;
      node.send(chunk);
      pump(o);
    });
  }

  /** @param r a follower's answer to a chunk */
  void onResponse(SnapshotChunkResponse r) {
    Outgoing o = outgoing.get(r.from());
    if (o == null || o.finished || r.index() != o.meta.index()) {
      return;
    }
    o.lastHeard = clock.getAsLong();
    if (r.term() > o.term) {
      finish(o, false); // deposed; the core learns the term from the follower's other answers
    } else if (r.done()) {
      transfersCompleted++;
      finish(o, true);
    } else if (r.ok()) {
      o.acked = Math.max(o.acked, Math.min(r.nextOffset(), o.meta.size()));
      pump(o);
    } else if (r.nextOffset() != o.resumedFrom) {
      resume(o, Math.min(r.nextOffset(), o.meta.size()));
    }
  }

  private void resume(Outgoing o, long from) {
    if (++o.resumes > MAX_RESUMES) {
      log.log(Level.WARNING, "node " + node.id() + ": snapshot " + o.meta.index() + " to "
          + o.peer + " failed after " + MAX_RESUMES + " resumptions; retrying later");
      finish(o, false);
      return;
    }
    o.acked = from;
    o.resumedFrom = from;
    o.sendOffset = from;
    o.lastSent = false;
    pump(o);
  }

  private void finish(Outgoing o, boolean ok) {
    o.finished = true;
    outgoing.remove(o.peer, o);
    node.report(o.peer, ok);
  }

  /** Resends after silence; called on every tick. */
  void tick() {
    long now = clock.getAsLong();
    for (Outgoing o : java.util.List.copyOf(outgoing.values())) {
      if (!o.finished && now - o.lastHeard >= resendMillis) {
        o.lastHeard = now;
        resume(o, o.acked);
      }
    }
  }

  /** Drops every outgoing transfer: this node no longer leads. */
  void stopSending() {
    for (Outgoing o : outgoing.values()) {
      o.finished = true;
    }
    outgoing.clear();
  }

  /** @return the followers a snapshot is being sent to */
  java.util.Set<String> sending() {
    return java.util.Set.copyOf(outgoing.keySet());
  }

  // =====================================================================================
  // Receiving
  // =====================================================================================

  private final class Incoming {
    final String from;
    final SnapshotWriter writer;
    boolean closed;

    Incoming(String from, SnapshotWriter writer) {
      this.from = from;
      this.writer = writer;
    }

    long index() {
      return writer.meta().index();
    }
  }

  /** @param c a chunk from a leader */
  void onChunk(SnapshotChunk c) {
    chunksReceived++;
    if (c.term() < node.currentTerm()) {
      answer(c, false, 0, false); // our term in the answer deposes the sender
      return;
    }
    if (c.index() <= node.commitIndex()) {
      dropIncoming();
      answer(c, true, c.size(), true); // covered by what we committed: the data is not needed
      return;
    }
    Incoming in = incoming;
    if (in != null && (in.index() != c.index() || !in.from.equals(c.from()))) {
      if (c.offset() != 0) {
        answer(c, false, 0, false);
        return;
      }
      dropIncoming();
      in = null;
    }
    if (in == null) {
      if (c.offset() != 0 || c.configuration() == null || c.sessions() == null) {
        answer(c, false, 0, false); // start again, with the metadata
        return;
      }
      SnapshotMeta meta;
      try {
        meta = new SnapshotMeta(c.index(), c.snapshotTerm(), c.configuration(), c.sessions(),
            c.size(), c.checksum());
      } catch (IllegalArgumentException e) {
        chunksRefused++;
        log.log(Level.WARNING, "node " + node.id() + ": bad snapshot chunk from " + c.from()
            + ": " + e.getMessage());
        return;
      }
      Future<SnapshotWriter> created = store.create(meta); // complete at once on the context
      if (!created.succeeded()) {
        chunksRefused++;
        log.log(Level.WARNING, "node " + node.id() + ": cannot receive snapshot " + c.index()
            + " from " + c.from() + ": " + (created.failed() ? created.cause().getMessage()
                : "the store is not used on its context"));
        answer(c, false, 0, false);
        return;
      }
      in = new Incoming(c.from(), created.result());
      incoming = in;
      log.log(Level.INFO, "node " + node.id() + " receives snapshot " + c.index() + " ("
          + c.size() + " bytes) from " + c.from());
    }
    Incoming target = in;
    target.writer.write(c.offset(), Buffer.buffer(c.data())).onComplete(ar -> {
      if (target.closed) {
        return;
      }
      if (ar.failed()) {
        if (ar.cause() instanceof SnapshotOffsetException e) {
          chunksRefused++;
          answer(c, false, e.expectedOffset(), false);
        } else {
          log.log(Level.WARNING, "node " + node.id() + ": writing snapshot " + c.index()
              + " failed: " + ar.cause().getMessage());
          dropIncoming();
          answer(c, false, 0, false);
        }
        return;
      }
      if (!c.last()) {
        answer(c, true, c.offset() + c.data().length, false);
        return;
      }
      target.closed = true;
      incoming = null;
      target.writer.commit().onComplete(committed -> {
        if (committed.failed()) {
          chunksRefused++;
          log.log(Level.WARNING, "node " + node.id() + ": snapshot " + c.index() + " from "
              + c.from() + " refused: " + committed.cause().getMessage());
          answer(c, false, 0, false);
          return;
        }
        SnapshotMeta meta = committed.result();
        node.install(new InstallSnapshot(c.term(), c.from(), node.id(), meta.index(),
            meta.term(), meta.configuration()));
        answer(c, true, c.size(), true);
      });
    });
  }

  private void dropIncoming() {
    Incoming in = incoming;
    incoming = null;
    if (in != null) {
      in.closed = true;
      in.writer.abort();
    }
  }

  private void answer(SnapshotChunk c, boolean ok, long nextOffset, boolean done) {
    node.send(new SnapshotChunkResponse(node.currentTerm(), node.id(), c.from(), c.index(), ok,
        nextOffset, done));
  }

  /** Aborts everything (the node stops). */
  void close() {
    stopSending();
    dropIncoming();
  }
}
