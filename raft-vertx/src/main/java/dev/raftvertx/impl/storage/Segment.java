package dev.raftvertx.impl.storage;

import java.util.Arrays;

/**
 * One segment file of the log, {@code log-<first index, 20 digits>.seg}, and the in-memory index
 * of its records: the file offset of each entry, so that a truncation finds its cut point without
 * reading the file. Confined to the storage's context.
 */
final class Segment {

  private static final String PREFIX = "log-";
  private static final String SUFFIX = ".seg";
  private static final int DIGITS = 20;

  final long firstIndex;
  final String path;
  private long[] offsets = new long[64];
  private int count;
  /** Offset just past the last record. */
  long end;
  /** Length of the file: records, then zeros written ahead (preallocation). */
  long allocated;
  /** Open only while the segment is being read or is the active (last) segment. */
  StorageFileSystem.FileHandle handle;

  Segment(long firstIndex, String path) {
    this.firstIndex = firstIndex;
    this.path = path;
  }

  /**
   * @param firstIndex the index of the segment's first entry
   * @return the segment's file name
   */
  static String fileName(long firstIndex) {
    String digits = Long.toString(firstIndex);
    return PREFIX + "0".repeat(DIGITS - digits.length()) + digits + SUFFIX;
  }

  /**
   * @param name a file name
   * @return the first index the name encodes, or -1 if it is not a segment file name
   */
  static long parseFirstIndex(String name) {
    if (name.length() != PREFIX.length() + DIGITS + SUFFIX.length() || !name.startsWith(PREFIX)
        || !name.endsWith(SUFFIX)) {
      return -1;
    }
    String digits = name.substring(PREFIX.length(), PREFIX.length() + DIGITS);
    for (int i = 0; i < DIGITS; i++) {
      if (digits.charAt(i) < '0' || digits.charAt(i) > '9') {
        return -1;
      }
    }
    try {
      long index = Long.parseLong(digits);
      return index >= 1 ? index : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  int count() {
    return count;
  }

  /** @return the index of the last entry; {@code firstIndex - 1} if empty */
  long lastIndex() {
    return firstIndex + count - 1;
  }

  /**
   * @param index an index held by this segment
   * @return the offset of its record
   */
  long offsetOf(long index) {
    return offsets[Math.toIntExact(index - firstIndex)];
  }

  /**
   * Records that the next entry's record starts at offset.
   *
   * @param offset the record's file offset
   */
  void add(long offset) {
    if (count == offsets.length) {
      offsets = Arrays.copyOf(offsets, count * 2);
    }
    offsets[count++] = offset;
  }

  /**
   * Forgets every entry from index on, whose record starts at the new end.
   *
   * @param index the first entry to forget, held by this segment
   */
  void cutAt(long index) {
    end = offsetOf(index);
    count = Math.toIntExact(index - firstIndex);
  }
}
