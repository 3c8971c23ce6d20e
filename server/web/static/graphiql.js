// GraphiQL at /graphql, as Strawberry's page boots it (the query, variables and headers editors, the explorer
// plugin, the query kept in the URL for sharing) but from this server's files: no CDN, no inline script. No
// subscriptions (the catalog has none) and no Django CSRF cookie: a POST to /graphql must be JSON, which is this
// server's defence against cross-site requests (server/web/identify.py).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);

  var parameters = {};
  window.location.search
    .slice(1)
    .split("&")
    .forEach(function (entry) {
      var eq = entry.indexOf("=");
      if (eq >= 0) {
        parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
      }
    });

  function updateURL(data) {
    Object.assign(parameters, data);
    var search = Object.keys(parameters)
      .filter(function (key) {
        return Boolean(parameters[key]);
      })
      .map(function (key) {
        return encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]);
      })
      .join("&");
    history.replaceState(null, "", "?" + search);
  }

  var fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function GraphiQLWithExplorer() {
    var query = React.useState(parameters.q || config.exampleQuery);
    var variables = React.useState(parameters.variables);
    var headers = React.useState(parameters.headers);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      query: query[0],
      variables: variables[0],
      headers: headers[0],
      onEditQuery: function (value) {
        query[1](value);
        updateURL({ q: value });
      },
      onEditVariables: function (value) {
        variables[1](value);
        updateURL({ variables: value });
      },
      onEditHeaders: headers[1],
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQLWithExplorer));
})();
