#!/usr/bin/env bash
# Refreshes server/web/static/vendor/ from the npm registry: the browser libraries the pages use, at pinned versions,
# with their licences. The files are committed, so serving the catalog never needs a network or a JS build step.
# Usage: scripts/vendor-assets.sh   (then review and commit the diff)
set -euo pipefail
cd "$(dirname "$0")/.."
out=server/web/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# GraphiQL at the versions Strawberry's page names (its subresource-integrity hashes match these files); the API
# docs (Swagger UI at /docs) at the major version FastAPI's page names. (Not ReDoc: its bundle always loads its
# logo from cdn.redoc.ly, which no option turns off.)
packages=(htmx.org@2.0.11 cytoscape@3.35.0 dagre@0.8.5 cytoscape-dagre@2.5.0
  react@18.2.0 react-dom@18.2.0 graphiql@3.8.3 @graphiql/plugin-explorer@1.0.2 swagger-ui-dist@5.35.0)
(cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts "${packages[@]}" >/dev/null)
m="$work/node_modules"
copy() { mkdir -p "$out/$1" && cp "$m/$2" "$out/$1/$(basename "$2")"; }
copy htmx htmx.org/dist/htmx.min.js && copy htmx htmx.org/LICENSE
copy cytoscape cytoscape/dist/cytoscape.min.js && copy cytoscape cytoscape/LICENSE
# dagre's dist bundle includes graphlib and lodash: their licences go with it
copy dagre dagre/dist/dagre.min.js && copy dagre dagre/LICENSE
cp "$m/graphlib/LICENSE" "$out/dagre/LICENSE.graphlib" && cp "$m/lodash/LICENSE" "$out/dagre/LICENSE.lodash"
copy cytoscape-dagre cytoscape-dagre/cytoscape-dagre.js && copy cytoscape-dagre cytoscape-dagre/LICENSE
copy react react/umd/react.production.min.js && copy react react/LICENSE
copy react-dom react-dom/umd/react-dom.production.min.js && copy react-dom react-dom/LICENSE
copy graphiql graphiql/graphiql.min.js && copy graphiql graphiql/graphiql.min.css && copy graphiql graphiql/LICENSE
copy graphiql-plugin-explorer @graphiql/plugin-explorer/dist/index.umd.js
copy graphiql-plugin-explorer @graphiql/plugin-explorer/dist/style.css
# the plugin's npm package has no licence file; it is MIT, from the same repository (graphql/graphiql) as graphiql
cp "$m/graphiql/LICENSE" "$out/graphiql-plugin-explorer/LICENSE"
cp "$m/@graphiql/plugin-explorer/node_modules/graphiql-explorer/LICENSE" "$out/graphiql-plugin-explorer/LICENSE.graphiql-explorer"
copy swagger-ui swagger-ui-dist/swagger-ui-bundle.js && copy swagger-ui swagger-ui-dist/swagger-ui.css
copy swagger-ui swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt && copy swagger-ui swagger-ui-dist/favicon-32x32.png
copy swagger-ui swagger-ui-dist/LICENSE && copy swagger-ui swagger-ui-dist/NOTICE
{
  echo "# Vendored browser libraries"
  echo
  echo "Written by scripts/vendor-assets.sh from the npm registry; do not edit by hand."
  echo
  echo "| package | version | licence | files |"
  echo "|---|---|---|---|"
  for p in htmx.org cytoscape dagre graphlib lodash cytoscape-dagre react react-dom graphiql @graphiql/plugin-explorer \
    swagger-ui-dist; do
    v=$(node -p "require('$m/$p/package.json').version"); l=$(node -p "require('$m/$p/package.json').license")
    echo "| $p | $v | $l | $(case $p in htmx.org) echo htmx/;; graphlib|lodash) echo 'dagre/ (bundled)';;
      @graphiql/plugin-explorer) echo graphiql-plugin-explorer/;; swagger-ui-dist) echo swagger-ui/;; *) echo "$p/";; esac) |"
  done
  echo
  echo "graphiql/graphiql.min.js is graphiql's self-contained bundle; it includes these npm packages, each under its own"
  echo "licence (see the package on npm): $(grep -o '"\(\.\./\)*node_modules/\(@[^/]*/\)\?[^/]*/' "$m/graphiql/graphiql.min.js" |
    sed 's#.*node_modules/##; s#/$##' | sort -u | paste -sd, - | sed 's/,/, /g')."
  echo "graphiql-plugin-explorer/index.umd.js includes graphiql-explorer (MIT, LICENSE.graphiql-explorer)."
  echo "swagger-ui/swagger-ui-bundle.js.LICENSE.txt lists what that bundle includes."
} >"$out/README.md"
