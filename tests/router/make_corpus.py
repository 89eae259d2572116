#!/usr/bin/env python3
"""make_corpus.py — writes tests/router/corpus.jsonl: prompts with planted secrets and personal data (every
detector kind, several formats and surroundings each) and look-alike prompts that must not trigger.

Each line: {"id": N, "prompt": TEXT, "planted": [{"kind": KIND, "value": VALUE}, ...]}; "planted" is empty
for the look-alikes. Values are random (fixed seed) and checksum-valid where the format has a checksum, so
nothing here is a real credential. Run it again to regenerate the same file:
    python3 tests/router/make_corpus.py > tests/router/corpus.jsonl
"""
import base64
import json
import random
import string
import sys

R = random.Random(20261125)
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def rs(chars, n):
    return "".join(R.choice(chars) for _ in range(n))


def mixed(chars, n):
    """random string that has at least one digit, one lower and one upper letter"""
    while True:
        s = rs(chars, n)
        if any(c.isdigit() for c in s) and any(c.islower() for c in s) and any(c.isupper() for c in s):
            return s


def luhn_complete(prefix, length):
    body = prefix + rs(string.digits, length - len(prefix) - 1)
    for d in string.digits:
        n = body + d
        total = 0
        for i, ch in enumerate(reversed(n)):
            v = int(ch)
            if i % 2:
                v *= 2
                v -= 9 if v > 9 else 0
            total += v
        if total % 10 == 0:
            return n
    raise AssertionError


def iban(cc, bban):
    def num(s):
        return int("".join(str(int(c, 36)) for c in s))
    check = 98 - num(bban + cc + "00") % 97
    return f"{cc}{check:02d}{bban}"


