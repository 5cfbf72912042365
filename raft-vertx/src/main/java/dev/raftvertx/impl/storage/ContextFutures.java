package dev.raftvertx.impl.storage;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.function.Supplier;

/** Future helpers shared by the file storage and the file snapshot store. */
final class ContextFutures {

  private ContextFutures() {
  }

  /**
   * Runs an action on a context, at once if already there, and completes the result there.
   *
   * @param context the context the caller's state is confined to
   * @param action the action; a runtime exception it throws fails the returned future
   * @return the action's future
   */
  static <T> Future<T> onContext(Context context, Supplier<Future<T>> action) {
    if (Vertx.currentContext() == context) {
      return guarded(action);
    }
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> guarded(action).onComplete(promise));
    return promise.future();
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
