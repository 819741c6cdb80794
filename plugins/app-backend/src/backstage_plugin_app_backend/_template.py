"""`index.html.tmpl`, the HTML template the frontend build writes: rendered once at start with
`publicPath` and the frontend config, then given the config as a `backstage.io/config` script.

The build's template is a lodash template; Backstage's app backend evaluates its `<%= %>`
expressions as JavaScript. These are the expressions an app's `public/index.html` uses
(`publicPath`, `config.getString('key')`, `config.getOptionalString('key') ?? 'default'`);
any other expression stops the plugin at start, naming it, rather than being served as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from backstage_common.config import Config
from backstage_common.errors import InputError

__all__ = ["config_script", "inject_config", "render_template"]

_EXPRESSION = re.compile(r"<%=\s*(.*?)\s*%>", re.DOTALL)
_STRING = r"""(?:'([^'\\]*)'|"([^"\\]*)")"""
_CONFIG_CALL = re.compile(
    rf"^config\.(getString|getOptionalString)\(\s*{_STRING}\s*\)(?:\s*\?\?\s*{_STRING})?$"
)
# JSON stays JSON with these escaped inside its strings, and no `</script>` or `<!--` can end
# or change the script element, whatever the config holds.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _evaluate(expression: str, public_path: str, config: Config) -> str:
    if expression == "publicPath":
        return public_path
    call = _CONFIG_CALL.match(expression)
    if call is None:
        raise InputError(f"Unsupported expression in index.html.tmpl: <%= {expression} %>")
    method, key_single, key_double, default_single, default_double = call.groups()
    key = key_single if key_single is not None else key_double
    default = default_single if default_single is not None else default_double
    value = config.get_optional_string(key)
    if value is None:
        if method == "getString" and default is None:
            raise InputError(f"index.html.tmpl needs the config value '{key}'")
        value = default or ""
    return html.escape(value)


def render_template(template: str, *, public_path: str, config: Config) -> str:
    """The template with its expressions replaced.

    Args:
        template: the text of `index.html.tmpl`.
        public_path: the path of `app.baseUrl`, without a trailing slash (`""` at the root).
        config: the frontend config the expressions read.
    """
    return _EXPRESSION.sub(lambda match: _evaluate(match.group(1), public_path, config), template)


def config_script(configs: Sequence[Mapping[str, Any]]) -> str:
    """The `<script type="backstage.io/config">` element the frontend reads its config from.

    Args:
        configs: the config contexts, `[{"context": ..., "data": ..., "deprecatedKeys": []}]`.
    """
    text = msgspec.json.format(msgspec.json.encode(configs), indent=2).decode()
    return f'<script type="backstage.io/config">\n{text.translate(_SCRIPT_ESCAPES)}\n</script>'


def inject_config(page: str, script: str) -> str:
    """`page` with `script` placed before its first `</head>`."""
    head_end = page.find("</head>")
    if head_end == -1:
        raise InputError("index.html.tmpl has no </head> to place the frontend config before")
    return f"{page[:head_end]}\n{script}\n{page[head_end:]}"
