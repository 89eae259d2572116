"""payloads.py — random realistic JSON payloads and log lines (stdlib only, seeded).

Contract
    gen_payload(rng, split) -> JSON value (dict, or a list of dicts for ~8%)
    gen_log(rng, split) -> (line, fields)     fields: the dict the line encodes, in a fixed order per format
    split: "train" or "eval". Eval payloads also draw on field names, entity and collection nouns that
    training never uses (HELD_OUT below, by a stable hash), so evaluation sees unseen keys and shapes.
Shapes: nested objects, arrays of objects whose items omit some keys (optional fields) or hold null for
some (nullable fields), arrays of primitives, mixed arrays, arrays of arrays, empty arrays, always-null
fields; keys in camelCase, snake_case, PascalCase, kebab-case or SCREAMING_SNAKE, mostly one casing per
payload; in training about a third of the names are invented words (RANDOM_NAMES), so the model learns to
copy keys. The answers are computed from the values by typegen.py, so they are right by construction.
"""
import random
import string
import zlib

# ------------------------------------------------------------------------------------------ word lists
FIRST = "ada alan grace linus margaret ken dennis barbara edsger donald john tim radia frances katherine sophie " \
        "lucas mia noah emma liam olivia yuki hiro aiko chen wei li fatima omar amara kofi ines mateo sofia " \
        "pablo lea jonas elif arjun priya ravi anya ivan olga nora erik".split()
LAST = "lovelace turing hopper torvalds hamilton thompson ritchie liskov dijkstra knuth backus berners perlman " \
       "allen johnson martin garcia muller rossi tanaka suzuki wang zhang kim nguyen okafor haddad silva " \
       "novak petrov larsen jensen kowalski costa dubois schmidt patel sharma".split()
WORDS = "alpha bravo delta quick brown lazy river stone cloud ember maple cedar harbor signal vector prism " \
        "orbit pixel quartz nova lumen atlas falcon willow copper silver meadow summit canyon breeze".split()
CITIES = ["Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Oslo", "Austin", "Toronto", "Madrid", "Seoul",
          "Nairobi", "Lyon", "Porto", "Kyoto", "Denver", "Zürich", "São Paulo", "Kraków", "Reykjavík", "Cairo"]
COUNTRIES = ["France", "Germany", "Japan", "Nigeria", "Peru", "Norway", "USA", "Canada", "Spain", "Korea",
             "Kenya", "Portugal", "Brazil", "Poland", "Iceland", "Egypt"]
DOMAINS = ["example.com", "mail.test", "acme.io", "corp.dev", "shop.org", "demo.net"]
STATUSES = ["active", "pending", "disabled", "archived", "draft", "published", "failed", "ok", "queued",
            "shipped", "delivered", "cancelled", "open", "closed", "in_progress"]
ROLES = ["admin", "editor", "viewer", "owner", "member", "guest", "maintainer", "billing"]
LEVELS = ["low", "medium", "high", "critical", "info", "warning", "debug"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "BRL", "INR"]
TAGS = ["new", "sale", "featured", "beta", "urgent", "internal", "legacy", "eco", "vip", "bug", "docs",
        "frontend", "backend", "infra", "ml", "security", "ux", "mobile"]
SENT = ["Fast shipping and great support", "Needs review before release", "All systems nominal",
        "Customer asked for a refund", "Blocked by upstream change", "Looks good to me",
        "Retry after the cache warms up", "Café au lait, s'il vous plaît", "Works on my machine",
        "Deployed to staging", "Temperature rising slowly", "Meeting moved to Thursday", "Ünïcödé test ✓",
        "Line one\nLine two", "Quoted \"value\" inside", "Path C:\\temp\\file", "東京の天気は晴れ"]
PRODUCTS = ["Desk Lamp", "Coffee Grinder", "Wireless Mouse", "Trail Shoes", "Notebook A5", "USB-C Cable",
            "Tea Kettle", "Standing Desk", "Noise Cancelling Headphones", "Yoga Mat"]


def _pick(rng, xs):
    return xs[rng.randrange(len(xs))]


