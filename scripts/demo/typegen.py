"""typegen.py — the reference answers: JSON value -> TypeScript interfaces / Python dataclasses.

Contract (stdlib only; deterministic; the answers the demo model is trained to write and is graded against)
    infer(value) -> Type            the shape of a JSON value, merged over array items
    to_typescript(value) -> str     `export interface Root { ... }` (or `export type Root = X[];` for an
                                    array root) followed by one interface per nested object shape
    to_dataclasses(value) -> str    `@dataclass(kw_only=True) class Root: ...` in the same order
    py_compatible(value) -> bool    whether every key maps to a distinct Python identifier

Rules, as a careful engineer would write them:
  * strings, numbers, booleans -> string / number / boolean (Python: str / int / float / bool; an int field
    that is a float anywhere is float); a value that is always null -> null (Python: None).
  * arrays: the union of their elements' types, members in order of first appearance (null last), `(A | B)[]` when
    more than one; an array that is always empty -> unknown[] (Python: list[Any]).
  * objects inside arrays are merged into one interface: a key missing from any item is optional (`?`,
    Python `= None`), a key that is null in some items and T in others is `T | null`.
  * interface names: PascalCase of the key; array items take the singular (`orders` -> Order,
    `categories` -> Category, `history` -> HistoryItem); an array root's items are RootItem. A name already
    taken gets the parent's name in front (User + Address), then a number (Address2).
  * interfaces are written in the order they are first referenced (breadth first), Root first, fields in
    payload order; keys that are not identifiers are quoted ("created-at": string;).
"""
import keyword
import re

# ----------------------------------------------------------------------------------------------- shapes
# A Type is a tuple: ("prim", "string"|"int"|"float"|"boolean"), ("null",), ("unknown",),
# ("arr", Type), ("obj", [(key, Type, optional)]), ("union", [Type, ...]) with >= 2 non-union members.


def _kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "arr"
    if isinstance(v, dict):
        return "obj"
    raise TypeError(type(v).__name__)


def infer_many(values):
    """The type of a position that took each of `values` (at least one)."""
    order, groups = [], {}
    for v in values:
        k = _kind(v)
        if k == "float":           # int and float are one member ("number"), float if any value is
            k2 = "num"
        elif k == "int":
            k2 = "num"
        else:
            k2 = k
        if k2 not in groups:
            order.append(k2)
            groups[k2] = []
        groups[k2].append(v)
    members = []
    for k in order:
        vs = groups[k]
        if k == "num":
            members.append(("prim", "float" if any(isinstance(v, float) for v in vs) else "int"))
        elif k in ("string", "boolean"):
            members.append(("prim", k))
        elif k == "null":
            members.append(("null",))
        elif k == "arr":
            elems = [e for v in vs for e in v]
            members.append(("arr", infer_many(elems) if elems else ("unknown",)))
        elif k == "obj":
            keys, seen = [], {}
            for o in vs:
                for key in o:
                    if key not in seen:
                        seen[key] = True
                        keys.append(key)
            fields = []
            for key in keys:
                present = [o[key] for o in vs if key in o]
                fields.append((key, infer_many(present), len(present) < len(vs)))
            members.append(("obj", fields))
    if ("null",) in members:          # null goes last: `string | null`
        members = [m for m in members if m != ("null",)] + [("null",)]
    return members[0] if len(members) == 1 else ("union", members)


def infer(value):
    return infer_many([value])


# ----------------------------------------------------------------------------------------------- names

def split_words(key):
    """'userName' / 'user_name' / 'User-Name' / 'HTTPStatus' -> ['user', 'name'] / ... / ['http', 'status']"""
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", key)
    return [p.lower() for p in parts]


def pascal(key):
    words = split_words(key)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        name = "Field"
    if name[0].isdigit():
        name = "T" + name
    return name


def singular_word(w):
    irregular = {"people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
                 "geese": "goose", "feet": "foot", "teeth": "tooth", "criteria": "criterion", "analyses": "analysis",
                 "indices": "index", "matrices": "matrix", "vertices": "vertex", "statuses": "status",
                 "aliases": "alias", "buses": "bus", "addresses": "address", "leaves": "leaf", "shelves": "shelf",
                 "lives": "life", "knives": "knife", "wives": "wife", "halves": "half", "quizzes": "quiz"}
    if w in irregular:
        return irregular[w]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "os")):
        return w[:-1]
    return None


def item_name(key):
    """Interface name for the items of an array stored under `key`."""
    words = split_words(key)
    if not words:
        return "Item"
    s = singular_word(words[-1])
    if s is None:
        return pascal(key) + "Item"
    words = words[:-1] + [s]
    return pascal("_".join(words))


IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def ts_key(key):
    if IDENT.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def snake(key):
    return "_".join(split_words(key))


