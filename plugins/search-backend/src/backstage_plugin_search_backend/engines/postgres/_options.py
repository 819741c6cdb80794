"""`search.pg`: highlighting, rank normalisation and batch size of the Postgres engine."""

from __future__ import annotations

from dataclasses import dataclass

from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["PgOptions", "read_pg_options"]


@dataclass(frozen=True)
class PgOptions:
    use_highlight: bool = True
    max_words: int = 35
    min_words: int = 15
    short_word: int = 3
    highlight_all: bool = False
    max_fragments: int = 0
    fragment_delimiter: str = " ... "
    normalization: int = 0
    batch_size: int = 1000

    def headline_options(self, pre_tag: str, post_tag: str) -> str:
        """The option string of `ts_headline`, values quoted with `"` doubled."""

        def quoted(value: object) -> str:
            return '"' + str(value).replace('"', '""') + '"'

        options = {
            "MaxWords": self.max_words,
            "MinWords": self.min_words,
            "ShortWord": self.short_word,
            "HighlightAll": "true" if self.highlight_all else "false",
            "MaxFragments": self.max_fragments,
            "FragmentDelimiter": self.fragment_delimiter,
            "StartSel": pre_tag,
            "StopSel": post_tag,
        }
        return ", ".join(f"{name}={quoted(value)}" for name, value in options.items())


def _normalization(config: Config) -> int:
    value = config.get_optional("search.pg.normalization")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InputError("Invalid search.pg.normalization: use a number or a string like '1|4'")
    if isinstance(value, int):
        return value
    try:
        result = 0
        for part in value.split("|"):
            result |= int(part.strip())
        return result
    except ValueError:
        raise InputError(
            f"Invalid search.pg.normalization '{value}': use a number or a string like '1|4'"
        ) from None


def _positive(config: Config, key: str, default: int) -> int:
    value = config.get_optional_number(key)
    if value is None:
        return default
    if not float(value).is_integer() or value < 0:
        raise InputError(f"Invalid {key}: must be a whole number of 0 or more")
    return int(value)


def read_pg_options(config: Config) -> PgOptions:
    defaults = PgOptions()
    prefix = "search.pg.highlightOptions"
    use_highlight = config.get_optional_boolean(f"{prefix}.useHighlight")
    highlight_all = config.get_optional_boolean(f"{prefix}.highlightAll")
    delimiter = config.get_optional_string(f"{prefix}.fragmentDelimiter")
    batch_size = _positive(config, "search.pg.indexerBatchSize", defaults.batch_size)
    if batch_size == 0:
        raise InputError("Invalid search.pg.indexerBatchSize: must be greater than zero")
    return PgOptions(
        use_highlight=defaults.use_highlight if use_highlight is None else use_highlight,
        max_words=_positive(config, f"{prefix}.maxWords", defaults.max_words),
        min_words=_positive(config, f"{prefix}.minWords", defaults.min_words),
        short_word=_positive(config, f"{prefix}.shortWord", defaults.short_word),
        highlight_all=defaults.highlight_all if highlight_all is None else highlight_all,
        max_fragments=_positive(config, f"{prefix}.maxFragments", defaults.max_fragments),
        fragment_delimiter=defaults.fragment_delimiter if delimiter is None else delimiter,
        normalization=_normalization(config),
        batch_size=batch_size,
    )