def _date(rng):
    return f"20{rng.randint(15, 29):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _datetime(rng):
    z = _pick(rng, ["Z", "Z", "+00:00", "+02:00", "-05:00"])
    frac = _pick(rng, ["", "", f".{rng.randint(0, 999):03d}"])
    return f"{_date(rng)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{frac}{z}"


def _hex(rng, n):
    return "".join(_pick(rng, "0123456789abcdef") for _ in range(n))


def _uuid(rng):
    return f"{_hex(rng, 8)}-{_hex(rng, 4)}-4{_hex(rng, 3)}-{_pick(rng, '89ab')}{_hex(rng, 3)}-{_hex(rng, 12)}"


def _price(rng):
    return round(rng.uniform(0.5, 999.99), 2)


# value kinds -> generators
KIND = {
    "id": lambda r: r.randint(1, 99999),
    "smallint": lambda r: r.randint(0, 50),
    "count": lambda r: r.randint(0, 5000),
    "age": lambda r: r.randint(18, 90),
    "year": lambda r: r.randint(1990, 2030),
    "port": lambda r: _pick(r, [80, 443, 8080, 5432, 6379, 3000, 9000]),
    "ms": lambda r: r.randint(1, 60000),
    "bytes": lambda r: r.randint(0, 10**9),
    "price": _price,
    "rating": lambda r: round(r.uniform(1, 5), 1),
    "score": lambda r: round(r.uniform(0, 100), _pick(r, [1, 2, 3])),
    "lat": lambda r: round(r.uniform(-90, 90), 4),
    "lng": lambda r: round(r.uniform(-180, 180), 4),
    "ratio": lambda r: round(r.random(), 3),
    "temp": lambda r: round(r.uniform(-20, 40), 1),
    "bool": lambda r: r.random() < 0.5,
    "uuid": _uuid,
    "first": lambda r: _pick(r, FIRST).title(),
    "last": lambda r: _pick(r, LAST).title(),
    "fullname": lambda r: f"{_pick(r, FIRST).title()} {_pick(r, LAST).title()}",
    "username": lambda r: f"{_pick(r, FIRST)}{_pick(r, ['', '_', '.'])}{_pick(r, LAST)[:r.randint(1, 5)]}{_pick(r, ['', str(r.randint(1, 99))])}",
    "email": lambda r: f"{_pick(r, FIRST)}.{_pick(r, LAST)}@{_pick(r, DOMAINS)}",
    "phone": lambda r: f"+{r.randint(1, 49)} {r.randint(100, 999)} {r.randint(100, 999)} {r.randint(1000, 9999)}",
    "url": lambda r: f"https://{_pick(r, DOMAINS)}/{_pick(r, WORDS)}/{r.randint(1, 999)}",
    "image": lambda r: f"https://cdn.{_pick(r, DOMAINS)}/img/{_hex(r, 8)}.{_pick(r, ['png', 'jpg', 'webp'])}",
    "city": lambda r: _pick(r, CITIES),
    "country": lambda r: _pick(r, COUNTRIES),
    "cc": lambda r: _pick(r, ["FR", "DE", "JP", "NG", "PE", "NO", "US", "CA", "ES", "KR", "BR"]),
    "zip": lambda r: f"{r.randint(10000, 99999)}",
    "street": lambda r: f"{r.randint(1, 999)} {_pick(r, WORDS).title()} {_pick(r, ['St', 'Ave', 'Road', 'Lane'])}",
    "company": lambda r: f"{_pick(r, WORDS).title()} {_pick(r, ['Labs', 'Inc', 'GmbH', 'Ltd', 'Systems'])}",
    "product": lambda r: _pick(r, PRODUCTS),
    "sku": lambda r: f"{_pick(r, string.ascii_uppercase)}{_pick(r, string.ascii_uppercase)}-{r.randint(100, 9999)}",
    "color": lambda r: "#" + _hex(r, 6),
    "currency": lambda r: _pick(r, CURRENCIES),
    "status": lambda r: _pick(r, STATUSES),
    "role": lambda r: _pick(r, ROLES),
    "level": lambda r: _pick(r, LEVELS),
    "lang": lambda r: _pick(r, ["en", "fr", "de", "ja", "es", "pt-BR", "zh-CN"]),
    "tz": lambda r: _pick(r, ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York", "Africa/Lagos"]),
    "datetime": _datetime,
    "date": _date,
    "time": lambda r: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
    "version": lambda r: f"{r.randint(0, 12)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
    "ip": lambda r: f"{r.randint(1, 254)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "text": lambda r: _pick(r, SENT),
    "word": lambda r: _pick(r, WORDS),
    "slug": lambda r: f"{_pick(r, WORDS)}-{_pick(r, WORDS)}-{r.randint(1, 99)}",
    "hash": lambda r: _hex(r, _pick(r, [7, 12, 40])),
    "tag": lambda r: _pick(r, TAGS),
    "mime": lambda r: _pick(r, ["image/png", "application/json", "text/plain", "application/pdf"]),
    "method": lambda r: _pick(r, ["GET", "POST", "PUT", "DELETE", "PATCH"]),
    "path": lambda r: f"/{_pick(r, ['api', 'v1', 'v2', 'static'])}/{_pick(r, WORDS)}/{r.randint(1, 500)}",
}

# field name (words separated by spaces) -> value kind
FIELDS = [
    ("id", "id"), ("user id", "id"), ("order id", "id"), ("account id", "id"), ("customer id", "id"),
    ("post id", "id"), ("parent id", "id"), ("product id", "id"), ("team id", "id"), ("session id", "uuid"),
    ("uuid", "uuid"), ("external id", "uuid"), ("request id", "uuid"), ("trace id", "hash"),
    ("name", "fullname"), ("first name", "first"), ("last name", "last"), ("display name", "fullname"),
    ("full name", "fullname"), ("username", "username"), ("login", "username"), ("handle", "username"),
    ("email", "email"), ("email address", "email"), ("contact email", "email"), ("phone", "phone"),
    ("phone number", "phone"), ("mobile", "phone"), ("url", "url"), ("homepage", "url"), ("website", "url"),
    ("avatar url", "image"), ("thumbnail", "image"), ("image url", "image"), ("photo", "image"),
    ("city", "city"), ("country", "country"), ("country code", "cc"), ("zip", "zip"), ("postal code", "zip"),
    ("street", "street"), ("line1", "street"), ("company name", "company"), ("employer", "company"),
    ("title", "product"), ("product name", "product"), ("label", "word"), ("sku", "sku"), ("code", "sku"),
    ("color", "color"), ("theme color", "color"), ("currency", "currency"), ("status", "status"),
    ("state", "status"), ("role", "role"), ("level", "level"), ("severity", "level"), ("priority", "level"),
    ("language", "lang"), ("locale", "lang"), ("timezone", "tz"), ("created at", "datetime"),
    ("updated at", "datetime"), ("deleted at", "datetime"), ("published at", "datetime"),
    ("last login", "datetime"), ("timestamp", "datetime"), ("expires at", "datetime"), ("birthday", "date"),
    ("due date", "date"), ("start date", "date"), ("end date", "date"), ("opens at", "time"),
    ("version", "version"), ("ip address", "ip"), ("host", "ip"), ("description", "text"), ("bio", "text"),
    ("summary", "text"), ("comment", "text"), ("note", "text"), ("body", "text"), ("message", "text"),
    ("slug", "slug"), ("checksum", "hash"), ("etag", "hash"), ("commit sha", "hash"), ("mime type", "mime"),
    ("method", "method"), ("endpoint", "path"), ("path", "path"), ("category", "tag"), ("kind", "word"),
    ("type", "word"), ("count", "count"), ("total", "count"), ("quantity", "smallint"), ("qty", "smallint"),
    ("age", "age"), ("year", "year"), ("port", "port"), ("duration ms", "ms"), ("latency ms", "ms"),
    ("timeout", "ms"), ("size bytes", "bytes"), ("file size", "bytes"), ("page", "smallint"),
    ("per page", "smallint"), ("total pages", "smallint"), ("retries", "smallint"), ("stock", "count"),
    ("views", "count"), ("likes", "count"), ("followers count", "count"), ("price", "price"),
    ("amount", "price"), ("unit price", "price"), ("subtotal", "price"), ("tax", "price"),
    ("balance", "price"), ("rating", "rating"), ("stars", "rating"), ("score", "score"),
    ("accuracy", "ratio"), ("discount", "ratio"), ("progress", "ratio"), ("latitude", "lat"),
    ("longitude", "lng"), ("lat", "lat"), ("lng", "lng"), ("temperature", "temp"), ("humidity", "ratio"),
    ("is active", "bool"), ("active", "bool"), ("verified", "bool"), ("enabled", "bool"),
    ("is admin", "bool"), ("has children", "bool"), ("archived", "bool"), ("public", "bool"),
    ("paid", "bool"), ("in stock", "bool"), ("read", "bool"), ("is default", "bool"), ("visible", "bool"),
    ("two factor", "bool"), ("subscribed", "bool"), ("locked", "bool"), ("deleted", "bool"),
]
# object-valued keys (entities)
ENTITIES = ["address", "profile", "settings", "author", "owner", "location", "metadata", "stats", "billing",
            "shipping", "config", "customer", "company", "manager", "pagination", "links", "dimensions",
            "coordinates", "preferences", "subscription", "plan", "payment", "device", "weather", "summary info",
            "contact", "creator", "assignee", "geo", "meta", "origin", "destination", "organization",
            "repository", "license", "thumbnail info", "limits", "quota", "permissions", "user", "account",
            "store", "vendor", "warehouse", "schedule", "error", "result", "source", "target", "parent"]
# keys of arrays of objects (plural nouns)
COLLECTIONS = ["items", "orders", "users", "comments", "posts", "products", "reviews", "events",
               "transactions", "members", "files", "attachments", "images", "variants", "line items",
               "messages", "notifications", "tasks", "steps", "results", "entries", "records", "repositories",
               "contributors", "categories", "addresses", "people", "children", "matches", "flights",
               "segments", "invoices", "payments", "accounts", "sessions", "metrics", "readings", "forecasts",
               "episodes", "tracks", "playlists", "employees", "students", "courses", "lessons", "questions",
               "answers", "options", "choices", "followers", "friends", "participants", "branches", "commits",
               "releases", "devices", "stores", "batches", "shipments", "packages", "history", "data", "nodes",
               "edges", "rows", "hits", "candidates", "deployments", "alerts", "rules", "boxes", "matrices"]
# keys of arrays of primitives -> element kind
PRIM_ARRAYS = [("tags", "tag"), ("roles", "role"), ("scopes", "word"), ("labels", "tag"), ("keywords", "word"),
               ("emails", "email"), ("ids", "id"), ("scores", "score"), ("dates", "date"), ("flags", "bool"),
               ("aliases", "username"), ("urls", "url"), ("phone numbers", "phone"), ("categories", "tag"),
               ("prices", "price"), ("ratings", "rating"), ("hosts", "ip"), ("features", "word"),
               ("colors", "color"), ("languages", "lang"), ("member ids", "id"), ("permissions", "word"),
               ("values", "count"), ("samples", "temp"), ("history", "price"), ("dependencies", "slug"),
               ("images", "image"), ("channels", "word"), ("recipients", "email"), ("steps", "smallint")]


def _held_out(name):
    """About one name in seven is kept for evaluation only (stable across runs and machines)."""
    return zlib.crc32(name.encode()) % 7 == 3


def _split_list(xs, key=lambda x: x):
    train = [x for x in xs if not _held_out(key(x))]
    return {"train": train, "eval": list(xs)}


POOLS = {
    "fields": _split_list(FIELDS, key=lambda f: f[0]),
    "entities": _split_list(ENTITIES),
    "collections": _split_list(COLLECTIONS),
    "prim_arrays": _split_list(PRIM_ARRAYS, key=lambda f: f[0]),
}
HELD_OUT_NAMES = sorted({f[0] for f in FIELDS if _held_out(f[0])} | {e for e in ENTITIES if _held_out(e)} |
                        {c for c in COLLECTIONS if _held_out(c)} | {p[0] for p in PRIM_ARRAYS if _held_out(p[0])})

# ------------------------------------------------------------------------------------ invented names
# Training also uses made-up words as keys (RANDOM_NAMES of the time), so the model learns to copy keys it
# has never seen rather than to recall a fixed vocabulary of names.
RANDOM_NAMES = {"train": 0.35, "eval": 0.0}


def invented_word(rng):
    """A pronounceable made-up word whose plural (word + "s") typegen.singular_word maps back to it."""
    from typegen import singular_word
    while True:
        w = "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.choice([1, 2, 2, 3])))
        if rng.random() < 0.5:
            w += rng.choice("dgklmnprt")
        if len(w) >= 3 and singular_word(w + "s") == w and singular_word(w) is None:
            return w


def _invent(rng, pool):
    if pool == "fields":
        n = rng.choice([1, 1, 2])
        words = " ".join(invented_word(rng) for _ in range(n))
        if rng.random() < 0.3:
            words += " " + rng.choice(["id", "name", "count", "at", "url", "code", "type", "value", "date"])
        return words, rng.choice(list(KIND))
    if pool == "entities":
        return " ".join(invented_word(rng) for _ in range(rng.choice([1, 1, 2])))
    if pool == "collections":
        head = invented_word(rng) + " " if rng.random() < 0.2 else ""
        return head + invented_word(rng) + "s"
    if pool == "prim_arrays":
        return invented_word(rng) + "s", rng.choice(list(KIND))
    raise ValueError(pool)


# --------------------------------------------------------------------------------------------- casing
CASINGS = ["camel", "snake", "pascal", "kebab", "upper"]


def case(words, style):
    ws = words.split()
    if style == "camel":
        return ws[0] + "".join(w.title() for w in ws[1:])
    if style == "snake":
        return "_".join(ws)
    if style == "pascal":
        return "".join(w.title() for w in ws)
    if style == "kebab":
        return "-".join(ws)
    if style == "upper":
        return "_".join(ws).upper()
    raise ValueError(style)


class _Ctx:
    def __init__(self, rng, split):
        self.rng = rng
        self.split = split
        r = rng.random()
        self.casing = "camel" if r < 0.38 else "snake" if r < 0.76 else "pascal" if r < 0.86 else \
            "kebab" if r < 0.94 else "upper"
        self.mix = rng.random() < 0.12          # some payloads mix casings
        self.budget = rng.randint(6, 34)        # primitive leaves, roughly
        self.max_depth = rng.choice([1, 2, 2, 3, 3, 3])

    def key(self, words):
        style = self.rng.choice(CASINGS) if self.mix and self.rng.random() < 0.3 else self.casing
        return case(words, style)

    def pick(self, name):
        """A name (and for fields a value kind) from the pool, or an invented one."""
        if self.rng.random() < RANDOM_NAMES[self.split]:
            return _invent(self.rng, name)
        return self.rng.choice(self.pool(name))

    def pool(self, name):
        p = POOLS[name][self.split]
        if self.split == "eval" and self.rng.random() < 0.35:   # favour held-out names in evaluation
            held = [x for x in p if _held_out(x[0] if isinstance(x, tuple) else x)]
            if held:
                return held
        return p


# Schemas: ("prim", kind) | ("null",) | ("obj", [(key, schema, p_present, p_null)]) | ("arr", schema, lo, hi)
#          | ("mixed", [kinds], lo, hi) | ("arrarr", kind)

def _obj_schema(ctx, depth, in_array):
    rng = ctx.rng
    n = rng.randint(2, 7) if depth == 0 else rng.randint(2, 5)
    fields, used = [], set()
    for _ in range(n):
        if ctx.budget <= 0 and len(fields) >= 2:
            break
        r = rng.random()
        deeper = depth < ctx.max_depth
        if deeper and r < 0.13:
            words = ctx.pick("entities")
            schema = _obj_schema(ctx, depth + 1, in_array)
        elif deeper and r < 0.25:
            words = ctx.pick("collections")
            schema = ("arr", _obj_schema(ctx, depth + 1, True), rng.choice([1, 1, 2]), rng.choice([2, 3, 3, 4]))
        elif r < 0.34:
            words, kind = ctx.pick("prim_arrays")
            ctx.budget -= 2
            schema = ("arr", ("prim", kind), rng.choice([0, 1, 1, 2]), rng.choice([2, 3, 4, 5]))
        elif r < 0.36:
            words = rng.choice(["values", "data", "mixed", "payload", "args", "extra", "row", "cells"])
            kinds = rng.sample(["count", "word", "bool", "price", "null"], rng.choice([2, 2, 3]))
            ctx.budget -= 2
            schema = ("mixed", kinds, 2, 5)
        elif r < 0.375:
            words = rng.choice(["matrix", "grid", "points", "pairs", "coords", "bounds"])
            ctx.budget -= 3
            schema = ("arrarr", rng.choice(["smallint", "lat", "count"]))
        elif r < 0.39:
            words = rng.choice(["items", "children", "errors", "warnings", "attachments", "notes", "extras"])
            schema = ("arr", ("prim", "word"), 0, 0)                       # always empty -> unknown[]
        elif r < 0.41:
            words, _ = ctx.pick("fields")
            schema = ("null",)
        else:
            words, kind = ctx.pick("fields")
            ctx.budget -= 1
            schema = ("prim", kind)
        if words in used:
            continue
        used.add(words)
        p_present = 1.0 if not in_array or rng.random() < 0.8 else rng.choice([0.4, 0.6, 0.75])
        p_null = 0.0 if rng.random() < (0.88 if in_array else 0.96) or schema[0] == "null" else rng.choice([0.3, 0.5])
        fields.append((ctx.key(words), schema, p_present, p_null))
    return ("obj", fields)


def _value(ctx, schema):
    rng = ctx.rng
    k = schema[0]
    if k == "prim":
        return KIND[schema[1]](rng)
    if k == "null":
        return None
    if k == "obj":
        out = {}
        for key, sub, p_present, p_null in schema[1]:
            if p_present < 1 and rng.random() > p_present:
                continue
            out[key] = None if p_null and rng.random() < p_null else _value(ctx, sub)
        return out
    if k == "arr":
        return [_value(ctx, schema[1]) for _ in range(rng.randint(schema[2], schema[3]))]
    if k == "mixed":
        n = rng.randint(schema[2], schema[3])
        return [None if kd == "null" else KIND[kd](rng) for kd in (rng.choice(schema[1]) for _ in range(n))]
    if k == "arrarr":
        rows, cols = rng.randint(1, 3), rng.randint(2, 3)
        return [[KIND[schema[1]](rng) for _ in range(cols)] for _ in range(rows)]
    raise ValueError(k)


def gen_payload(rng, split="train"):
    ctx = _Ctx(rng, split)
    if rng.random() < 0.08:
        schema = ("arr", _obj_schema(ctx, 1, True), 1, 3)
    else:
        schema = _obj_schema(ctx, 0, False)
    v = _value(ctx, schema)
    if isinstance(v, dict) and len(v) == 0:
        return gen_payload(rng, split)
    if isinstance(v, list) and (not v or any(not isinstance(x, dict) or not x for x in v)):
        return gen_payload(rng, split)
    return v


# ---------------------------------------------------------------------------------------------- logs
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/1.1", "python-requests/2.31",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2)"]
PROGRAMS = ["sshd", "cron", "kernel", "nginx", "dockerd", "systemd", "postfix", "sudo"]
SYSLOG_MSGS = ["Accepted publickey for deploy from {ip} port {port} ssh2", "session opened for user root",
               "Started Daily apt upgrade.", "connection reset by peer", "Out of memory: Killed process {n}",
               "disk quota exceeded on /dev/sda{d}", "Failed password for invalid user admin from {ip}"]
