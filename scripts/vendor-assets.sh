#!/usr/bin/env bash
# Refreshes server/web/static/vendor/ from the npm registry: the browser libraries the pages use, at pinned versions,
# with their licences. The files are committed, so serving the catalog never needs a network or a JS build step.
# Usage: scripts/vendor-assets.sh   (then review and commit the diff)
set -euo pipefail
cd "$(dirname "$0")/.."
out=server/web/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
packages=(htmx.org@2.0.11 cytoscape@3.35.0 dagre@0.8.5 cytoscape-dagre@2.5.0)
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts "${packages[@]}" >/dev/null)
m="$work/node_modules"
copy() { mkdir -p "$out/$1" && cp "$m/$2" "$out/$1/$(basename "$2")"; }
copy htmx htmx.org/dist/htmx.min.js && copy htmx htmx.org/LICENSE
copy cytoscape cytoscape/dist/cytoscape.min.js && copy cytoscape cytoscape/LICENSE
# dagre's dist bundle includes graphlib and lodash: their licences go with it
copy dagre dagre/dist/dagre.min.js && copy dagre dagre/LICENSE
cp "$m/graphlib/LICENSE" "$out/dagre/LICENSE.graphlib" && cp "$m/lodash/LICENSE" "$out/dagre/LICENSE.lodash"
copy cytoscape-dagre cytoscape-dagre/cytoscape-dagre.js && copy cytoscape-dagre cytoscape-dagre/LICENSE
{
  echo "# Vendored browser libraries"
  echo
  echo "Written by scripts/vendor-assets.sh from the npm registry; do not edit by hand."
  echo
  echo "| package | version | licence | files |"
  echo "|---|---|---|---|"
  for p in htmx.org cytoscape dagre graphlib lodash cytoscape-dagre; do
    v=$(node -p "require('$m/$p/package.json').version"); l=$(node -p "require('$m/$p/package.json').license")
    echo "| $p | $v | $l | $(case $p in htmx.org) echo htmx/;; graphlib|lodash) echo 'dagre/ (bundled)';; *) echo "$p/";; esac) |"
  done
} >"$out/README.md"
