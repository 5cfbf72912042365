package dev.raftvertx.impl.storage;

import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Run as a separate process by {@link FileRaftStorageTest}: tries to open a storage on the data
 * directory given as the first argument and prints {@code OPENED} or {@code REFUSED <message>}.
 * Exits with 0 when refused, 3 when opened, 1 on any other error.
 */
public final class LockProbe {

  private LockProbe() {
  }

  /**
   * @param args the data directory, the cluster id, the node id
   * @throws Exception if Vert.x fails to close
   */
  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    int status;
    try {
      FileRaftStorage storage = new FileRaftStorage(vertx, Path.of(args[0]));
      try {
        storage.open(args[1], args[2]).await(60, TimeUnit.SECONDS);
        System.out.println("OPENED");
        storage.close().await(60, TimeUnit.SECONDS);
        status = 3;
      } catch (RuntimeException e) {
        System.out.println("REFUSED " + e.getMessage());
        status = 0;
      }
    } finally {
      vertx.close().await(60, TimeUnit.SECONDS);
    }
    System.exit(status);
  }
}
