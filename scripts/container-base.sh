#!/usr/bin/env bash
# Makes the container base image debian:bookworm-slim without a registry: debootstrap
# --variant=minbase from this machine's own Debian mirror, trimmed like the official slim image,
# then `podman import`. Skips the work when the image exists (pass --force to rebuild).
# Exit 3 (and a reason on stderr) when it cannot run here: no root, podman, debootstrap or mirror.
set -euo pipefail

IMAGE="docker.io/library/debian:bookworm-slim"
SUITE="bookworm"

if [ "${1:-}" != "--force" ] && timeout 60 podman image exists "$IMAGE" 2>/dev/null; then
  echo "container-base: $IMAGE exists (cached)"
  exit 0
fi

cannot() { echo "container-base: cannot build the base image: $*" >&2; exit 3; }
[ "$(id -u)" -eq 0 ] || cannot "debootstrap and rootful podman need root (uid $(id -u))"
command -v podman >/dev/null || cannot "podman is not installed"
command -v debootstrap >/dev/null || cannot "debootstrap is not installed"

# The mirror apt uses here: the first enabled `deb` source with the plain suite (deb822
# *.sources or one-line *.list), read at run time so the image follows this machine's set-up.
# Prints "URI SUITE" pairs for bookworm, bookworm-updates and bookworm-security.
debian_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i+1) ~ "^" s "(-updates|-security)?$") print $i, $(i+1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" 'function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (u in uris) for (t in suites) if (suites[t] ~ "^" s "(-updates|-security)?$")
            print uris[u], suites[t]
        types = ""; enabled = ""; delete uris; delete suites }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      tolower($1) == "types:" { $1 = ""; types = $0 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[i] = $i }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suites[i] = $i }
      END { flush() }' "$f"
  done
}
sources="$(debian_sources | awk '!seen[$0]++')"
mirror="$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")"
[ -n "$mirror" ] || cannot "no enabled '$SUITE' Debian source in /etc/apt/sources.list{,.d}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || cannot "$keyring is missing (apt-get install debian-archive-keyring)"

# A quick look at the mirror first: debootstrap's own retries take many minutes to give up.
if [[ "$mirror" == http* ]] && ! timeout 60 wget -q -T 20 -t 2 -O /dev/null \
    "$mirror/dists/$SUITE/InRelease"; then
  cannot "the Debian mirror $mirror does not answer"
fi

work="$(mktemp -d /var/tmp/dlx-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "container-base: debootstrap --variant=minbase $SUITE from $mirror"
if ! timeout --kill-after=10 900 debootstrap --variant=minbase --keyring="$keyring" "$SUITE" "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  cannot "debootstrap failed or took over 15 minutes (mirror $mirror unreachable or slow?)"
fi

# The same sources as this machine (updates and security included), and the official slim
# image's trimming: no docs, man pages or locales in this or any later layer.
awk '{ print "deb " $1 " " $2 " main" }' <<<"$sources" >"$root/etc/apt/sources.list"
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/lib/apt/lists/* \
  "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$root/etc/apt/apt.conf.d/99-no-recommends"

tar --numeric-owner -C "$root" -c . |
  timeout --kill-after=10 600 podman import --quiet --change 'CMD ["bash"]' --message "debootstrap $SUITE minbase from $mirror" \
    - "$IMAGE" >/dev/null
echo "container-base: imported $IMAGE ($(timeout 60 podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
