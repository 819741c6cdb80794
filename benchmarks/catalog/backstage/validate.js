// Checks a generated catalog with Backstage's own catalog model: every entity of every file
// listed by the root Location through the default policy chain and its kind's validator.
// Usage: node validate.js <catalog folder>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const yaml = require('yaml');
const model = require('@backstage/catalog-model');

const policy = model.EntityPolicies.allOf([
  new model.SchemaValidEntityPolicy(),
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(),
]);
const validators = [
  model.apiEntityV1alpha1Validator,
  model.componentEntityV1alpha1Validator,
  model.domainEntityV1alpha1Validator,
  model.groupEntityV1alpha1Validator,
  model.locationEntityV1alpha1Validator,
  model.resourceEntityV1alpha1Validator,
  model.systemEntityV1alpha1Validator,
  model.userEntityV1alpha1Validator,
];

async function check(entity) {
  const result = await policy.enforce(entity);
  if (!result) throw new Error('rejected by the policy chain');
  for (const validator of validators) {
    if (await validator.check(result)) return;
  }
  throw new Error(`no validator accepts kind ${entity.kind}`);
}

async function main() {
  const folder = process.argv[2];
  if (!folder) throw new Error('usage: node validate.js <catalog folder>');
  const root = yaml.parse(fs.readFileSync(path.join(folder, 'catalog-info.yaml'), 'utf8'));
  await check(root);
  let count = 0;
  let invalid = 0;
  for (const target of root.spec.targets) {
    const text = fs.readFileSync(path.join(folder, target), 'utf8');
    for (const document of yaml.parseAllDocuments(text)) {
      const entity = document.toJS();
      count += 1;
      try {
        await check(entity);
      } catch (error) {
        invalid += 1;
        if (invalid <= 5) console.error(`${entity.kind} ${entity.metadata.name}: ${error}`);
      }
    }
  }
  console.log(`${count} entities in ${root.spec.targets.length} files: ${invalid} invalid`);
  process.exitCode = invalid ? 1 : 0;
}

main().catch(error => {
  console.error(error);
  process.exitCode = 2;
});
