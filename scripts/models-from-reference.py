#!/usr/bin/env python3
"""Turns the model catalogue's reference lines into draft model definition files.

Usage: scripts/models-from-reference.py REFERENCE OUTPUT_DIRECTORY

REFERENCE has one line per model and endpoint (Tests/Fixtures/aimlapi-video-models.txt is a copy):

    ids | endpoint | source file | req=['model', 'prompt'] | field; field=a|b|c(def a); field[1..9]; ...

Only lines for /v2/video/generations are used. A line may name several ids, separated by commas;
each id gets one definition, and where an id appears on several lines the first one wins. Each
draft is written as OUTPUT_DIRECTORY/<id with '/' as '--'>.json, in the format of docs/models.md.

The lines give names, enums, ranges and defaults, but no types and no cross-field rules, so the
drafts guess (see docs/models.md, "Drafts from the reference file"): review a draft before putting
it into /etc/videospool/models.d/. Every draft loads; Tests/VideoSpoolAppTests/ModelFilesTests.swift
checks that on every line of the reference file.
"""

import json
import pathlib
import re
import sys

sys.dont_write_bytecode = True  # nothing written into the repository when tests run it
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import jsonformat  # noqa: E402

ENDPOINT = "/v2/video/generations"
FIELD = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)"
    r"(?:\[(?P<low>[^.\]]*)\.\.(?P<high>[^\]]*)\])?"
    r"(?:=(?P<enum>.*?))?"
    r"(?:\(def (?P<default>.*)\))?$"
)
# Array-valued fields: their [a..b] is a number of items, not a range of values.
LIST_NAMES = re.compile(r"(_urls|_list|images|elements|references|masks|^multi_prompt)$")
INTEGER_NAMES = re.compile(r"^(seed|duration|num_.*|.*_steps|.*_frames|.*_index|.*_fps|fps|frames_per_second)$")
TEXT_NAMES = {"prompt", "negative_prompt", "lip_sync_tts_content"}


def number(text):
    """5 → 5, 0.25 → 0.25, anything else → None."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return None


def media_accepts(name):
    """What a reference field probably takes: URLs, plus base64 data of its kind."""
    for kind in ("image", "audio", "video"):
        if kind in name:
            return ["http", "data:" + kind]
    return ["http"]


def field_definition(spec, required):
    match = FIELD.match(spec)
    if not match:
        raise ValueError(f"cannot read the field '{spec}'")
    name = match["name"]
    definition = {}
    default_text = match["default"]
    has_range = match["low"] is not None
    low = None if not has_range or match["low"] in ("", "None") else number(match["low"])
    high = None if not has_range or match["high"] in ("", "None") else number(match["high"])

    if has_range and LIST_NAMES.search(name):
        definition["type"] = "array"
        if low is not None:
            definition["minItems"] = int(low)
        if high is not None:
            definition["maxItems"] = int(high)
        if name.endswith("_urls") or name in ("image_list", "reference_images"):
            definition["items"] = {"type": "media", "accepts": media_accepts(name)}
    elif match["enum"] is not None:
        values = match["enum"].split("|")
        numbers = [number(value) for value in values]
        if all(isinstance(value, int) for value in numbers):
            definition["type"] = "integer"
            definition["enum"] = numbers
            # The docs' own examples send "duration": "5"; such values are accepted and sent as integers.
            definition["acceptsString"] = True
        else:
            definition["type"] = "string"
            definition["enum"] = list(dict.fromkeys(values))
            if name == "provider":
                definition["caseInsensitive"] = True
    elif has_range:
        integral = all(value is None or isinstance(value, int) for value in (low, high))
        definition["type"] = "integer" if integral and not (low == 0 and high == 1) else "number"
        if low is not None:
            definition["minimum"] = low
        if high is not None:
            definition["maximum"] = high
        if name == "duration":
            definition["acceptsString"] = True
    elif name.endswith("_url"):
        definition["type"] = "media"
        definition["accepts"] = media_accepts(name)
    elif name in TEXT_NAMES:
        definition["type"] = "string"
        if name in required:
            definition["nonEmpty"] = True
    elif default_text in ("True", "False"):
        definition["type"] = "boolean"
    elif default_text is not None and number(default_text) is not None:
        integral = isinstance(number(default_text), int)
        definition["type"] = "integer" if integral and INTEGER_NAMES.match(name) else "number"
    elif name == "seed":
        definition["type"] = "integer"
    # Anything else stays untyped: any JSON value, passed on unchecked.

    if default_text is not None:
        default = default_value(default_text, definition)
        if default is not None:
            definition["default"] = default
    return name, definition


def default_value(text, definition):
    """The default in the field's own type, or None when it does not fit (then it is left out)."""
    kind = definition.get("type")
    if kind == "boolean":
        return text == "True"
    if kind in ("integer", "number"):
        value = number(text)
        if value is None or (kind == "integer" and not isinstance(value, int)):
            return None
        if "enum" in definition and value not in definition["enum"]:
            return None
        if "minimum" in definition and value < definition["minimum"]:
            return None
        if "maximum" in definition and value > definition["maximum"]:
            return None
        return value
    if kind == "string":
        if "enum" in definition and text not in definition["enum"]:
            return None
        return text
    if kind is None:
        if text in ("True", "False"):
            return text == "True"
        value = number(text)
        return text if value is None else value
    return None  # media and arrays: the reference gives no usable default


def draft(model, line):
    columns = [column.strip() for column in line.split(" | ")]
    required_text = columns[3]
    if not required_text.startswith("req="):
        raise ValueError("the fourth column is not req=[...]")
    required = [name.strip().strip("'\"") for name in required_text[len("req=") :].strip("[]").split(",") if name.strip()]
    specs = [spec.strip() for spec in columns[4].split(";")] if len(columns) > 4 else []
    properties = {}
    for spec in specs:
        if not spec:
            continue
        name, definition = field_definition(spec, required)
        if name == "model" or name in properties:
            continue
        properties[name] = definition
    for name in required:
        if name != "model" and name not in properties:
            properties[name] = {}
    return {
        "model": model,
        "description": f"Draft from the reference line for {columns[2]}; review before use.",
        "required": required,
        "properties": properties,
    }


def main(arguments):
    if len(arguments) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    reference, output = pathlib.Path(arguments[0]), pathlib.Path(arguments[1])
    output.mkdir(parents=True, exist_ok=True)
    written = {}
    for number_, line in enumerate(reference.read_text(encoding="utf-8").splitlines(), start=1):
        columns = line.split(" | ")
        if len(columns) < 4 or columns[1].strip() != ENDPOINT:
            continue
        for model in (model.strip() for model in columns[0].split(",")):
            if not model or model in written:
                continue  # the first line for an id wins
            try:
                definition = draft(model, line)
            except ValueError as error:
                sys.exit(f"{reference}:{number_}: {error}")
            path = output / (model.replace("/", "--") + ".json")
            path.write_text(jsonformat.dumps(definition) + "\n", encoding="utf-8")
            written[model] = path
    print(f"wrote {len(written)} draft definitions to {output}")


if __name__ == "__main__":
    main(sys.argv[1:])
