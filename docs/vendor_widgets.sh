#!/usr/bin/env bash
# Refresh docs/_static/widgets/: ipywidgets' HTML manager, which draws the notebooks' stored widget state on the site.
# It is vendored (committed) so that `make site` and the pages need no CDN and no Node.js: run this only to move to
# another version (npm fetches the package from the npm registry), then update nb_ipywidgets_js in docs/conf.py.
#
# Usage: docs/vendor_widgets.sh [VERSION]   (default 1.0.15, the @jupyter-widgets/html-manager for ipywidgets 8)
set -euo pipefail
version=${1:-1.0.15}
dest="$(cd "$(dirname "$0")" && pwd)/_static/widgets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@jupyter-widgets/html-manager@$version" >/dev/null && tar xzf ./*.tgz)
rm -rf "$dest" && mkdir -p "$dest"
# embed.js renders every <script type="application/vnd.jupyter.widget-view+json"> on load, with no RequireJS;
# the .woff2 files are the icon fonts it refers to (Chromium loads only woff2).
cp "$work/package/dist/embed.js" "$dest/html-manager-$version-embed.js"
cp "$work/package/dist/embed.js.LICENSE.txt" "$dest/html-manager-$version-embed.js.LICENSE.txt"
cp "$work/package/dist/"*.woff2 "$dest/"
echo "vendored @jupyter-widgets/html-manager $version into $dest"
