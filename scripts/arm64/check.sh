#!/usr/bin/env bash
# Trains on linux-arm64 under Debian's qemu-user-static and checks that the checkpoint has the same bytes as on x64,
# and that every kernel on every path gives the same output bits there as here (`quick digest` of Iwae.Bench).
#
#   scripts/arm64/check.sh [train options...]     (default: an epoch of the default model, evaluated at k = 50)
#
# Installs qemu-user-static and an arm64 sysroot (libc6, libgcc-s1, libstdc++6, libssl3, zlib1g from Debian's arm64
# packages, unpacked into $IWAE_ARM64_SYSROOT, by default /tmp/iwae-arm64-sysroot) when they are missing: run as root
# on Debian, with the network to Debian's mirrors and NuGet (for the linux-arm64 runtime pack). Emulation is about 25x
# slower than the machine, so the default is one epoch, not the whole compare. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
sysroot=${IWAE_ARM64_SYSROOT:-/tmp/iwae-arm64-sysroot}
work=$(mktemp -d /tmp/iwae-arm64-check.XXXXXX)
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--epochs 1 --eval-k 50)
args+=(--seed 5 --threads 2)

if ! command -v qemu-aarch64-static >/dev/null; then
  apt-get update -qq && apt-get install -y -qq qemu-user-static >/dev/null
fi
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
  mkdir -p "$sysroot" "$work/debs"
  (cd "$work/debs" && apt-get download -qq libc6:arm64 libgcc-s1:arm64 libstdc++6:arm64 libssl3:arm64 zlib1g:arm64)
  for d in "$work"/debs/*.deb; do dpkg -x "$d" "$sysroot"; done
fi

echo "# publishing iwae for linux-arm64 (self-contained) and building it for this machine"
dotnet publish Iwae.Cli/Iwae.Cli.csproj -c Release -r linux-arm64 --self-contained -p:InvariantGlobalization=true \
  -o "$work/arm64" -v quiet -nologo >/dev/null
dotnet build Iwae.Cli/Iwae.Cli.csproj -c Release -v quiet -nologo >/dev/null
dotnet publish Iwae.Bench/Iwae.Bench.csproj -c Release -r linux-arm64 --self-contained -p:InvariantGlobalization=true \
  -o "$work/arm64-bench" -v quiet -nologo >/dev/null
dotnet build Iwae.Bench/Iwae.Bench.csproj -c Release -v quiet -nologo >/dev/null

# The kernels: one hash of the output bits per kernel and path; each machine's paths must agree, and the machines too.
digest() { grep '^digest kernel=' | sed 's/ path=[^ ]*//' | sort -u; }
echo "# kernels on x64: quick digest"
dotnet Iwae.Bench/bin/Release/net10.0/Iwae.Bench.dll quick digest | tee "$work/x64.digest" | tail -1
echo "# kernels on arm64 under qemu: quick digest"
DOTNET_EnableWriteXorExecute=0 qemu-aarch64-static -L "$sysroot" "$work/arm64-bench/Iwae.Bench" quick digest \
  | tee "$work/arm64.digest" | tail -1
rc=0
if diff <(digest < "$work/x64.digest") <(digest < "$work/arm64.digest") >/dev/null; then
  echo "same kernel bits: $(digest < "$work/x64.digest" | wc -l) kernels on $(grep '^# digest' "$work/x64.digest" | cut -d' ' -f4) (x64) and $(grep '^# digest' "$work/arm64.digest" | cut -d' ' -f4) (arm64)"
else
  echo "DIFFERENT kernel bits:"; diff <(digest < "$work/x64.digest") <(digest < "$work/arm64.digest") || true
  rc=1
fi

echo "# x64: iwae train ${args[*]}"
dotnet Iwae.Cli/bin/Release/net10.0/iwae.dll train "${args[@]}" --out "$work/x64" | tail -2
echo "# arm64 under qemu: iwae train ${args[*]}"
DOTNET_EnableWriteXorExecute=0 qemu-aarch64-static -L "$sysroot" "$work/arm64/iwae" train "${args[@]}" --out "$work/arm64-run" | tail -2

kernels() { grep -o '"kernels": *"[^"]*"' "$1/results.json" | sed 's/.*: *//'; }
echo "# kernels: x64 $(kernels "$work/x64"), arm64 $(kernels "$work/arm64-run")"
for f in "$work"/x64/*.safetensors; do
  name=$(basename "$f")
  if cmp -s "$f" "$work/arm64-run/$name"; then
    echo "same bytes: $name ($(sha256sum < "$f" | cut -c1-16))"
  else
    echo "DIFFERENT: $name (x64 $(sha256sum < "$f" | cut -c1-16), arm64 $(sha256sum < "$work/arm64-run/$name" | cut -c1-16))"
    rc=1
  fi
done
rm -rf "$work"
exit $rc
