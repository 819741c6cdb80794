"""A deterministic, realistic catalog of N entities for the catalog benchmark.

Kinds in the proportions of a software company (N=10,000: 2,000 users, 200 groups, 30
domains, 300 systems, 4,500 components, 1,700 APIs, 1,270 resources): a group tree under one
organization (every group names its parent and its children), users with one or two
memberships, domains with subdomains, systems in domains, components that provide and consume
APIs, depend on resources and other components, and an owner for everything.

Output in `--out`:
- `entities-0001.yaml` ...: multi-document YAML, `--per-file` entities each (default 500);
- `catalog-info.yaml`: one `Location` entity whose `spec.targets` lists those files
  (relative targets, so the folder can be served from any URL or read from disk); above
  `--files-per-location` files (default 20: 10,000 entities), it lists `locations-0001.yaml`
  ..., each one `Location` entity listing up to that many files. Backstage's processing of
  one location binds a query parameter per entity the location emitted, and Postgres takes
  at most 65,535 (a single location of 100,000 entities fails there with "bind message has
  34465 parameter formats"), so a large catalog comes as many locations, as it does in a
  real organisation;
- `manifest.json`: counts per kind, the files, and for every relation type the number of
  entities that carry at least one relation of that type once the catalog is fully stitched,
  which is how `load.py` knows that ingestion is complete;
- `refs.txt`: every entity ref, one a line (`kind:namespace/name`, kinds as written).

The same `--entities` and `--seed` always give the same bytes.

Run: `uv run python benchmarks/catalog/generate.py --entities 10000 --out /tmp/catalog --seed 1`
Check against the catalog model: add `--validate`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

API_VERSION = "backstage.io/v1alpha1"
NAMESPACE = "default"
ROOT_FILE = "catalog-info.yaml"
ROOT_LOCATION_NAME = "catalog-bench"
MIN_ENTITIES = 20

T = TypeVar("T")

# Share of each kind in the catalog; components take what is left.
SHARES = {
    "User": 0.20,
    "Group": 0.02,
    "Domain": 0.003,
    "System": 0.03,
    "API": 0.17,
    "Resource": 0.127,
}
# Default kind of the refs in each spec field, and the relation pair it produces
# (forward on the entity, reverse on the target), after Backstage's built-in kinds processor.
OWNER = ("owner", "group", "ownedBy", "ownerOf")
SYSTEM = ("system", "system", "partOf", "hasPart")


def split_words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = split_words(
    "ada alan anna ben carla chen david elena emma felix grace hana ivan jada james julia kai "
    "lars lea liam lucia maria mateo mei nadia noah olga omar paula priya rafael rosa sam sara "
    "sofia tariq tom uma victor wei yara yusuf zoe"
)
LAST_NAMES = split_words(
    "adams alvarez berg brown chen costa dubois evans fischer garcia gupta hansen ito jensen kim "
    "kowalski larsen lopez martin meyer moreau nakamura nguyen novak okafor olsen park patel "
    "petrov rossi santos schmidt silva smith sato tanaka walker wang weber williams yilmaz zhang"
)
WORDS = split_words(
    "account address alert analytics archive audit auth billing booking cart catalog checkout "
    "claims config content contract credit customer dashboard data delivery discount document "
    "email event export feed fleet forecast fraud gateway geo identity import inventory invoice "
    "ledger loyalty media metrics notify order partner payment payroll pricing profile promo "
    "quote rating recommend refund report reservation review risk route schedule search session "
    "settlement shipping signup stock subscription supplier support survey tax ticket tracking "
    "transfer user vendor voucher wallet warehouse"
)
COMPONENT_TYPES = (("service", 0.6), ("website", 0.15), ("library", 0.25))
LIFECYCLES = (("production", 0.6), ("experimental", 0.25), ("deprecated", 0.15))
API_TYPES = (("openapi", 0.6), ("grpc", 0.2), ("asyncapi", 0.15), ("graphql", 0.05))
RESOURCE_TYPES = (("database", 0.4), ("s3-bucket", 0.2), ("queue", 0.2), ("cache", 0.2))
TAGS = split_words("java python go typescript kotlin rust react grpc kafka postgres redis internal")


@dataclass
class Catalog:
    """The generated entities, in the order they are written, and their relations."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    # entity ref (lowercased) -> relation types it carries once stitched
    relation_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    relation_rows: int = 0

    def add(self, entity: dict[str, Any]) -> None:
        self.entities.append(entity)

    def relate(self, source: str, forward: str, target: str, reverse: str) -> None:
        """One spec reference: the forward relation on the source, the reverse on the target."""
        self.relation_types[source].add(forward)
        self.relation_types[target].add(reverse)


def ref(kind: str, name: str) -> str:
    return f"{kind.lower()}:{NAMESPACE}/{name}"


