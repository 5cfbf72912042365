package dev.raftvertx.kv.bench;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What the soak reads about a node process from outside it, without disturbing it: open file
 * descriptors, resident memory and threads from {@code /proc/<pid>}, bytes on disk of its data
 * directory, and the heap after each garbage collection from its GC log ({@code -Xlog:gc}). And,
 * twice a run, the live heap after a full collection that {@code jcmd <pid> GC.run} forces.
 */
final class SoakProbe {

  /** "Pause Young (Normal) (G1 Evacuation Pause) 45M->12M(256M) 3.456ms": before, after, total. */
  private static final Pattern GC_LINE =
      Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");
  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");

  /** Bytes read so far of each GC log, and the heap after the latest collection seen in it. */
  private final Map<Path, long[]> gcLogs = new HashMap<>();

  /**
   * @param pid a process
   * @return its open file descriptors, or -1 if unreadable
   */
  static long openFiles(long pid) {
    try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      return fds.count();
    } catch (IOException | UncheckedIOException e) {
      return -1;
    }
  }

  /**
   * @param pid a process
   * @param field a field of {@code /proc/<pid>/status}, e.g. "VmRSS" (kB) or "Threads"
   * @return its number, or -1 if unreadable
   */
  static long procStatus(long pid, String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith(field + ":")) {
          String v = line.substring(field.length() + 1).trim();
          int space = v.indexOf(' ');
          return Long.parseLong(space < 0 ? v : v.substring(0, space));
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return -1;
  }

  /** Bytes and files under a directory. */
  record Disk(long bytes, int segments, int snapshots) {
  }

  /**
   * @param dir a node's data directory
   * @return the bytes of its files, and how many log segments and snapshot files it holds
   */
  static Disk disk(Path dir) {
    long[] bytes = {0};
    int[] segments = {0};
    int[] snapshots = {0};
    if (!Files.isDirectory(dir)) {
      return new Disk(0, 0, 0);
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.forEach(f -> {
        try {
          if (Files.isRegularFile(f)) {
            bytes[0] += Files.size(f);
            String name = f.getFileName().toString();
            if (name.startsWith("log-") && name.endsWith(".seg")) {
              segments[0]++;
            } else if (name.startsWith("snapshot-")) {
              snapshots[0]++;
            }
          }
        } catch (IOException e) {
          // deleted while walking: a compaction
        }
      });
    } catch (IOException | UncheckedIOException e) {
      // a directory deleted while walking: count what was seen
    }
    return new Disk(bytes[0], segments[0], snapshots[0]);
  }

  /**
   * Reads what the GC log gained since the last call.
   *
   * @param gcLog a process's GC log
   * @return the heap in bytes after the latest collection logged so far, or -1 if none yet
   */
  long heapAfterGc(Path gcLog) {
    long[] state = gcLogs.computeIfAbsent(gcLog, p -> new long[] {0, -1});
    try (RandomAccessFile f = new RandomAccessFile(gcLog.toFile(), "r")) {
      long length = f.length();
      if (length > state[0]) {
        byte[] buf = new byte[(int) Math.min(length - state[0], 4 << 20)];
        f.seek(state[0]);
        f.readFully(buf);
        String text = new String(buf, StandardCharsets.UTF_8);
        int end = text.lastIndexOf('\n');
        if (end >= 0) {
          state[0] += text.substring(0, end + 1).getBytes(StandardCharsets.UTF_8).length;
          for (String line : text.substring(0, end).split("\n")) {
            Matcher m = GC_LINE.matcher(line);
            if (m.find()) {
              state[1] = bytes(m.group(3), m.group(4));
            }
          }
        }
      }
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      // not written yet
    } catch (IOException e) {
      // try again next time
    }
    return state[1];
  }

  private static long bytes(String n, String unit) {
    long v = Long.parseLong(n);
    return switch (unit) {
      case "K" -> v << 10;
      case "M" -> v << 20;
      default -> v << 30;
    };
  }

  /** @return the jcmd of this JDK, or null if it has none */
  static Path jcmd() {
    Path p = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    return Files.isExecutable(p) ? p : null;
  }

  /**
   * Forces a full collection in a process ({@code jcmd <pid> GC.run}) and reads the heap used
   * after it ({@code GC.heap_info}): the live data. Stops the process's threads for the length of
   * a full collection.
   *
   * @param pid a JVM
   * @return the bytes used after the collection, or -1 if it could not be measured
   */
  static long liveHeapAfterFullGc(long pid) {
    Path jcmd = jcmd();
    if (jcmd == null) {
      return -1;
    }
    if (run(List.of(jcmd.toString(), String.valueOf(pid), "GC.run")) == null) {
      return -1;
    }
    String info = run(List.of(jcmd.toString(), String.valueOf(pid), "GC.heap_info"));
    if (info == null) {
      return -1;
    }
    Matcher m = HEAP_USED.matcher(info);
    return m.find() ? Long.parseLong(m.group(1)) << 10 : -1;
  }

  private static String run(List<String> cmd) {
    Path out = null;
    try {
      out = Files.createTempFile("soak-jcmd-", ".txt");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(out.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return null;
      }
      return p.exitValue() == 0 ? Files.readString(out) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException e) {
          // a temp file left behind
        }
      }
    }
  }
}