LOGGERS = ["payment.service", "auth.api", "db.pool", "http.server", "worker.queue", "cache.redis", "mailer"]
APP_MSGS = ["Charge succeeded", "Token refreshed", "Connection pool exhausted", "Request completed",
            "Job retried", "Cache miss", "User signed in", "Slow query detected", "Email queued"]


def _fmt_syslog_ts(rng):
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28):2d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def gen_log(rng, split="train"):
    """One log line and the fields it encodes. Formats: combined access log, syslog, app log, logfmt."""
    fmt = rng.choice(["access", "syslog", "app", "logfmt"])
    if fmt == "access":
        ip = KIND["ip"](rng)
        user = rng.choice(["-", "-", KIND["username"](rng)])
        d = f"{rng.randint(1, 28):02d}/{rng.choice(MONTHS)}/20{rng.randint(18, 29)}:{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} {rng.choice(['+0000', '-0700', '+0200'])}"
        method, path = KIND["method"](rng), KIND["path"](rng)
        proto = rng.choice(["HTTP/1.1", "HTTP/2.0", "HTTP/1.0"])
        status = rng.choice([200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 500, 502, 503])
        size = rng.randint(0, 99999)
        ref = rng.choice(["-", KIND["url"](rng)])
        ua = rng.choice(AGENTS)
        line = f'{ip} - {user} [{d}] "{method} {path} {proto}" {status} {size} "{ref}" "{ua}"'
        fields = {"ip": ip, "user": None if user == "-" else user, "time": d, "method": method, "path": path,
                  "protocol": proto, "status": status, "bytes": size, "referrer": None if ref == "-" else ref,
                  "user_agent": ua}
    elif fmt == "syslog":
        ts, host, prog = _fmt_syslog_ts(rng), f"{rng.choice(WORDS)}{rng.randint(1, 20):02d}", rng.choice(PROGRAMS)
        pid = rng.choice([None, rng.randint(1, 65000)])
        msg = rng.choice(SYSLOG_MSGS).format(ip=KIND["ip"](rng), port=rng.randint(1024, 65535),
                                             n=rng.randint(100, 9999), d=rng.randint(1, 4))
        line = f"{ts} {host} {prog}{'' if pid is None else f'[{pid}]'}: {msg}"
        fields = {"timestamp": ts, "host": host, "program": prog, "pid": pid, "message": msg}
    elif fmt == "app":
        ts = KIND["datetime"](rng)
        level = rng.choice(["INFO", "WARN", "ERROR", "DEBUG"])
        thread = f"{rng.choice(['worker', 'main', 'pool-1-thread', 'http-nio'])}-{rng.randint(1, 16)}"
        logger, msg = rng.choice(LOGGERS), rng.choice(APP_MSGS)
        extra = rng.choice(["", f" order={rng.randint(1, 99999)}", f" duration={rng.randint(1, 5000)}ms",
                            f" user={KIND['username'](rng)}"])
        line = f"{ts} {level} [{thread}] {logger} - {msg}{extra}"
        fields = {"timestamp": ts, "level": level, "thread": thread, "logger": logger, "message": msg + extra}
    else:
        fields = {}
        keys = ["time", "level", "msg"] + rng.sample(["host", "user", "status", "duration_ms", "path", "attempt",
                                                     "region", "bytes", "ok", "latency"], rng.randint(1, 4))
        parts = []
        for k in keys:
            if k == "time":
                v = KIND["datetime"](rng)
            elif k == "level":
                v = rng.choice(["info", "warn", "error", "debug"])
            elif k == "msg":
                v = rng.choice(APP_MSGS + SYSLOG_MSGS[2:4])
            elif k in ("status",):
                v = rng.choice([200, 404, 500])
            elif k in ("duration_ms", "attempt", "bytes"):
                v = rng.randint(0, 9999)
            elif k == "latency":
                v = round(rng.uniform(0, 3), 3)
            elif k == "ok":
                v = rng.random() < 0.5
            elif k == "path":
                v = KIND["path"](rng)
            elif k == "host":
                v = f"{rng.choice(WORDS)}-{rng.randint(1, 9)}"
            elif k == "user":
                v = KIND["username"](rng)
            else:
                v = rng.choice(["eu-west-1", "us-east-2", "ap-south-1"])
            fields[k] = v
            if isinstance(v, bool):
                s = "true" if v else "false"
            elif isinstance(v, str) and (" " in v or v == ""):
                s = '"' + v + '"'
            else:
                s = str(v)
            parts.append(f"{k}={s}")
        line = " ".join(parts)
    return line, fields
