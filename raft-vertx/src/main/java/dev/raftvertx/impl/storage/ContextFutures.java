package dev.raftvertx.impl.storage;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.function.Supplier;

/** Future helpers shared by the file storage and the file snapshot store. */
final class ContextFutures {

  private ContextFutures() {
  }

  /**
   * Runs an action on a context, at once if already there, and completes the result there. A
   * duplicated context of it (Vert.x runs timers and event-bus handlers on those) counts as
   * there: queueing a call from one while calls from the context itself run at once would let a
   * later call overtake an earlier one (a write appending index N while the log continues at M).
   *
   * @param context the context the caller's state is confined to
   * @param action the action; a runtime exception it throws fails the returned future
   * @return the action's future
   */
  static <T> Future<T> onContext(Context context, Supplier<Future<T>> action) {
    Context current = Vertx.currentContext();
    if (current != null && base(current) == base(context)) {
      return guarded(action);
    }
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> guarded(action).onComplete(promise));
    return promise.future();
  }

  /**
   * @param c a context
   * @return the context {@code c} duplicates, or {@code c} itself if it is not a duplicate
   */
  static Context base(Context c) {
    return c instanceof ContextInternal ci ? ci.unwrap() : c;
  }

  private static <T> Future<T> guarded(Supplier<Future<T>> action) {
    try {
      return action.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Closes a file once some work on it is done, whatever its outcome.
   *
   * @param h the file
   * @param work the work
   * @return the work's result, or the first failure of the work and the close
   */
  static <T> Future<T> closeAfter(StorageFileSystem.FileHandle h, Future<T> work) {
    return work.transform(done -> h.close().transform(closed -> {
      if (done.failed()) {
        return Future.failedFuture(done.cause());
      }
      return closed.failed() ? Future.failedFuture(closed.cause())
          : Future.succeededFuture(done.result());
    }));
  }

  /**
   * @param first an outcome
   * @param second another outcome
   * @return the first failure among them, or success
   */
  static Future<Void> firstFailure(AsyncResult<?> first, AsyncResult<?> second) {
    if (first.failed()) {
      return Future.failedFuture(first.cause());
    }
    return second.failed() ? Future.failedFuture(second.cause()) : Future.succeededFuture();
  }
}
