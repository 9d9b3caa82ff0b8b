"""Fill the zh_CN catalogue from a JSON file {msgid: msgstr}, then list what is still untranslated.

Usage: make i18n-extract; .venv/bin/python translations/fill.py new-strings.json; make translations
Serialised with flock in the Makefile target so two developers' runs never interleave.
"""

import json
import sys

from babel.messages.pofile import read_po, write_po

PATH = "translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def main():
    with open(PATH, "rb") as f:
        catalogue = read_po(f, locale="zh_Hans_CN")
    pairs = {}
    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as f:
            pairs.update(json.load(f))
    for message in catalogue:
        if message.id and message.id in pairs:
            message.string = pairs[message.id]
            message.flags.discard("fuzzy")
    with open(PATH, "wb") as f:
        write_po(f, catalogue, width=120)
    missing = [message.id for message in catalogue if message.id and not message.string]
    print(f"{len(missing)} untranslated")
    for msgid in missing:
        print(json.dumps(msgid, ensure_ascii=False))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
