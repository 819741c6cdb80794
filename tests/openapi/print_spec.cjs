// Prints the OpenAPI spec a published Backstage backend package serves, as JSON.
// Usage: node print_spec.cjs @backstage/plugin-catalog-backend
const path = require('node:path');

const packageName = process.argv[2];
const root = path.dirname(require.resolve(`${packageName}/package.json`));
const { spec } = require(path.join(root, 'dist/schema/openapi/generated/router.cjs.js'));
process.stdout.write(JSON.stringify(spec));
