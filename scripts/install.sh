#!/usr/bin/env bash
# Builds vsurvey and vsurvey-server in release mode and copies them onto the
# PATH: into PREFIX/bin (PREFIX is ~/.local unless given), with the shipped
# forms in PREFIX/share/vsurvey/forms.
#   bash scripts/install.sh                 # ~/.local/bin
#   sudo bash scripts/install.sh /usr/local # for every user of the machine
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-$HOME/.local}
configuration=${VSURVEY_BUILD_CONFIGURATION:-release}

echo "== building ($configuration)"
swift build -c "$configuration" --product vsurvey
swift build -c "$configuration" --product vsurvey-server
bin=$(swift build -c "$configuration" --show-bin-path)

mkdir -p "$prefix/bin" "$prefix/share/vsurvey"
install -m 0755 "$bin/vsurvey" "$bin/vsurvey-server" "$prefix/bin/"
# The resource bundles beside the programs (the server's OpenAPI document).
for bundle in "$bin"/*.resources; do
    rm -rf "$prefix/bin/$(basename "$bundle")"
    cp -R "$bundle" "$prefix/bin/"
done
rm -rf "$prefix/share/vsurvey/forms"
cp -R forms "$prefix/share/vsurvey/forms"

echo "installed: $prefix/bin/vsurvey, $prefix/bin/vsurvey-server; forms in $prefix/share/vsurvey/forms"
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*) echo "note: $prefix/bin is not on PATH; add  export PATH=\"$prefix/bin:\$PATH\"  to ~/.bashrc" ;;
esac
echo "vsurvey reads forms from ./forms or VSURVEY_FORMS: export VSURVEY_FORMS=$prefix/share/vsurvey/forms"
