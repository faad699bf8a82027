"""Text from outside made storable: every boundary that takes text in (a client's message and
name, an agent's tool input, a model's answer) passes it through here before anything is stored.

PostgreSQL refuses a NUL character in text and in JSON, and a lone surrogate (a JSON escape such
as "\\udc00" can carry one) has no UTF-8 form: either fails the whole write with a DataError.
"""


def clean_text(value: str) -> str:
    """`value` without NUL characters, each lone surrogate replaced by U+FFFD (a surrogate pair
    becomes the character it encodes)."""
    if not value.isascii():
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value.replace("\x00", "")


def clean_json(value: object) -> object:
    """`value` (parsed JSON: dicts, lists, strings, numbers) with every string cleaned, keys too."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value