def py_name(key):
    s = snake(key)
    if keyword.iskeyword(s) or s in ("None", "True", "False"):
        s += "_"
    return s


def py_compatible(value):
    """True when every object's keys map to distinct, valid Python identifiers (and the root is an object)."""
    if not isinstance(value, dict):
        return False
    def ok(v):
        if isinstance(v, dict):
            names = [py_name(k) for k in v]
            if len(set(names)) != len(names):
                return False
            if any(not n or not n.isidentifier() or n[0].isdigit() for n in names):
                return False
            return all(ok(x) for x in v.values())
        if isinstance(v, list):
            return all(ok(x) for x in v)
        return True
    return ok(value)


# -------------------------------------------------------------------------------------------- rendering

class _Namer:
    """Assigns interface names in order of first reference and queues the shapes to write."""

    def __init__(self):
        self.used = set()
        self.queue = []          # (name, fields)

    def name(self, candidate, parent, fields):
        name = candidate
        if name in self.used:
            name = parent + candidate if parent != "Root" else candidate
            if name in self.used:
                i = 2
                while f"{candidate}{i}" in self.used:
                    i += 1
                name = f"{candidate}{i}"
        self.used.add(name)
        self.queue.append((name, fields))
        return name


def _obj_of(t):
    """The object member of a type (through arrays and unions), for naming."""
    if t[0] == "obj":
        return t
    if t[0] == "arr":
        return _obj_of(t[1])
    if t[0] == "union":
        for m in t[1]:
            o = _obj_of(m)
            if o:
                return o
    return None


def _ts_type(t, key, parent, namer, in_array=False):
    k = t[0]
    if k == "prim":
        return {"string": "string", "int": "number", "float": "number", "boolean": "boolean"}[t[1]]
    if k == "null":
        return "null"
    if k == "unknown":
        return "unknown"
    if k == "obj":
        cand = item_name(key) if in_array else pascal(key)
        return namer.name(cand, parent, t[1])
    if k == "arr":
        inner = _ts_type(t[1], key, parent, namer, in_array=True)
        if t[1][0] == "union":
            inner = "(" + inner + ")"
        return inner + "[]"
    if k == "union":
        return " | ".join(_ts_type(m, key, parent, namer, in_array) for m in t[1])
    raise ValueError(k)


def to_typescript(value):
    t = infer(value)
    namer = _Namer()
    out = []
    if t[0] == "obj":
        namer.used.add("Root")
        namer.queue.append(("Root", t[1]))
    else:
        namer.used.add("Root")
        alias = _ts_type(t, "root", "Root", namer, in_array=False) if t[0] == "arr" else None
        if alias is None:
            raise ValueError("payload root must be an object or an array")
        out.append(f"export type Root = {alias};")
    i = 0
    while i < len(namer.queue):
        name, fields = namer.queue[i]
        i += 1
        lines = [f"export interface {name} {{"]
        for key, ft, opt in fields:
            lines.append(f"  {ts_key(key)}{'?' if opt else ''}: {_ts_type(ft, key, name, namer)};")
        lines.append("}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _py_type(t, key, parent, namer, used_any, in_array=False):
    k = t[0]
    if k == "prim":
        return {"string": "str", "int": "int", "float": "float", "boolean": "bool"}[t[1]]
    if k == "null":
        return "None"
    if k == "unknown":
        used_any[0] = True
        return "Any"
    if k == "obj":
        cand = item_name(key) if in_array else pascal(key)
        return namer.name(cand, parent, t[1])
    if k == "arr":
        return "list[" + _py_type(t[1], key, parent, namer, used_any, in_array=True) + "]"
    if k == "union":
        return " | ".join(_py_type(m, key, parent, namer, used_any, in_array) for m in t[1])
    raise ValueError(k)


def to_dataclasses(value):
    t = infer(value)
    if t[0] != "obj":
        raise ValueError("dataclasses need an object root")
    namer = _Namer()
    namer.used.add("Root")
    namer.queue.append(("Root", t[1]))
    used_any = [False]
    classes = []
    i = 0
    while i < len(namer.queue):
        name, fields = namer.queue[i]
        i += 1
        lines = ["@dataclass(kw_only=True)", f"class {name}:"]
        for key, ft, opt in fields:
            ty = _py_type(ft, key, name, namer, used_any)
            if opt:
                nullable = ft[0] == "null" or (ft[0] == "union" and ("null",) in ft[1])
                if not nullable:
                    ty += " | None"
                lines.append(f"    {py_name(key)}: {ty} = None")
            else:
                lines.append(f"    {py_name(key)}: {ty}")
        classes.append("\n".join(lines))
    head = "from __future__ import annotations\n\nfrom dataclasses import dataclass\n"
    if used_any[0]:
        head += "from typing import Any\n"
    return head + "\n\n" + "\n\n\n".join(classes) + "\n"
