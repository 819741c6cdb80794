// Exercises every CatalogClient method against a running catalog and checks the results.
// Environment: CATALOG_BASE_URL (…/api/catalog), LOCATION_URL (a catalog-info.yaml the
// catalog may read), LOCATION_ENTITY (the ref of the entity that file holds).
// Prints one JSON line {"passed": [method, ...]}; exits non-zero at the first failure.
import assert from 'node:assert/strict';
import { CatalogClient } from '@backstage/catalog-client';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  SchemaValidEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  stringifyEntityRef,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';

const baseUrl = process.env.CATALOG_BASE_URL;
const locationUrl = process.env.LOCATION_URL;
const locationEntity = process.env.LOCATION_ENTITY;
const client = new CatalogClient({ discoveryApi: { getBaseUrl: async () => baseUrl } });
const passed = [];

const policies = EntityPolicies.allOf([
  new DefaultNamespaceEntityPolicy(),
  new FieldFormatEntityPolicy(),
  new SchemaValidEntityPolicy(),
]);
const kindValidators = {
  api: apiEntityV1alpha1Validator,
  component: componentEntityV1alpha1Validator,
  domain: domainEntityV1alpha1Validator,
  group: groupEntityV1alpha1Validator,
  location: locationEntityV1alpha1Validator,
  resource: resourceEntityV1alpha1Validator,
  system: systemEntityV1alpha1Validator,
  user: userEntityV1alpha1Validator,
};

async function assertValidEntity(entity) {
  assert.ok(await policies.enforce(entity), `policies rejected ${stringifyEntityRef(entity)}`);
  const validator = kindValidators[entity.kind.toLowerCase()];
  assert.ok(validator, `no validator for kind ${entity.kind}`);
  assert.equal(await validator.check(entity), true, `kind schema rejected ${stringifyEntityRef(entity)}`);
  assert.ok(entity.metadata.uid, 'uid');
  assert.ok(entity.metadata.etag, 'etag');
  for (const relation of entity.relations ?? []) {
    assert.match(relation.type, /^\w+$/);
    assert.equal(relation.targetRef, relation.targetRef.toLowerCase());
  }
}

async function check(name, fn) {
  try {
    await fn();
  } catch (error) {
    console.error(`${name} failed:`, error);
    process.exit(1);
  }
  passed.push(name);
}

const names = entities => entities.map(e => e.metadata.name);
const sorted = values => [...values].sort();

await check('getEntities', async () => {
  const all = await client.getEntities();
  assert.ok(all.items.length >= 30, `only ${all.items.length} entities`);
  for (const entity of all.items) await assertValidEntity(entity);

  const components = await client.getEntities({
    filter: { kind: 'Component' },
    fields: ['kind', 'metadata.name'],
  });
  assert.deepEqual(sorted(names(components.items)), [
    'checkout-service', 'identity-service', 'northwind-python-lib', 'payment-gateway',
    'product-catalog', 'storefront-web',
  ]);
  assert.deepEqual(Object.keys(components.items[0]).sort(), ['kind', 'metadata']);

  const either = await client.getEntities({
    filter: [{ kind: 'domain' }, { kind: 'system', 'spec.domain': 'infrastructure' }],
  });
  assert.deepEqual(sorted(names(either.items)), ['commerce', 'identity', 'infrastructure']);

  const page = await client.getEntities({
    filter: { kind: 'user' },
    order: [{ field: 'metadata.name', order: 'desc' }],
    limit: 2,
    offset: 1,
  });
  assert.deepEqual(names(page.items), ['dev.patel', 'chiara.rossi']);

  const owned = await client.getEntities({
    filter: { 'relations.ownedBy': 'group:default/payments', kind: 'api' },
  });
  assert.deepEqual(sorted(names(owned.items)), ['checkout-api', 'payments-api']);
});

await check('getEntitiesByRefs', async () => {
  const result = await client.getEntitiesByRefs({
    entityRefs: ['component:default/checkout-service', 'component:default/missing', 'Group:default/SRE'],
    fields: ['metadata.name', 'spec.type'],
  });
  assert.equal(result.items.length, 3);
  assert.deepEqual(result.items[0], { metadata: { name: 'checkout-service' }, spec: { type: 'service' } });
  assert.equal(result.items[1], undefined);
  assert.equal(result.items[2].metadata.name, 'sre');

  const filtered = await client.getEntitiesByRefs({
    entityRefs: ['component:default/checkout-service', 'component:default/product-catalog'],
    query: { 'spec.lifecycle': 'experimental' },
  });
  assert.equal(filtered.items[0], undefined);
  assert.equal(filtered.items[1].metadata.name, 'product-catalog');
});

