package dev.raftvertx.impl.storage;

import io.netty.buffer.Unpooled;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link StorageFileSystem.FileHandle} on a {@link FileChannel} whose operations run in call
 * order on Vert.x worker threads, in batches.
 *
 * <p>Calls only queue an operation (never blocking the caller). One worker task at a time drains
 * the queue: it runs every queued operation in order, writing consecutive writes that continue
 * one another with one gathering {@code write} call and running consecutive forces as one
 * {@code force(false)}, then completes the whole batch with one task on the context that opened
 * the file, in call order. So a write followed by a force costs one round trip to a worker thread,
 * where Vert.x {@code AsyncFile} takes two ({@code write} then {@code flush}), and writes issued
 * while a force runs are written and forced by the next batch.
 *
 * <p>{@link #force()} is {@link FileChannel#force force(false)}, i.e. {@code fdatasync}: it makes
 * the data durable along with the metadata needed to read it back, the file's size included.
 * After a write fails, every later write and force fails too (with that first error): a force
 * never reports writes durable that did not reach the file.
 */
final class ChannelFileHandle implements StorageFileSystem.FileHandle {

  /** How long one worker task keeps draining before it hands over to a new task. */
  private static final long MAX_DRAIN_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private final Context context;
  private final FileChannel channel;
  private final String path;
  private final ConcurrentLinkedQueue<Op> queue = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean draining = new AtomicBoolean();
  /** Set if queued operations were failed unrun: no later write or force may succeed. */
  private volatile IOException lost;

  // ---- confined to the draining worker (handed between tasks through the draining flag) ----
  private Exception writeFailure;
  private boolean closed;

  private ChannelFileHandle(Context context, FileChannel channel, String path) {
    this.context = context;
    this.channel = channel;
    this.path = path;
  }

  /**
   * Opens a file for reading and writing, creating it if absent, on a worker thread.
   *
   * @param vertx the Vert.x instance
   * @param path the file
   * @return the handle; its operations complete on the caller's context
   */
  static Future<StorageFileSystem.FileHandle> open(Vertx vertx, String path) {
    Context context = ContextFutures.base(vertx.getOrCreateContext());
    return context.executeBlocking(() -> FileChannel.open(Path.of(path),
        StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE))
        .map(ch -> new ChannelFileHandle(context, ch, path));
  }

  @Override
  public Future<Void> write(Buffer data, long position) {
    // a composite buffer (records, then preallocated zeros) is written as it is, not merged
    ByteBuffer[] bytes = data instanceof BufferInternal b
        ? b.getByteBuf().nioBuffers() : new ByteBuffer[] {ByteBuffer.wrap(data.getBytes())};
    return submit(new Write(bytes, position));
  }

  @Override
  public Future<Buffer> read(long position, int length) {
    return submit(new Read(position, length));
  }

  @Override
  public Future<Long> size() {
    return submit(new Size());
  }

  @Override
  public Future<Void> force() {
    return submit(new Force());
  }

  @Override
  public Future<Void> close() {
    return submit(new Close());
  }

  private <T> Future<T> submit(Op op) {
    queue.add(op);
    if (draining.compareAndSet(false, true)) {
      startDrain();
    }
    @SuppressWarnings("unchecked")
    Future<T> f = (Future<T>) op.promise.future();
    return f;
  }

  private void startDrain() {
    context.executeBlocking(() -> {
      drain();
      return null;
    }, false).onFailure(this::rejected);
  }

  /** The worker pool refused the task (Vert.x is closing): fails what is queued. */
  private void rejected(Throwable cause) {
    IOException e = new IOException("no worker thread to run I/O on " + path + ": " + cause,
        cause);
    lost = e;
    List<Op> batch = new ArrayList<>();
    Op op;
    while ((op = queue.poll()) != null) {
      op.error = e;
      batch.add(op);
    }
    for (Op o : batch) {
      o.complete();
    }
    draining.set(false);
  }

  /** Runs on a worker thread while this task holds the draining flag. */
  private void drain() {
    long deadline = System.nanoTime() + MAX_DRAIN_NANOS;
    while (true) {
      List<Op> batch = new ArrayList<>();
      Op op;
      while ((op = queue.poll()) != null) {
        batch.add(op);
      }
      try {
        run(batch);
      } catch (Error e) {
        // Nothing of this batch is known to have worked: fail all of it, and every later write.
        writeFailure = new IOException("I/O on " + path + " failed: " + e, e);
        for (Op o : batch) {
          o.error = e;
        }
      }
      context.runOnContext(v -> {
        for (Op o : batch) {
          o.complete();
        }
      });
      draining.set(false);
      if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        // Do not hold a worker thread (and trip the blocked-thread checker) under endless load.
        startDrain();
        return;
      }
    }
  }

  private void run(List<Op> batch) {
    int i = 0;
    while (i < batch.size()) {
      Op op = batch.get(i);
      if (op instanceof Write) {
        i = writeRun(batch, i);
      } else if (op instanceof Force) {
        int j = i;
        while (j < batch.size() && batch.get(j) instanceof Force) {
          j++;
        }
        forceRun(batch.subList(i, j));
        i = j;
      } else {
        if (closed && !(op instanceof Close)) {
          op.error = closedError();
        } else if (!closed) {
          try {
            op.result = op.run();
          } catch (IOException | RuntimeException e) {
            op.error = e;
          }
        }
        i++;
      }
    }
  }

  /**
   * Writes the writes from position i on that continue one another, with gathering writes from
   * their buffers as they are (no copy into one buffer).
   */
  private int writeRun(List<Op> batch, int i) {
    Write first = (Write) batch.get(i);
    int j = i + 1;
    long end = first.position + first.length;
    int buffers = first.data.length;
    while (j < batch.size() && batch.get(j) instanceof Write w && w.position == end) {
      end += w.length;
      buffers += w.data.length;
      j++;
    }
    List<Op> run = batch.subList(i, j);
    Exception failure = closed ? closedError() : writeFailure != null ? writeFailure : lost;
    if (failure == null) {
      try {
        ByteBuffer[] data = first.data;
        if (j - i > 1) {
          data = new ByteBuffer[buffers];
          int k = 0;
          for (Op o : run) {
            for (ByteBuffer b : ((Write) o).data) {
              data[k++] = b;
            }
          }
        }
        // Reads are positional and only this drain writes, so the channel's position is ours.
        channel.position(first.position);
        long left = end - first.position;
        while (left > 0) {
          left -= channel.write(data);
        }
      } catch (IOException | RuntimeException e) {
        writeFailure = e;
        failure = e;
      }
    } else if (!closed) {
      failure = new IOException("an earlier write to " + path + " failed: "
          + failure.getMessage(), failure);
    }
    for (Op o : run) {
      o.error = failure;
    }
    return j;
  }

  private void forceRun(List<Op> forces) {
    Exception failure = closed ? closedError() : writeFailure != null ? writeFailure : lost;
    if (failure == null) {
      try {
        channel.force(false);
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
    } else if (!closed) {
      failure = new IOException("a write to " + path + " failed, so it cannot be made durable: "
          + failure.getMessage(), failure);
    }
    for (Op o : forces) {
      o.error = failure;
    }
  }

  private IOException closedError() {
    return new IOException(path + " is closed");
  }

  /** A queued operation; its outcome is set by the worker, then completed on the context. */
  private abstract static class Op {
    final Promise<Object> promise = Promise.promise();
    Object result;
    Throwable error;

    /** Runs on the worker (reads, size, close; writes and forces are run in runs). */
    Object run() throws IOException {
      throw new IllegalStateException("run in a run of its kind");
    }

    void complete() {
      if (error != null) {
        promise.fail(error);
      } else {
        promise.complete(result);
      }
    }
  }

  private static final class Write extends Op {
    final ByteBuffer[] data;
    final long length;
    final long position;

    Write(ByteBuffer[] data, long position) {
      this.data = data;
      this.position = position;
      long n = 0;
      for (ByteBuffer b : data) {
        n += b.remaining();
      }
      this.length = n;
    }
  }

  private static final class Force extends Op {
  }

  private final class Read extends Op {
    final long position;
    final int length;

    Read(long position, int length) {
      this.position = position;
      this.length = length;
    }

    @Override
    Object run() throws IOException {
      ByteBuffer buf = ByteBuffer.allocate(length);
      long at = position;
      while (buf.hasRemaining()) {
        int n = channel.read(buf, at);
        if (n < 0) {
          break;
        }
        at += n;
      }
      return BufferInternal.buffer(Unpooled.wrappedBuffer(buf.array(), 0, buf.position()));
    }
  }

  private final class Size extends Op {
    @Override
    Object run() throws IOException {
      return channel.size();
    }
  }

  private final class Close extends Op {
    @Override
    Object run() throws IOException {
      closed = true;
      channel.close();
      return null;
    }
  }
}
