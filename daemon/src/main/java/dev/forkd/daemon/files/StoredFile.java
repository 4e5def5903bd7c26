package dev.forkd.daemon.files;

import java.time.Instant;

/** What the store says of one file. */
public record StoredFile(String id, long size, Instant lastUsed, boolean inMemory) {}
