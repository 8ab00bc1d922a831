#!/usr/bin/env bash
# Give Dawn (npm `webgpu`) a WebGPU adapter on a Linux machine without a GPU: Mesa's software
# Vulkan driver "lavapipe", version 23 or newer. Debian 12 ships Mesa 22, whose lavapipe Dawn
# rejects (it lacks the dynamic-indexing features Dawn requires), so on bookworm we take Mesa from
# bookworm-backports. Safe to run twice; needs root (CI runs as root).
#
# The archive address is read from the apt sources already configured on the machine (deb822
# `debian.sources` or one-line `sources.list`), so mirrors and proxies keep working.
set -euo pipefail

installed_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0; }

if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && dpkg --compare-versions "$(installed_version)" ge 23; then
  echo "lavapipe: Mesa $(installed_version) already installed"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  archive=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # first non-security URIs: line of the deb822 file
    archive=$(awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$archive" ] && [ -f /etc/apt/sources.list ]; then
    archive=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  if [ -z "$archive" ]; then
    echo "install-lavapipe: no Debian archive found in /etc/apt/sources.list{,.d/debian.sources}" >&2
    exit 1
  fi
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb $archive bookworm-backports main" > /etc/apt/sources.list.d/gmnas-backports.list
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends -t bookworm-backports libvulkan1 mesa-vulkan-drivers >/dev/null
else
  # newer Debian/Ubuntu releases already ship Mesa >= 23
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libvulkan1 mesa-vulkan-drivers >/dev/null
fi
echo "lavapipe: installed Mesa $(installed_version)"
