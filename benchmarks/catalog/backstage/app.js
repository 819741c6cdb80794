// Backstage's own backend serving the built frontend app the way a Backstage deployment does:
// the app plugin (the bundle of the package named by `app.packageName`, default `app`, with
// the frontend config injected), guest sign-in and the catalog. The peer of
// benchmarks/app/bench.py, which links the app package into node_modules and writes the
// config. index.js stays the catalog-only peer of the catalog comparison.
'use strict';

const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(import('@backstage/plugin-catalog-backend'));
backend.start();
