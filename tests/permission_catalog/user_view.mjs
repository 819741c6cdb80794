// Reads the catalog with Backstage's own CatalogClient as one signed-in user and prints what
// it saw as one JSON line. Environment: CATALOG_BASE_URL (…/api/catalog), USER_TOKEN,
// ENTITY_REFS (comma-separated refs to ask for by ref).
import { CatalogClient } from '@backstage/catalog-client';

const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async () => process.env.CATALOG_BASE_URL },
});
const token = process.env.USER_TOKEN;
const refs = process.env.ENTITY_REFS.split(',');
const ref = e => `${e.kind}:${e.metadata.namespace ?? 'default'}/${e.metadata.name}`.toLowerCase();

const listed = await client.getEntities({ fields: ['kind', 'metadata'] }, { token });

const paged = [];
const totals = [];
let page = await client.queryEntities(
  { limit: 3, orderFields: { field: 'metadata.name', order: 'asc' } },
  { token },
);
for (;;) {
  paged.push(...page.items.map(ref));
  totals.push(page.totalItems);
  if (!page.pageInfo.nextCursor) break;
  page = await client.queryEntities({ cursor: page.pageInfo.nextCursor }, { token });
}

const byRefs = await client.getEntitiesByRefs({ entityRefs: refs }, { token });
const facets = await client.getEntityFacets({ facets: ['kind'] }, { token });
const byName = await Promise.all(refs.map(r => client.getEntityByRef(r, { token })));

console.log(
  JSON.stringify({
    listed: listed.items.map(ref).sort(),
    paged,
    totals,
    byRefs: byRefs.items.map(e => (e ? ref(e) : null)),
    byName: byName.map(e => (e ? ref(e) : null)),
    kinds: Object.fromEntries(facets.facets.kind.map(b => [b.value, b.count])),
  }),
);
