#!/usr/bin/env bash
# Installs the Debian packages anomalyd needs to build, test and run. Idempotent; prints what it installs.
# Runs as root on a fresh Debian 12 machine (CI) or through sudo.
set -euo pipefail

PACKAGES=(
  pkg-config curl ca-certificates
  libopenblas-dev                                   # GEMM (cblas) and LAPACK
  ffmpeg libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libavdevice-dev  # ingest; ffmpeg CLI makes test videos
  libzmq3-dev                                       # event publisher
  libmosquitto-dev                                  # MQTT publisher (optional at run time, linked always)
  mosquitto mosquitto-clients                       # real MQTT broker and mosquitto_sub subscriber for tests
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav  # real RTSP server for tests
  python3-zmq python3-numpy python3-scipy           # real ZeroMQ subscriber and reference checks in tests (scipy: tail fits)
  systemd                                           # systemd-analyze verifies the unit files in the tests
  chromium chromium-driver python3-selenium         # a real headless browser on the review page in the tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages already installed"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org and retry" >&2
  exit 1
fi
