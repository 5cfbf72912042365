package dev.raftvertx.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class ConfigurationTest {

  @Test
  void encodingRoundTripsAndRejectsGarbage() {
    Configuration c = new Configuration(new TreeSet<>(Set.of("a", "b")), new TreeSet<>(Set.of("a", "c")),
        new TreeSet<>(Set.of("d")), new TreeMap<>(Map.of("a", "h:1", "d", "h:4")));
    assertEquals(c, Configuration.decode(c.encode()));
    assertThrows(IllegalArgumentException.class, () -> Configuration.decode(new byte[] {9}));
    assertThrows(IllegalArgumentException.class, () -> Configuration.decode(new byte[] {1, 0, 0}));
    byte[] trailing = java.util.Arrays.copyOf(c.encode(), c.encode().length + 1);
    assertThrows(IllegalArgumentException.class, () -> Configuration.decode(trailing));
  }

  @Test
  void jointQuorumNeedsMajoritiesOfBothHalves() {
    Configuration joint = new Configuration(new TreeSet<>(Set.of("a", "b", "c")),
        new TreeSet<>(Set.of("c", "d", "e")), new TreeSet<>(), new TreeMap<>());
    assertEquals(false, Quorum.isQuorum(joint, Set.of("a", "b")));
    assertEquals(true, Quorum.isQuorum(joint, Set.of("a", "c", "d")));
    assertEquals(5, Quorum.committedIndex(joint, Map.of("a", 5L, "b", 9L, "c", 1L, "d", 7L, "e", 5L)));
  }
}
