#!/usr/bin/env bash
# Installs forkd as a systemd service from this checkout (as root):
#   /opt/forkd/lib/*.jar, /opt/forkd/libexec/forkd-zygote{,-python}, /opt/forkd/README.md,
#   /etc/systemd/system/forkd.{service,socket}, /usr/lib/sysusers.d/forkd.conf,
#   /usr/lib/tmpfiles.d/forkd.conf; then creates the group forkd and /run/forkd and starts
#   forkd.socket. DESTDIR=/some/root installs into a staging tree and starts nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${DESTDIR:-}"
if [ -z "$DEST" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (or set DESTDIR to stage the files)" >&2
  exit 1
fi
if [ -z "${FORKD_SKIP_BUILD:-}" ]; then
  "$ROOT/bin/build-if-needed"
fi
install -d "$DEST/opt/forkd/lib" "$DEST/opt/forkd/libexec" "$DEST/etc/systemd/system" \
  "$DEST/usr/lib/sysusers.d" "$DEST/usr/lib/tmpfiles.d"
rm -f "$DEST"/opt/forkd/lib/*.jar
install -m 0644 "$ROOT"/daemon/target/forkd-daemon-*.jar "$ROOT"/daemon/target/lib/*.jar \
  "$DEST/opt/forkd/lib/"
install -m 0755 "$ROOT/native/build/forkd-zygote" "$DEST/opt/forkd/libexec/forkd-zygote"
# The warm-Python launcher of the embedded profile "python" sits next to forkd-zygote.
install -m 0755 "$ROOT/native/build/forkd-zygote-python" "$DEST/opt/forkd/libexec/forkd-zygote-python"
install -m 0644 "$ROOT/README.md" "$DEST/opt/forkd/README.md"
install -m 0644 "$ROOT/systemd/forkd.service" "$ROOT/systemd/forkd.socket" \
  "$DEST/etc/systemd/system/"
install -m 0644 "$ROOT/systemd/sysusers.d/forkd.conf" "$DEST/usr/lib/sysusers.d/forkd.conf"
install -m 0644 "$ROOT/systemd/tmpfiles.d/forkd.conf" "$DEST/usr/lib/tmpfiles.d/forkd.conf"
if [ -n "$DEST" ]; then
  echo "install.sh: staged under $DEST"
  exit 0
fi
systemd-sysusers /usr/lib/sysusers.d/forkd.conf
systemd-tmpfiles --create /usr/lib/tmpfiles.d/forkd.conf
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now forkd.socket
  echo "install.sh: forkd.socket listening on /run/forkd/forkd.sock (forkd starts on first use)"
else
  echo "install.sh: installed; systemd is not running here, so nothing was started"
fi
