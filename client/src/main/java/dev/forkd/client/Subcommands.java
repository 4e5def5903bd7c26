package dev.forkd.client;

import java.io.IOException;

/**
 * A command made of sub-commands ({@code files put}, {@code session open}): its usage with no word
 * (exit code 125) or with {@code --help} (0), else the sub-command named.
 */
abstract class Subcommands implements Command {
  private final String usage;

  Subcommands(String usage) {
    this.usage = usage;
  }

  @Override
  public final int run(Cli cli, Args a) throws IOException {
    String sub = a.next();
    if (sub == null || Args.isHelp(sub)) {
      cli.out.println(usage);
      return sub == null ? ExitCodes.FORKCTL : 0;
    }
    return run(cli, sub, a);
  }

  /** Runs sub-command {@code sub} with the words after it. */
  abstract int run(Cli cli, String sub, Args a) throws IOException;
}
