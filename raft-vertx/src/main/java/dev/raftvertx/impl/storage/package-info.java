/**
 * The file-based {@link dev.raftvertx.spi.RaftStorage} and {@link dev.raftvertx.spi.SnapshotStore}.
 * Applications create a {@link dev.raftvertx.impl.storage.FileRaftStorage} on a node's data
 * directory and a {@link dev.raftvertx.impl.storage.FileSnapshotStore} on its
 * {@value dev.raftvertx.impl.storage.FileSnapshotStore#DIRECTORY} subdirectory, and use them
 * through the SPI; {@link dev.raftvertx.impl.storage.StorageFileSystem}, through which both do all
 * their file access, exists so that tests can inject faults. Everything else here is
 * package-private.
 */
package dev.raftvertx.impl.storage;
