package dev.raftvertx.spi;

/**
 * The durable state of a node is damaged in a way that cannot be explained by a crash during a
 * write (a torn tail), so the node cannot know which of its acknowledged entries or votes it still
 * has. Such a node must not take part in the cluster again with this data: serving could break
 * Raft's safety. The message names what is corrupt (file, offset, index) and how to recover.
 */
public class CorruptLogException extends StorageException {

  private final String dataDir;

  /**
   * @param problem what is corrupt, with the file, the byte offset and the log index where known
   * @param dataDir the node's data directory, named in the recovery advice
   */
  public CorruptLogException(String problem, String dataDir) {
    super("the log is corrupt: " + problem + "; this node must not serve: wipe " + dataDir
        + " and re-add it as a new member, or restore it from a backup");
    this.dataDir = dataDir;
  }

  /** @return the data directory holding the corrupt state */
  public String dataDir() {
    return dataDir;
  }
}