await check('queryEntities', async () => {
  const first = await client.queryEntities({
    filter: { kind: 'user' },
    limit: 2,
    orderFields: { field: 'metadata.name', order: 'asc' },
  });
  assert.equal(first.totalItems, 5);
  assert.deepEqual(names(first.items), ['ada.ng', 'bruno.costa']);
  assert.ok(first.pageInfo.nextCursor);
  const second = await client.queryEntities({ cursor: first.pageInfo.nextCursor, limit: 2 });
  assert.deepEqual(names(second.items), ['chiara.rossi', 'dev.patel']);
  assert.ok(second.pageInfo.prevCursor);
  const back = await client.queryEntities({ cursor: second.pageInfo.prevCursor, limit: 2 });
  assert.deepEqual(names(back.items), ['ada.ng', 'bruno.costa']);

  const predicate = await client.queryEntities({
    query: {
      $all: [
        { kind: 'component', 'spec.lifecycle': { $in: ['production'] } },
        { $not: { 'spec.type': 'library' } },
      ],
    },
    limit: 2,
    orderFields: [{ field: 'metadata.name', order: 'desc' }],
  });
  assert.equal(predicate.totalItems, 4);
  assert.deepEqual(names(predicate.items), ['storefront-web', 'payment-gateway']);
  const rest = await client.queryEntities({ cursor: predicate.pageInfo.nextCursor, limit: 2 });
  assert.deepEqual(names(rest.items), ['identity-service', 'checkout-service']);
  assert.equal(rest.pageInfo.nextCursor, undefined);

  const text = await client.queryEntities({
    filter: { kind: 'component' },
    fullTextFilter: { term: 'CHECK', fields: ['metadata.name'] },
  });
  assert.deepEqual(names(text.items), ['checkout-service']);
});

await check('streamEntities', async () => {
  const seen = [];
  for await (const page of client.streamEntities({ filter: { kind: 'group' }, pageSize: 2 })) {
    assert.ok(page.length <= 2);
    seen.push(...names(page));
  }
  assert.deepEqual(sorted(seen), ['northwind', 'payments', 'platform', 'sre', 'storefront-team']);
});

let checkoutUid;
await check('getEntityByRef', async () => {
  const entity = await client.getEntityByRef('component:default/checkout-service');
  await assertValidEntity(entity);
  checkoutUid = entity.metadata.uid;
  const relations = entity.relations.map(r => `${r.type} ${r.targetRef}`);
  for (const expected of [
    'ownedBy group:default/payments',
    'partOf system:default/checkout',
    'providesApi api:default/checkout-api',
    'consumesApi api:default/payments-api',
    'dependsOn resource:default/orders-db',
    'dependsOn component:default/northwind-python-lib',
  ]) {
    assert.ok(relations.includes(expected), `missing relation ${expected} in ${relations}`);
  }
  assert.match(entity.metadata.annotations['backstage.io/managed-by-location'], /^file:.*components\.yaml$/);
  assert.match(entity.metadata.annotations['backstage.io/managed-by-origin-location'], /^file:.*all\.yaml$/);
  assert.equal(await client.getEntityByRef('component:default/nope'), undefined);
  const api = await client.getEntityByRef('api:checkout-api');
  assert.match(api.spec.definition, /title: Checkout/);
});

await check('getEntityByName', async () => {
  const entity = await client.getEntityByName({ kind: 'Group', namespace: 'default', name: 'PAYMENTS' });
  assert.equal(entity.metadata.name, 'payments');
  const members = entity.relations.filter(r => r.type === 'hasMember').map(r => r.targetRef);
  assert.deepEqual(sorted(members), ['user:default/chiara.rossi', 'user:default/dev.patel']);
  assert.equal(await client.getEntityByName({ kind: 'Group', namespace: 'default', name: 'ghosts' }), undefined);
});

await check('getEntityAncestors', async () => {
  const ancestry = await client.getEntityAncestors({ entityRef: 'component:default/checkout-service' });
  assert.equal(ancestry.rootEntityRef, 'component:default/checkout-service');
  assert.ok(ancestry.items.length >= 2, 'the entity and at least its location');
  assert.equal(stringifyEntityRef(ancestry.items[0].entity), 'component:default/checkout-service');
  assert.ok(ancestry.items[0].parentEntityRefs[0].startsWith('location:default/'));
});

await check('getEntityFacets', async () => {
  const facets = await client.getEntityFacets({ facets: ['spec.type', 'kind'], filter: { kind: 'component' } });
  const types = Object.fromEntries(facets.facets['spec.type'].map(f => [f.value, f.count]));
  assert.deepEqual(types, { library: 1, service: 4, website: 1 });
  assert.deepEqual(facets.facets.kind, [{ value: 'Component', count: 6 }]);
  const byQuery = await client.getEntityFacets({ facets: ['metadata.tags'], query: { kind: 'component' } });
  const python = byQuery.facets['metadata.tags'].find(f => f.value === 'python');
  assert.equal(python.count, 3);
});

await check('refreshEntity', async () => {
  await client.refreshEntity('component:default/checkout-service');
});

await check('validateEntity', async () => {
  const valid = await client.validateEntity(
    {
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'valid-one' },
      spec: { type: 'service', lifecycle: 'production', owner: 'payments' },
    },
    'url:https://git.northwind.example/valid-one/catalog-info.yaml',
  );
  assert.deepEqual(valid, { valid: true });
  const invalid = await client.validateEntity(
    { apiVersion: 'backstage.io/v1alpha1', kind: 'Component', metadata: { name: 'bad name!' }, spec: {} },
    'url:https://git.northwind.example/bad/catalog-info.yaml',
  );
  assert.equal(invalid.valid, false);
  assert.ok(invalid.errors.length >= 1);
});

