package dev.forkd.daemon.ops;

import dev.forkd.client.ForkdClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test certificates made at test time with the JDK's keytool: a CA, and server and client
 * certificates it signed, written as PEM (certificates, PKCS#8 keys) as forkd's flags take them.
 */
public final class TestCerts {
  private static final String PASS = "forkd-test";
  private final Path dir;
  private final Path keytool;

  /**
   * A CA in {@code dir}, the daemon's server certificate "localhost" (for 127.0.0.1 and localhost),
   * and a client certificate for each of {@code clients}.
   */
  public static TestCerts forLocalhost(Path dir, String... clients)
      throws IOException, InterruptedException {
    TestCerts certs = new TestCerts(dir);
    certs.issue("localhost", "ip:127.0.0.1,dns:localhost", true);
    for (String c : clients) {
      certs.issue(c, null, false);
    }
    return certs;
  }

  public TestCerts(Path dir) throws IOException, InterruptedException {
    this.dir = dir;
    this.keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    genkey("ca", "CN=forkd test CA", "bc:c");
    Files.writeString(pem("ca"), run(List.of("-exportcert", "-rfc", "-alias", "ca"), "ca"));
  }

  /** The CA certificate (PEM). */
  public Path ca() {
    return pem("ca");
  }

  /**
   * Issues a certificate for {@code name} (subject CN; with {@code san}, e.g. "ip:127.0.0.1");
   * writes name.pem (chain: the certificate, then the CA) and name.key.
   */
  public void issue(String name, String san, boolean server)
      throws IOException, InterruptedException {
    genkey(name, "CN=" + name, null);
    Path csr = dir.resolve(name + ".csr");
    Files.writeString(csr, run(List.of("-certreq", "-alias", name), name));
    List<String> gencert =
        new ArrayList<>(
            List.of(
                "-gencert",
                "-rfc",
                "-alias",
                "ca",
                "-infile",
                csr.toString(),
                "-validity",
                "2",
                "-ext",
                "eku=" + (server ? "serverAuth" : "clientAuth")));
    if (san != null) {
      gencert.add("-ext");
      gencert.add("san=" + san);
    }
    String cert = run(gencert, "ca");
    Files.writeString(pem(name), cert + Files.readString(ca()));
    Files.writeString(key(name), privateKeyPem(name));
  }

  /** A Java client of 127.0.0.1:{@code port} with mutual TLS as {@code name}. */
  public ForkdClient client(String name, int port) {
    return ForkdClient.tls("127.0.0.1", port, ca(), pem(name), key(name));
  }

  public Path pem(String name) {
    return dir.resolve(name + ".pem");
  }

  public Path key(String name) {
    return dir.resolve(name + ".key");
  }

  private void genkey(String alias, String dname, String ext)
      throws IOException, InterruptedException {
    List<String> args =
        new ArrayList<>(
            List.of(
                "-genkeypair",
                "-alias",
                alias,
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                dname,
                "-validity",
                "2"));
    if (ext != null) {
      args.add("-ext");
      args.add(ext);
    }
    run(args, alias);
  }

  private Path store(String alias) {
    return dir.resolve(alias + ".p12");
  }

  private String run(List<String> args, String storeAlias)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(keytool.toString());
    cmd.addAll(args);
    cmd.addAll(
        List.of(
            "-keystore",
            store(storeAlias).toString(),
            "-storetype",
            "PKCS12",
            "-storepass",
            PASS,
            "-keypass",
            PASS,
            "-noprompt"));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("keytool " + args + " failed");
    }
    return out;
  }

  private String privateKeyPem(String alias) throws IOException {
    try (InputStream in = Files.newInputStream(store(alias))) {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(in, PASS.toCharArray());
      Key k = ks.getKey(alias, PASS.toCharArray());
      return "-----BEGIN PRIVATE KEY-----\n"
          + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
              .encodeToString(k.getEncoded())
          + "\n-----END PRIVATE KEY-----\n";
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException(e);
    }
  }
}
