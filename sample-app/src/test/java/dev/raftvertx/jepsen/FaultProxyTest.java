package dev.raftvertx.jepsen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fault proxy passes, cuts, stalls and delays one directed link. */
class FaultProxyTest {

  ServerSocket target;
  FaultProxy proxy;
  int proxyPort;
  final BlockingQueue<Integer> received = new ArrayBlockingQueue<>(1000);

  @BeforeEach
  void start() throws IOException {
    target = new ServerSocket(0);
    Thread acceptor = new Thread(() -> {
      while (!target.isClosed()) {
        try {
          Socket s = target.accept();
          Thread reader = new Thread(() -> {
            try (InputStream in = s.getInputStream()) {
              int b;
              while ((b = in.read()) >= 0) {
                received.add(b);
              }
            } catch (IOException e) {
              // connection reset by the proxy
            }
          });
          reader.setDaemon(true);
          reader.start();
        } catch (IOException e) {
          return;
        }
      }
    });
    acceptor.setDaemon(true);
    acceptor.start();
    try (ServerSocket s = new ServerSocket(0)) {
      proxyPort = s.getLocalPort();
    }
    proxy = new FaultProxy();
    proxy.addLink("a", "b", proxyPort, target.getLocalPort());
  }

  @AfterEach
  void stop() throws IOException {
    proxy.close();
    target.close();
  }

  Integer next(long millis) throws InterruptedException {
    return received.poll(millis, TimeUnit.MILLISECONDS);
  }

  @Test
  void passesStallsDelaysAndCuts() throws Exception {
    try (Socket s = new Socket("127.0.0.1", proxyPort)) {
      s.getOutputStream().write(1);
      assertEquals(1, next(5000));

      proxy.set("a", "b", FaultProxy.Mode.STALL);
      assertEquals(List.of("a->b STALL"), proxy.faulty());
      Thread.sleep(200);
      s.getOutputStream().write(2);
      assertEquals(null, next(500), "a stalled link delivers nothing");
      proxy.set("a", "b", FaultProxy.Mode.PASS);
      assertEquals(2, next(5000), "what was sent during the stall arrives once healed");

      proxy.delay("a", "b", 400);
      long t0 = System.nanoTime();
      s.getOutputStream().write(3);
      s.getOutputStream().write(4);
      assertEquals(3, next(5000));
      assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(380), "delayed");
      assertEquals(4, next(5000), "order is kept");
      proxy.delay("a", "b", 0);

      proxy.set("a", "b", FaultProxy.Mode.CUT);
      s.setSoTimeout(5000);
      assertEquals(-1, readOrReset(s), "the open connection is closed");
    }
    try (Socket s = new Socket("127.0.0.1", proxyPort)) {
      s.setSoTimeout(5000);
      assertEquals(-1, readOrReset(s), "a new connection is closed at once while cut");
    }
    proxy.healAll();
    assertEquals(List.of(), proxy.faulty());
    try (Socket s = new Socket("127.0.0.1", proxyPort)) {
      s.getOutputStream().write(5);
      assertEquals(5, next(5000));
    }
  }

  private static int readOrReset(Socket s) throws IOException {
    try {
      return s.getInputStream().read();
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      return -1; // reset
    }
  }

  @Test
  void unknownLinkIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> proxy.set("b", "a",
        FaultProxy.Mode.CUT));
  }
}
