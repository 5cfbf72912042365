package dev.raftvertx.testing;

/**
 * The seed and the iteration count of a fuzz test, from system properties, printed so that a
 * failing run can be replayed.
 *
 * <ul>
 *   <li>{@code -Draft.fuzz.seed=N} replays a run (default: a new seed each run, printed);
 *   <li>{@code -Draft.fuzz.iterations=N} runs N cases instead of the test's bounded default (a
 *       longer fuzz pass).
 * </ul>
 *
 * <p>Each case draws from its own {@link java.util.Random} seeded with {@link #caseSeed}, so a
 * failure names the case and the case alone can be replayed with
 * {@code -Draft.fuzz.seed=<run seed> -Draft.fuzz.first=<case>}.
 *
 * @param seed the run's seed
 * @param first the first case to run
 * @param iterations how many cases to run
 */
public record FuzzSeed(long seed, int first, int iterations) {

  /**
   * Reads the properties and prints the seed.
   *
   * @param test the test's name, for the printed line
   * @param defaultIterations the bounded count a normal build runs
   * @return the seed and count
   */
  public static FuzzSeed fromProperties(String test, int defaultIterations) {
    String given = System.getProperty("raft.fuzz.seed");
    long seed = given != null && !given.isBlank() ? Long.parseLong(given.trim())
        : new java.security.SecureRandom().nextLong();
    int first = Integer.getInteger("raft.fuzz.first", 0);
    int iterations = Integer.getInteger("raft.fuzz.iterations", defaultIterations);
    System.out.println("FUZZ " + test + ": seed " + seed + ", cases " + first + ".."
        + (first + iterations - 1) + " (replay: -Draft.fuzz.seed=" + seed + "; longer run:"
        + " -Draft.fuzz.iterations=N)");
    return new FuzzSeed(seed, first, iterations);
  }

  /**
   * @param i a case number
   * @return the seed of that case's own random generator
   */
  public long caseSeed(int i) {
    long z = seed + (long) i * 0x9E3779B97F4A7C15L; // SplitMix64: well-spread per-case seeds
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * @param i a case number
   * @return how to replay that case, for a failure message
   */
  public String replay(int i) {
    return "case " + i + " of seed " + seed + " (replay: -Draft.fuzz.seed=" + seed
        + " -Draft.fuzz.first=" + i + " -Draft.fuzz.iterations=1)";
  }

  /** @return the index after the last case */
  public int end() {
    return first + iterations;
  }
}
