import os, sys
import xml.etree.ElementTree as ET
ignore = set(os.environ.get("DV_IGNORE", "").split())
def text(e):
    return (e.text or "").strip()
def covers(want, live, path):
    if want.tag != live.tag or text(want) != text(live):
        return False
    if any(live.get(k) != v for k, v in want.attrib.items()):
        return False
    used = set()
    for w in want:
        hit = next((i for i, l in enumerate(live) if i not in used and covers(w, l, path + w.tag + "/")), None)
        if hit is None:
            return False
        used.add(hit)
    return all(i in used or (path + l.tag) in ignore for i, l in enumerate(live))
try:
    want = ET.fromstring(os.environ["DV_WANT"])
    live = ET.fromstring(os.environ["DV_LIVE"])
except (KeyError, ET.ParseError):
    sys.exit(1)
sys.exit(0 if covers(want, live, "") else 1)
