#!/usr/bin/env bash
# Everything a fresh machine needs before `make run` / `make test`: Debian packages,
# running services (Mosquitto, PostgreSQL), npm packages, the build. Each step is
# skipped when already done, so a second run takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(socat ffmpeg libusb-1.0-0 libusb-1.0-0-dev libudev-dev libgpiod-dev chromium zbar-tools fonts-unifont mosquitto)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Services the tests talk to. They are normally already running; start them if not.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 1883; then
  echo "setup: starting mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
fi
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "setup: starting postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
for _ in $(seq 1 50); do port_open 1883 && break; sleep 0.1; done

# npm packages: reinstall only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run build --silent --workspaces --if-present >/dev/null
