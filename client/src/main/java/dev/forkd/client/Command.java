package dev.forkd.client;

import java.io.IOException;

/**
 * One forkctl command ({@code run}, {@code pipe}, ...): reads its own options and operands from
 * {@code args} and returns the exit code. Errors a user can fix are IllegalArgumentException, the
 * daemon's refusals ForkdException: {@link Forkctl} turns both into a line on stderr and 125.
 */
interface Command {
  int run(Cli cli, Args args) throws IOException;
}
