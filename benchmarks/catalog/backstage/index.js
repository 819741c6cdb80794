// Backstage's own backend with only the catalog plugin: the peer of the catalog benchmark.
// Config comes from the files given with --config (see README.md); compare.py writes them.
'use strict';

const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.start();