await check('analyzeLocation', async () => {
  const analysis = await client.analyzeLocation({
    location: { type: 'url', target: 'https://github.com/northwind/checkout-service' },
  });
  assert.ok(Array.isArray(analysis.existingEntityFiles));
  assert.ok(Array.isArray(analysis.generateEntities));
});

let location;
await check('addLocation', async () => {
  const dryRun = await client.addLocation({ target: locationUrl, dryRun: true });
  assert.equal(dryRun.exists, false);
  assert.ok(dryRun.entities.some(e => stringifyEntityRef(e) === locationEntity));
  const added = await client.addLocation({ target: locationUrl });
  location = added.location;
  assert.equal(location.type, 'url');
  assert.equal(location.target, locationUrl);
  assert.match(location.entityRef, /^location:default\/generated-[0-9a-f]{40}$/);
  await assert.rejects(client.addLocation({ target: locationUrl }), error => {
    assert.equal(error.response.status, 409);
    assert.match(error.body.error.message, /already exists/);
    return true;
  });
});

await check('getLocations', async () => {
  const locations = await client.getLocations();
  assert.ok(locations.items.some(l => l.id === location.id));
});

await check('getLocationById', async () => {
  assert.deepEqual(await client.getLocationById(location.id), location);
  assert.equal(await client.getLocationById('00000000-0000-4000-8000-000000000000'), undefined);
});

await check('getLocationByRef', async () => {
  const found = await client.getLocationByRef(`url:${locationUrl}`);
  assert.equal(found.id, location.id);
});

await check('queryLocations', async () => {
  const result = await client.queryLocations({ query: { type: 'url' }, limit: 10 });
  assert.ok(result.items.some(l => l.id === location.id));
  assert.ok(result.totalItems >= 1);
  // the full predicate grammar on every location field
  const prefix = locationUrl.slice(0, locationUrl.lastIndexOf('/') + 1);
  const byPrefix = await client.queryLocations({ query: { target: { $hasPrefix: prefix } } });
  assert.deepEqual(byPrefix.items, [location]);
  const none = await client.queryLocations({ query: { target: { $hasPrefix: 'https://' } } });
  assert.ok(!none.items.some(l => l.id === location.id));
});

await check('streamLocations', async () => {
  const ids = [];
  for await (const page of client.streamLocations()) ids.push(...page.map(l => l.id));
  assert.ok(ids.includes(location.id));
});

await check('getLocationByEntity', async () => {
  let found;
  for (let attempt = 0; attempt < 100 && !found; attempt++) {
    found = await client.getLocationByEntity(locationEntity);
    if (!found) await new Promise(resolve => setTimeout(resolve, 200));
  }
  assert.equal(found?.id, location.id);
  assert.equal(await client.getLocationByEntity('component:default/checkout-service'), undefined);
});

await check('updateLocation', async () => {
  const updated = await client.updateLocation(location.id, { target: `${locationUrl}?v=2` });
  assert.equal(updated.target, `${locationUrl}?v=2`);
  // Backstage keeps the location's entityRef when its target changes
  assert.equal(updated.entityRef, location.entityRef);
  assert.deepEqual(await client.getLocationById(location.id), updated);
});

await check('removeLocationById', async () => {
  await client.removeLocationById(location.id);
  assert.equal(await client.getLocationById(location.id), undefined);
});

await check('removeEntityByUid', async () => {
  await client.removeEntityByUid(checkoutUid);
  const again = await client.getEntityByRef('component:default/checkout-service');
  assert.ok(again === undefined || again.metadata.uid !== checkoutUid);
});

await check('compressedResponses', async () => {
  // The client's fetch (node-fetch) asks for `gzip,deflate` and inflates what comes back, so
  // every check above read compressed responses; here the encoding itself is looked at.
  // Processing may re-create the entity removed above between two reads, so each comparison
  // is of two reads taken while the catalog stood still (retried until it does).
  const headers = { 'accept-encoding': 'gzip,deflate' };
  const settled = async (read) => {
    for (let attempt = 0; ; attempt++) {
      const [raw, expected] = await read();
      try {
        assert.deepEqual(raw, expected);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  };
  await settled(async () => {
    const listed = await fetch(`${baseUrl}/entities`, { headers });
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get('content-encoding'), 'gzip');
    assert.match(listed.headers.get('vary'), /Accept-Encoding/i);
    const all = await client.getEntities();
    return [sorted((await listed.json()).map(stringifyEntityRef)), sorted(all.items.map(stringifyEntityRef))];
  });
  await settled(async () => {
    const refs = (await client.getEntities()).items.map(stringifyEntityRef);
    const byRefs = await fetch(`${baseUrl}/entities/by-refs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ entityRefs: refs }),
    });
    assert.equal(byRefs.headers.get('content-encoding'), 'gzip');
    return [(await byRefs.json()).items, (await client.getEntitiesByRefs({ entityRefs: refs })).items];
  });
});

console.log(JSON.stringify({ passed }));
