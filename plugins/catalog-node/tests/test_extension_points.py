"""The catalog's extension points: ids modules depend on, and the injectable aliases."""

from __future__ import annotations

import typing

from backstage_plugin_catalog_node import (
    CatalogAnalysis,
    CatalogProcessing,
    CatalogUrlReaders,
    EntityKindValidator,
    EntityPostProcessor,
    LocationSpec,
    catalog_analysis_extension_point,
    catalog_processing_extension_point,
    catalog_url_readers_extension_point,
)


def test_extension_point_ids_follow_backstage() -> None:
    assert catalog_processing_extension_point.id == "catalog.processing"
    assert catalog_analysis_extension_point.id == "catalog.analysis"
    assert catalog_url_readers_extension_point.id == "catalog.urlReaders"


def test_aliases_inject_the_extension_points() -> None:
    async def init(
        processing: CatalogProcessing, analysis: CatalogAnalysis, readers: CatalogUrlReaders
    ) -> None:
        return None

    hints = typing.get_type_hints(init, include_extras=True)
    assert {name: hint.__metadata__ for name, hint in hints.items() if name != "return"} == {
        "processing": (catalog_processing_extension_point,),
        "analysis": (catalog_analysis_extension_point,),
        "readers": (catalog_url_readers_extension_point,),
    }


def test_processor_hooks_are_recognised_by_shape() -> None:
    class OnlyValidates:
        name = "only-validates"

        async def validate_entity_kind(self, entity: typing.Mapping[str, typing.Any]) -> bool:
            return True

    processor = OnlyValidates()
    assert isinstance(processor, EntityKindValidator)
    assert not isinstance(processor, EntityPostProcessor)
    assert (
        str(LocationSpec("url", "https://example.com/a.yaml")) == "url:https://example.com/a.yaml"
    )