def counts_for(total: int) -> dict[str, int]:
    counts = {kind: max(1, round(total * share)) for kind, share in SHARES.items()}
    counts["Component"] = total - sum(counts.values())
    return counts


def pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    values = [value for value, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(values, weights)[0]


def unique_names(rng: random.Random, count: int, make: Any) -> list[str]:
    """`count` distinct names from `make(rng, index)`, suffixed with the index on a clash."""
    names: list[str] = []
    seen: set[str] = set()
    for index in range(count):
        name = make(rng, index)
        if name in seen:
            name = f"{name}-{index}"
        seen.add(name)
        names.append(name)
    return names


def metadata(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, **extra}


def entity(kind: str, meta: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": meta, "spec": spec}


class Generator:
    """Builds the catalog kind by kind; every reference points at an entity that exists."""

    def __init__(self, total: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counts = counts_for(total)
        self.catalog = Catalog()
        self.teams: list[str] = []

    def build(self) -> Catalog:
        groups = self.groups()
        self.users(groups)
        domains = self.domains()
        systems = self.systems(domains)
        apis = self.apis(systems)
        resources = self.resources(systems)
        self.components(systems, apis, resources)
        return self.catalog

    def owned(self, source: str) -> str:
        owner = self.rng.choice(self.teams)
        self.catalog.relate(source, OWNER[2], ref("group", owner), OWNER[3])
        return owner

    def in_system(self, source: str, systems: Sequence[str]) -> str:
        system = self.rng.choice(systems)
        self.catalog.relate(source, SYSTEM[2], ref("system", system), SYSTEM[3])
        return system

    def groups(self) -> list[str]:
        count = self.counts["Group"]
        rng = self.rng
        teams = unique_names(
            rng, count - 1, lambda r, i: f"team-{r.choice(WORDS)}-{r.choice(WORDS)}"
        )
        names = ["acme", *teams]
        parents: list[int | None] = [None]
        depth = [0]
        for index in range(1, count):
            # Early groups become departments under the organization; later ones teams.
            chosen = rng.randrange(0, min(index, max(1, count // 10)))
            parents.append(chosen)
            depth.append(depth[chosen] + 1)
        children: dict[int, list[str]] = defaultdict(list)
        for index, parent_index in enumerate(parents):
            if parent_index is not None:
                children[parent_index].append(names[index])
        types = {0: "organization", 1: "department"}
        for index, name in enumerate(names):
            spec: dict[str, Any] = {
                "type": types.get(depth[index], "team"),
                "profile": {
                    "displayName": name.replace("-", " ").title(),
                    "email": f"{name}@acme.example.com",
                },
                "children": sorted(children[index]),
            }
            source = ref("group", name)
            parent = parents[index]
            if parent is not None:
                spec["parent"] = names[parent]
                self.catalog.relate(source, "childOf", ref("group", names[parent]), "parentOf")
            for child in children[index]:
                self.catalog.relate(source, "parentOf", ref("group", child), "childOf")
            meta = metadata(name, f"The {name} group of Acme.")
            self.catalog.add(entity("Group", meta, spec))
        self.teams = [name for index, name in enumerate(names) if depth[index] >= 1]
        return names

    def users(self, groups: Sequence[str]) -> None:
        rng = self.rng
        names = unique_names(
            rng,
            self.counts["User"],
            lambda r, i: f"{r.choice(FIRST_NAMES)}.{r.choice(LAST_NAMES)}",
        )
        teams = self.teams or list(groups)
        for name in names:
            member_of = sorted({rng.choice(teams) for _ in range(1 + (rng.random() < 0.15))})
            source = ref("user", name)
            for group in member_of:
                self.catalog.relate(source, "memberOf", ref("group", group), "hasMember")
            first, last = name.split(".", 1)
            spec = {
                "profile": {
                    "displayName": f"{first.title()} {last.split('-')[0].title()}",
                    "email": f"{name}@acme.example.com",
                },
                "memberOf": member_of,
            }
            self.catalog.add(entity("User", metadata(name, f"{first.title()} at Acme."), spec))

    def domains(self) -> list[str]:
        rng = self.rng
        names = unique_names(rng, self.counts["Domain"], lambda r, i: f"{r.choice(WORDS)}")
        for index, name in enumerate(names):
            source = ref("domain", name)
            spec: dict[str, Any] = {"owner": self.owned(source)}
            if index > 0 and rng.random() < 0.2:
                parent = names[rng.randrange(0, index)]
                spec["subdomainOf"] = parent
                self.catalog.relate(source, "partOf", ref("domain", parent), "hasPart")
            meta = metadata(name, f"Everything about {name}.")
            self.catalog.add(entity("Domain", meta, spec))
        return names

    def systems(self, domains: Sequence[str]) -> list[str]:
        rng = self.rng
        names = unique_names(
            rng, self.counts["System"], lambda r, i: f"{r.choice(WORDS)}-{r.choice(WORDS)}"
        )
        for name in names:
            source = ref("system", name)
            domain = rng.choice(domains)
            self.catalog.relate(source, "partOf", ref("domain", domain), "hasPart")
            spec = {"owner": self.owned(source), "domain": domain}
            meta = metadata(name, f"The {name.replace('-', ' ')} system.")
            self.catalog.add(entity("System", meta, spec))
        return names

    def apis(self, systems: Sequence[str]) -> list[str]:
        rng = self.rng
        names = unique_names(
            rng, self.counts["API"], lambda r, i: f"{r.choice(WORDS)}-{r.choice(WORDS)}-api"
        )
        for name in names:
            source = ref("api", name)
            api_type = pick(rng, API_TYPES)
            spec = {
                "type": api_type,
                "lifecycle": pick(rng, LIFECYCLES),
                "owner": self.owned(source),
                "system": self.in_system(source, systems),
                "definition": definition(name, api_type),
            }
            meta = metadata(name, f"The {name.replace('-', ' ')}.", tags=[api_type])
            self.catalog.add(entity("API", meta, spec))
        return names

    def resources(self, systems: Sequence[str]) -> list[str]:
        rng = self.rng
        names = unique_names(
            rng, self.counts["Resource"], lambda r, i: f"{r.choice(WORDS)}-{r.choice(WORDS)}-db"
        )
        for index, name in enumerate(names):
            source = ref("resource", name)
            spec: dict[str, Any] = {
                "type": pick(rng, RESOURCE_TYPES),
                "owner": self.owned(source),
                "system": self.in_system(source, systems),
            }
            if index > 0 and rng.random() < 0.1:
                target = ref("resource", names[rng.randrange(0, index)])
                spec["dependsOn"] = [target]
                self.catalog.relate(source, "dependsOn", target, "dependencyOf")
            meta = metadata(name, f"Storage of {name.replace('-', ' ')}.")
            self.catalog.add(entity("Resource", meta, spec))
        return names

    def components(
        self, systems: Sequence[str], apis: Sequence[str], resources: Sequence[str]
    ) -> None:
        rng = self.rng
        count = self.counts["Component"]
        names = unique_names(rng, count, lambda r, i: f"{r.choice(WORDS)}-{r.choice(WORDS)}")
        # Every API is provided by one component; services take them in turn.
        provides: dict[int, list[str]] = defaultdict(list)
        for api in apis:
            provides[rng.randrange(0, count)].append(api)
        for index, name in enumerate(names):
            self.catalog.add(self.component(index, name, names, systems, apis, resources, provides))

    def component(
        self,
        index: int,
        name: str,
        names: Sequence[str],
        systems: Sequence[str],
        apis: Sequence[str],
        resources: Sequence[str],
        provides: dict[int, list[str]],
    ) -> dict[str, Any]:
        rng = self.rng
        source = ref("component", name)
        spec: dict[str, Any] = {
            "type": pick(rng, COMPONENT_TYPES),
            "lifecycle": pick(rng, LIFECYCLES),
            "owner": self.owned(source),
            "system": self.in_system(source, systems),
        }
        provided = sorted(provides.get(index, []))
        if provided:
            spec["providesApis"] = provided
        consumed = sorted({rng.choice(apis) for _ in range(rng.randrange(0, 4))})
        if consumed:
            spec["consumesApis"] = consumed
        depends = {ref("resource", rng.choice(resources)) for _ in range(rng.randrange(0, 3))}
        if index > 0 and rng.random() < 0.3:
            depends.add(ref("component", names[rng.randrange(0, index)]))
        if depends:
            spec["dependsOn"] = sorted(depends)
        if index > 0 and rng.random() < 0.05:
            parent = names[rng.randrange(0, index)]
            spec["subcomponentOf"] = parent
            self.catalog.relate(source, "partOf", ref("component", parent), "hasPart")
        for api in provided:
            self.catalog.relate(source, "providesApi", ref("api", api), "apiProvidedBy")
        for api in consumed:
            self.catalog.relate(source, "consumesApi", ref("api", api), "apiConsumedBy")
        for target in depends:
            self.catalog.relate(source, "dependsOn", target, "dependencyOf")
        meta = metadata(
            name,
            f"The {name.replace('-', ' ')} {spec['type']}.",
            tags=sorted(rng.sample(TAGS, rng.randrange(1, 4))),
            annotations={
                "github.com/project-slug": f"acme/{name}",
                "backstage.io/techdocs-ref": "dir:.",
            },
            links=[{"url": f"https://{name}.acme.example.com", "title": "Dashboard"}],
        )
        if rng.random() < 0.3:
            meta["labels"] = {"tier": rng.choice(("gold", "silver", "bronze"))}
        return entity("Component", meta, spec)


def definition(name: str, api_type: str) -> str:
    """A small API definition text, as inline definitions are in real catalogs."""
    if api_type == "openapi":
        return (
            "openapi: 3.0.0\n"
            f"info:\n  title: {name}\n  version: 1.0.0\n"
            f"paths:\n  /{name}:\n    get:\n      summary: List {name}\n"
            "      responses:\n        '200':\n          description: OK\n"
        )
    if api_type == "grpc":
        service = "".join(part.title() for part in name.split("-"))
        return (
            f'syntax = "proto3";\nservice {service} {{\n  rpc Get (Request) returns (Reply);\n}}\n'
        )
    if api_type == "asyncapi":
        return (
            f"asyncapi: 2.6.0\ninfo:\n  title: {name}\n  version: 1.0.0\n"
            f"channels:\n  {name}/events:\n    subscribe:\n      message:\n"
            "        payload:\n          type: object\n"
        )
    return f"type Query {{\n  {name.replace('-', '_')}: [String]\n}}\n"


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write(
    catalog: Catalog, out: Path, per_file: int, seed: int, files_per_location: int
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    files: list[str] = []
    for number, chunk in enumerate(chunks(catalog.entities, per_file), start=1):
        name = f"entities-{number:04d}.yaml"
        text = yaml.dump_all(chunk, Dumper=dumper, sort_keys=False, width=1000)
        (out / name).write_text(text)
        files.append(name)
    locations: list[str] = []
    if len(files) > files_per_location:
        for number, group in enumerate(chunks(files, files_per_location), start=1):
            name = f"locations-{number:04d}.yaml"
            location = entity(
                "Location",
                metadata(f"{ROOT_LOCATION_NAME}-{number:04d}", "Some files of the catalog."),
                {"targets": [f"./{file}" for file in group]},
            )
            (out / name).write_text(yaml.dump(location, Dumper=dumper, sort_keys=False))
            locations.append(name)
    root = entity(
        "Location",
        metadata(ROOT_LOCATION_NAME, "Every file of the generated catalog."),
        {"targets": [f"./{name}" for name in locations or files]},
    )
    (out / ROOT_FILE).write_text(yaml.dump(root, Dumper=dumper, sort_keys=False))
    refs = [ref(e["kind"], e["metadata"]["name"]) for e in catalog.entities]
    (out / "refs.txt").write_text("".join(f"{r}\n" for r in refs))
    kinds: dict[str, int] = defaultdict(int)
    for item in catalog.entities:
        kinds[item["kind"]] += 1
    relation_counts: dict[str, int] = defaultdict(int)
    for types in catalog.relation_types.values():
        for relation_type in types:
            relation_counts[relation_type] += 1
    manifest = {
        "entities": len(catalog.entities),
        "seed": seed,
        "kinds": dict(sorted(kinds.items())),
        "root": ROOT_FILE,
        "rootLocation": ref("location", ROOT_LOCATION_NAME),
        "files": files,
        "locations": locations,
        "entitiesWithRelation": dict(sorted(relation_counts.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def validate(catalog: Catalog) -> int:
    """Every entity through the catalog model's validation; the number of invalid ones."""
    from backstage_common.catalog_model import EntityValidationError, validate_entity

    invalid = 0
    for item in catalog.entities:
        try:
            validate_entity(item)
        except EntityValidationError as error:
            invalid += 1
            if invalid <= 5:
                print(
                    f"invalid {item['kind']} {item['metadata']['name']}: {error}", file=sys.stderr
                )
    return invalid


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, required=True, help="number of entities")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--per-file", type=int, default=500, help="entities per YAML file")
    parser.add_argument(
        "--files-per-location",
        type=int,
        default=20,
        help="above this many files, the root lists Location entities of this many files each",
    )
    parser.add_argument(
        "--validate", action="store_true", help="validate every entity with the catalog model"
    )
    args = parser.parse_args(argv)
    if args.entities < MIN_ENTITIES:
        parser.error(f"--entities must be at least {MIN_ENTITIES}")
    if args.per_file < 1 or args.files_per_location < 1:
        parser.error("--per-file and --files-per-location must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    catalog = Generator(args.entities, args.seed).build()
    manifest = write(catalog, args.out, args.per_file, args.seed, args.files_per_location)
    print(json.dumps({k: manifest[k] for k in ("entities", "kinds", "entitiesWithRelation")}))
    if args.validate:
        invalid = validate(catalog)
        print(f"validated {len(catalog.entities)} entities: {invalid} invalid", file=sys.stderr)
        return 1 if invalid else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