def spaced4(s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


# ---------------------------------------------------------------- value generators, one per detector kind
def aws_key(): return R.choice(["AKIA", "ASIA"]) + rs(string.ascii_uppercase + "234567", 16)
def gcp_key(): return R.choice(["AIza" + rs(B64URL, 35), "GOCSPX-" + rs(B64URL, 28)])
def azure_key():
    if R.random() < 0.5:
        return base64.b64encode(bytes(R.randrange(256) for _ in range(64))).decode()
    return rs(ALNUM, 3) + R.choice(string.digits) + "Q~" + rs(ALNUM + "_~.-", 34)
def github_token(): return R.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rs(ALNUM, 36) if R.random() < 0.7 else "github_pat_11" + rs(string.ascii_uppercase + string.digits, 20) + "_" + rs(ALNUM, 59)
def gitlab_token(): return R.choice(["glpat-", "glrt-", "gldt-"]) + rs(B64URL, 20)
def slack_token():
    if R.random() < 0.7:
        return R.choice(["xoxb-", "xoxp-"]) + rs(string.digits, 11) + "-" + rs(string.digits, 13) + "-" + rs(ALNUM, 24)
    return "https://hooks.slack.com/services/T" + rs(string.ascii_uppercase + string.digits, 8) + "/B" + rs(string.ascii_uppercase + string.digits, 8) + "/" + rs(ALNUM, 24)
def stripe_key(): return R.choice(["sk_live_", "sk_test_", "rk_live_"]) + mixed(ALNUM, 24)
def openai_key(): return R.choice(["sk-", "sk-proj-", "sk-ant-api03-"]) + mixed(ALNUM, 40)
def private_key():
    kind = R.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(rs(ALNUM + "+/", 64) for _ in range(R.randint(3, 6)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
def jwt():
    h = b64u(json.dumps({"alg": R.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    p = b64u(json.dumps({"sub": rs(string.digits, 8), "name": rs(string.ascii_lowercase, 6), "iat": R.randint(1.6e9, 1.8e9)}).encode())
    return f"{h}.{p}.{b64u(bytes(R.randrange(256) for _ in range(32)))}"
def url_password(): return mixed(ALNUM, R.randint(10, 18)) + R.choice(["", "!", "#", "%25"])
def secret_assign(): return R.choice([rs("0123456789abcdef", 32), mixed(ALNUM, 24), mixed(ALNUM + "-_", 20) + "=="])
FIRST = ["maria", "john", "li", "fatima", "olga", "pedro", "aiko", "kwame", "sven", "priya", "noah", "emma"]
LAST = ["garcia", "smith", "wang", "haddad", "ivanova", "silva", "tanaka", "mensah", "berg", "patel", "miller", "rossi"]
DOMAINS = ["gmail.com", "acme-corp.io", "mailbox.org", "uni-heidelberg.de", "outlook.com", "fastmail.fm", "corp.co.uk", "proton.me"]
def email():
    f, l = R.choice(FIRST), R.choice(LAST)
    local = R.choice([f"{f}.{l}", f"{f}{R.randint(1, 99)}", f"{f[0]}{l}", f"{f}+billing"])
    return f"{local}@{R.choice(DOMAINS)}"
def phone():
    c = R.randrange(6)
    if c == 0: return f"+44 20 {R.randint(7000, 7999)} {R.randint(1000, 9999)}"
    if c == 1: return f"+1 ({R.randint(201, 989)}) 555-{R.randint(100, 199):04d}"
    if c == 2: return f"({R.randint(201, 989)}) {R.randint(200, 999)}-{R.randint(1000, 9999)}"
    if c == 3: return f"{R.randint(201, 989)}-{R.randint(200, 999)}-{R.randint(1000, 9999)}"
    if c == 4: return f"+49 30 {R.randint(100000, 999999)}"
    return f"+33 1 {R.randint(10, 99)} {R.randint(10, 99)} {R.randint(10, 99)} {R.randint(10, 99)}"
def card():
    n = R.choice([luhn_complete("4", 16), luhn_complete(str(R.randint(51, 55)), 16), luhn_complete(R.choice(["34", "37"]), 15),
                  luhn_complete("6011", 16), luhn_complete("35" + str(R.randint(28, 89)), 16)])
    f = R.randrange(3)
    if f == 0 or len(n) == 15: return n
    return (" " if f == 1 else "-").join(n[i:i + 4] for i in range(0, 16, 4))
def iban_value():
    cc, bban = R.choice([("DE", rs(string.digits, 18)), ("GB", "WEST" + rs(string.digits, 14)), ("FR", rs(string.digits, 23)),
                         ("NL", "ABNA" + rs(string.digits, 10)), ("ES", rs(string.digits, 20)), ("IT", "X" + rs(string.digits, 22))])
    v = iban(cc, bban)
    return spaced4(v) if R.random() < 0.5 else v
def ipv4():
    while True:
        a = R.choice([10, 172, 192, R.randint(1, 223)])
        b = {10: R.randint(0, 255), 172: R.randint(16, 31), 192: 168}.get(a, R.randint(0, 255))
        if a in (0, 127) or (a, b) in ((192, 0), (198, 51), (203, 0)): continue
        return f"{a}.{b}.{R.randint(0, 255)}.{R.randint(1, 254)}"
def ipv6():
    groups = [R.choice(["2a01", "2a02", "2600", "2607", "fd12", "fe80"])] + [f"{R.randint(0, 0xffff):x}" for _ in range(7)]
    if R.random() < 0.5:
        return ":".join(groups)
    return ":".join(groups[:3]) + "::" + ":".join(groups[6:])
def ssn():
    while True:
        a, g, s = R.randint(1, 899), R.randint(1, 99), R.randint(1, 9999)
        if a != 666 and (a, g, s) != (123, 45, 6789): return f"{a:03d}-{g:02d}-{s:04d}"

GEN = {"aws_key": aws_key, "gcp_key": gcp_key, "azure_key": azure_key, "github_token": github_token, "gitlab_token": gitlab_token,
       "slack_token": slack_token, "stripe_key": stripe_key, "openai_key": openai_key, "private_key": private_key, "jwt": jwt,
       "url_password": url_password, "secret_assignment": secret_assign, "email": email, "phone": phone, "card": card,
       "iban": iban_value, "ipv4": ipv4, "ipv6": ipv6, "ssn": ssn}

# Surroundings per kind: {v} is the planted value. Realistic requests a developer would paste.
T = {
    "aws_key": ["Why does boto3 say InvalidClientTokenId with aws_access_key_id {v}?", "export AWS_ACCESS_KEY_ID={v}\nexport AWS_DEFAULT_REGION=eu-west-1\nwrite a bash script that lists my buckets",
                "Here is my ~/.aws/credentials:\n[default]\naws_access_key_id = {v}\nwhy is the profile ignored?", "const s3 = new S3Client({{ credentials: {{ accessKeyId: '{v}' }} }}); // fix the types"],
    "gcp_key": ["My Maps embed shows an error: https://maps.googleapis.com/maps/api/js?key={v}&callback=init", "firebaseConfig = {{ apiKey: \"{v}\", projectId: \"shop\" }}; convert to TypeScript",
                "Is {v} a valid Google API key format?", "GOOGLE_CLIENT_SECRET={v} is in my .env; write a docker-compose file for the app"],
    "azure_key": ["DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey={v};EndpointSuffix=core.windows.net — why does the SDK reject it?",
                  "Endpoint=sb://bus.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={v} explain the parts"],
    "github_token": ["git clone https://x-access-token:{v}@github.com/org/repo fails with 403, why?", "GH_TOKEN={v} gh release list — write a GitHub Actions step instead",
                     "my token {v} was leaked, what do I do?"],
    "gitlab_token": ["curl --header \"PRIVATE-TOKEN: {v}\" https://gitlab.acme.dev/api/v4/projects returns 401", "gitlab-runner register --token {v} explain the flags"],
    "slack_token": ["Our bot uses SLACK_BOT_TOKEN={v}; write a Python function that posts to #ops", "requests.post('{v}', json={{'text': 'deploy done'}}) times out. Why?"],
    "stripe_key": ["stripe.api_key = \"{v}\"\nwhy does stripe.Charge.create raise AuthenticationError?", "Convert to Node: curl https://api.stripe.com/v1/charges -u {v}:"],
    "openai_key": ["OPENAI_API_KEY={v} python app.py gives 429, explain", "client = OpenAI(api_key=\"{v}\") # make this read from env instead", "Is this key revoked? {v}"],
    "private_key": ["Why does ssh say invalid format for this key?\n{v}\n", "Turn this into a Kubernetes secret YAML:\n{v}",
                    "{{\"type\": \"service_account\", \"private_key\": \"{jv}\", \"client_email\": \"{e}\"}} — which fields does the SDK need?"],
    "jwt": ["Decode this JWT and tell me when it expires: {v}", "curl -H 'Authorization: Bearer {v}' https://api.shop.dev/orders returns 401", "localStorage.setItem('token', '{v}') — is this safe?"],
    "url_password": ["DATABASE_URL=postgres://app:{v}@db-3.shop.internal:5432/orders; write the SQLAlchemy engine setup",
                     "mongodb+srv://admin:{v}@cluster0.ab1cd.mongodb.net/test is refused, why?",
                     "Server=tcp:sql-prod.shop.net,1433;Database=orders;User ID=sa;Password={v};Encrypt=True; convert to a JDBC URL",
                     "redis://:{v}@cache.shop.internal:6379/0 in my config; write a health check"],
    "secret_assignment": ["api_key = \"{v}\"\nresp = requests.get(url, headers={{'X-Api-Key': api_key}})\nadd retries", "settings.py has SECRET_KEY = '{v}' — what is it for?",
                          "{{\n  \"client_id\": \"shop-web\",\n  \"client_secret\": \"{v}\"\n}}\nwrite the TypeScript type", "DB_PASSWORD={v}\nwrite a Dockerfile for this .env",
                          "auth_token: {v}\nexplain this YAML"],
    "email": ["Write a polite reply to {v} about the late invoice.", "Parse this log line: 2024-05-01 12:00:01 login ok user={v} ip=-", "CSV row: 1042,{v},premium — give me the pandas dtype",
              "Forward the report to {v} and {v2}", "git log shows Author: Sam Lee <{v}> — how do I rewrite it?"],
    "phone": ["Customer called from {v} about order 7731; draft a summary.", "Call me at {v} after the release.", "Contact: Ana Ruiz, phone {v}, wants a refund",
              "Normalize these numbers to E.164: {v}"],
    "card": ["The payment with card {v} was declined twice, write a support reply.", "Test the regex against 'card: {v}, exp 04/28'", "Why did Luhn validation fail for {v}?"],
    "iban": ["Please wire the deposit to {v} (Acme GmbH).", "Validate this IBAN in Python: {v}", "SEPA mandate for IBAN {v} — explain the fields"],
    "ipv4": ["ssh: connect to host {v} port 22: Connection timed out — why?", "nginx log: {v} - - [01/May/2024:10:00:00] \"GET / HTTP/1.1\" 502; parse it", "Allow {v}/32 in the security group with terraform"],
    "ipv6": ["ping6 {v} fails but IPv4 works", "Add {v} to the nginx allow list", "My server's address is {v}, write the AAAA record"],
    "ssn": ["Employee record: Dana Cole, SSN {v}, start date 2024-03-01 — write the onboarding email", "Mask all but the last four digits of {v} in JavaScript", "W-2 shows {v}; which box is wages?"],
}

# Look-alikes: none of these contain anything the guard should report.
NEGATIVE = [
    "Generate a UUID v4 in Go, like 550e8400-e29b-41d4-a716-446655440000.",
    "git revert 3f786850e387550fdab836ed7e6dc881de23001b broke the build; why?",
    "Upgrade from version 1.2.3.4 to 2.0.0.1 of the agent; what changed?",
    "pip install torch==2.3.1 numpy==1.26.4 fails on Python 3.12.1",
    "The card number 4111 1111 1111 1112 fails Luhn, as expected; write a test for it.",
    "Our docs use admin@example.com and support@example.org as sample addresses.",
    "Point the client at 192.0.2.10 and 198.51.100.7 (documentation ranges).",
    "Listen on 0.0.0.0:8080 and 127.0.0.1:9090; explain the difference.",
    "IPv6 loopback is ::1 and the documentation prefix is 2001:db8::/32.",
    "std::vector<std::string> v; auto it = std::find(v.begin(), v.end(), x);",
    "The meeting is at 12:30:45 UTC on 2024-01-15.",
    "MAC address 00:1a:2b:3c:4d:5e belongs to which vendor?",
    "docker pull nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    "SSN examples like 123-45-6789 and 000-12-3456 are invalid; write a validator.",
    "The IBAN DE89 3704 0044 0532 0130 01 has a bad check digit, right?",
    "password = getpass.getpass('Password: ')",
    "api_key = os.environ['API_KEY']",
    "Set OPENAI_API_KEY=your-api-key-here before running.",
    "token = request.headers.get('Authorization')",
    "AWS docs use AKIAIOSFODNN7EXAMPLE for examples.",
    "max_tokens = 4096 and temperature = 0.7; explain them.",
    "Order #100234 shipped on 2024-02-03, tracking 1Z999AA10123456784.",
    "ISBN 978-3-16-148410-0 is the book; format the citation.",
    "Write a regex that matches semver like v1.2.3-rc.4+build.5.",
    "Convert this JSON to TypeScript types: {\"id\": 42, \"name\": \"shop\", \"tags\": [\"a\"]}",
    "Write a Dockerfile for a Node 20 app listening on port 3000.",
    "Explain this error: TypeError: Cannot read properties of undefined (reading 'map')",
    "kubectl get pods -n prod-eu-west-1 shows CrashLoopBackOff",
    "npm install lodash@4.17.21 react@18.2.0",
    "The hash is 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Call me maybe: a song from 2012.",
    "The invoice total was 1234567.89 EUR across 12 items.",
    "The process id 4182 and port 51234 are in use.",
    "Phone numbers like (555) 123-4567 are invalid in NANP because the exchange starts with 1.",
    "Use the placeholder sk-xxxxxxxxxxxxxxxxxxxxxxxx in the README.",
    "Write a Python decorator @app.route('/users/<int:id>').",
    "Base64 of 'hello world' is aGVsbG8gd29ybGQ=.",
    "Design a distributed rate limiter for 10k requests per second.",
    "eyJhbGciOiJIUzI1NiJ9 is just a JWT header; what does it decode to?",
    "Azure docs: AccountKey=<your-account-key>;EndpointSuffix=core.windows.net",
    "connect with postgres://user:password@localhost:5432/db",
    "mysql://root:${DB_PASS}@db:3306/app in docker-compose",
    "git@github.com:acme/shop.git is the remote",
    "The build number is 2024.01.15.1234",
    "Coordinates 48.8584, 2.2945 mark the Eiffel Tower.",
    "Timeout values: connect=5, read=30, total=300",
    "ghp_ tokens start with a prefix; describe the GitHub token formats.",
    "Stripe publishable keys start with pk_live_ and are safe in browsers.",
    "The PEM header -----BEGIN CERTIFICATE----- starts a certificate, not a key.",
    "Our office line is listed on the website; ask reception.",
]


def bad_luhn():
    n = luhn_complete("4", 16)
    return n[:-1] + str((int(n[-1]) + R.randint(1, 9)) % 10)


def bad_iban():
    v = iban("DE", rs(string.digits, 18))
    return v[:2] + f"{(int(v[2:4]) + R.randint(1, 50)) % 100:02d}" + v[4:]


# generated look-alikes: one random value of a harmless kind in a neutral sentence
LOOKALIKE = [
    lambda: "id " + "-".join(f"{R.getrandbits(b):0{b // 4}x}" for b in (32, 16, 16, 16, 48)) + " is missing",
    lambda: f"cherry-pick {R.getrandbits(160):040x} onto main",
    lambda: f"checksum sha256 {R.getrandbits(256):064x} does not match",
    lambda: f"bump the chart to {R.randint(0, 20)}.{R.randint(0, 40)}.{R.randint(0, 99)} and the image to v{R.randint(1, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}",
    lambda: f"the test card {bad_luhn()} must be rejected",
    lambda: f"send the sample to {R.choice(FIRST)}@example.com or {R.choice(LAST)}@test.example",
    lambda: f"the doc server is at 203.0.113.{R.randint(1, 254)}",
    lambda: f"area 9{R.randint(0, 99):02d}-{R.randint(10, 99)}-{R.randint(1000, 9999)} numbers are not SSNs",
    lambda: f"the job ran at {R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d} on 20{R.randint(10, 30)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}",
    lambda: f"total {R.randint(1000000, 99999999)} rows, {R.random() * 1000:.3f} ms",
    lambda: f"color #{R.getrandbits(24):06x} and rgba({R.randint(0, 255)}, {R.randint(0, 255)}, {R.randint(0, 255)}, 0.5)",
    lambda: f"pod web-{R.getrandbits(40):010x}-{rs(string.ascii_lowercase + string.digits, 5)} restarted",
    lambda: f"IBAN {bad_iban()} (typo in the check digits?)",
    lambda: f"order {rs(string.digits, 12)} for customer {rs(string.digits, 7)}",
    lambda: f"the secret_name is db-credentials-{rs(string.ascii_lowercase, 6)} and token_count is {R.randint(1, 99999)}",
]


def main():
    out = []
    n = 0
    for kind, tmpls in T.items():
        for rep in range(12):
            tmpl = tmpls[rep % len(tmpls)]
            v = GEN[kind]()
            planted = [{"kind": kind, "value": v}]
            kw = {"v": v}
            if "{v2}" in tmpl:
                v2 = GEN[kind]()
                kw["v2"] = v2
                planted.append({"kind": kind, "value": v2})
            if "{jv}" in tmpl:
                kw["jv"] = v.replace("\n", "\\n")
                planted[0]["value"] = kw["jv"]
                kw["e"] = f"svc-{rs(string.ascii_lowercase, 5)}@shop-prod.iam.gserviceaccount.com"
                planted.append({"kind": "email", "value": kw["e"]})
            out.append({"id": n, "prompt": tmpl.format(**kw), "planted": planted})
            n += 1
    # a few prompts with several kinds at once
    for rep in range(12):
        kinds = R.sample(list(GEN), 3)
        vals = [GEN[k]() for k in kinds]
        prompt = "Clean up this config before I share it:\n" + "\n".join(f"{k.upper()} = {v}" if k not in ("private_key",) else v for k, v in zip(kinds, vals))
        out.append({"id": n, "prompt": prompt, "planted": [{"kind": k, "value": v} for k, v in zip(kinds, vals)]})
        n += 1
    for p in NEGATIVE:
        out.append({"id": n, "prompt": p, "planted": []})
        n += 1
    for rep in range(150):
        p = LOOKALIKE[rep % len(LOOKALIKE)]()
        out.append({"id": n, "prompt": p, "planted": []})
        n += 1
    for o in out:
        sys.stdout.write(json.dumps(o) + "\n")


if __name__ == "__main__":
    main()
