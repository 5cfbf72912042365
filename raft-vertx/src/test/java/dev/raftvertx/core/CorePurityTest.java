package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The core is deterministic: no Vert.x, no threads, no wall clock, no I/O. This test reads the
 * sources of the {@code core} package and fails on any forbidden use.
 */
class CorePurityTest {

  private static final List<Pattern> FORBIDDEN = List.of(
      Pattern.compile("import\\s+io\\.vertx"),
      Pattern.compile("import\\s+java\\.util\\.concurrent"),
      Pattern.compile("import\\s+java\\.nio\\.(file|channels)"),
      Pattern.compile("import\\s+java\\.net"),
      Pattern.compile("import\\s+java\\.io\\.(File|RandomAccessFile)"),
      Pattern.compile("import\\s+java\\.time"),
      Pattern.compile("\\bThread\\b"),
      Pattern.compile("System\\.(currentTimeMillis|nanoTime)"),
      Pattern.compile("new\\s+(java\\.util\\.)?Random\\("),
      Pattern.compile("Math\\.random"),
      Pattern.compile("\\bsynchronized\\b"));

  @Test
  void coreSourcesUseNoVertxThreadsClocksOrIo() throws IOException {
    Path dir = Path.of("src/main/java/dev/raftvertx/core");
    assertTrue(Files.isDirectory(dir), "run from the raft-vertx module: " + dir.toAbsolutePath());
    List<String> offences = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        List<String> lines = Files.readAllLines(f);
        for (int i = 0; i < lines.size(); i++) {
          String line = lines.get(i);
          if (line.trim().startsWith("*") || line.trim().startsWith("//")) {
            continue; // comments may name what they avoid
          }
          for (Pattern p : FORBIDDEN) {
            if (p.matcher(line).find()) {
              offences.add(f.getFileName() + ":" + (i + 1) + ": " + line.trim());
            }
          }
        }
      }
    }
    assertTrue(offences.isEmpty(), "forbidden in core: " + offences);
  }
}
