"""The one YAML style of the generated files, written by PyYAML.

Block style, sequences indented under their key, keys in insertion order, no line wrapping. Every
string value is double-quoted (templates, PromQL and JSONPath are full of `{`, `:`, `"` and `$`; a
quoted string is read back as a string whatever it holds), except values of `plain_keys` (names
a reader scans for: `- alert: PacemakerQuorumLost`), written plain when YAML allows it, and
multi-line strings, which are literal blocks.
"""

from __future__ import annotations

from typing import AbstractSet, Any

import yaml

_STR = "tag:yaml.org,2002:str"


class _Quoted(str):
    pass


class _Literal(str):
    pass


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # PyYAML writes a sequence in a mapping at the key's indentation; indent it like the rest
        super().increase_indent(flow, False)


_Dumper.add_representer(_Quoted, lambda dumper, s: dumper.represent_scalar(_STR, str(s), style='"'))
_Dumper.add_representer(_Literal, lambda dumper, s: dumper.represent_scalar(_STR, str(s), style="|"))


def _styled(value: Any, plain: bool, plain_keys: AbstractSet[str]) -> Any:
    if isinstance(value, dict):
        return {k: _styled(v, k in plain_keys, plain_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_styled(v, False, plain_keys) for v in value]
    if isinstance(value, str):
        if "\n" in value:
            return _Literal(value)
        return value if plain else _Quoted(value)
    return value


def dump_yaml(document: Any, plain_keys: AbstractSet[str] = frozenset()) -> str:
    """`document` (dicts, lists, strings, numbers, booleans) as YAML text in the style above."""
    return yaml.dump(
        _styled(document, False, plain_keys),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
    )
