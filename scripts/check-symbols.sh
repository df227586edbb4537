#!/usr/bin/env bash
# The library exports exactly:
#  - the C functions the header declares, all named aadtoken_*;
#  - the JNI functions of the Java binding (feature `jni`, on by default), all named
#    Java_aadtoken_<Class>_<method>, one for each `native` method in bindings/java/aadtoken/src/main/java/aadtoken/.
# Nothing else (no stray Rust or dependency symbols). And the header (HEADER, default
# include/aadtoken.h) declares only names in the aadtoken_/AADTOKEN_ namespaces: macros, types
# (typedefs, struct/union/enum tags, callback types), enum constants, functions and variables
# — and the one tag `struct dpiAccessToken`, ODPI-C's, forward-declared on purpose.
# (Parameter and struct field names are not global names and are not checked.)
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-target/debug/libaadtoken.so}
header=${HEADER:-include/aadtoken.h}
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "B" {print $3}' | sort -u)
declared=$(grep -oE '\baadtoken_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
# `static native Token clientGetToken(long handle, ...)` in Native.java -> Java_aadtoken_Native_clientGetToken
# (method names without '_', so no JNI name escaping is involved).
native=$(for f in bindings/java/aadtoken/src/main/java/aadtoken/*.java; do
  class=$(basename "$f" .java)
  { grep -E '^\s*[a-z ]*\bnative\b' "$f" || true; } | { grep -oE '[A-Za-z0-9]+\s*\(' || true; } |
    tr -d '( ' | sed "s/^/Java_aadtoken_${class}_/"
done | sort -u)

stray_macros=$(grep -oE '^#define [A-Za-z_][A-Za-z0-9_]*' "$header" | awk '{print $2}' | grep -vE '^AADTOKEN_' || true)
if [ -n "$stray_macros" ]; then
  echo "macros in $header outside the AADTOKEN_ namespace (make the Rust constant pub(crate) or exclude it in cbindgen.toml):" >&2
  echo "$stray_macros" >&2
  exit 1
fi
# Every other name the header declares, as "kind name" lines (a small C declaration reader:
# comments and preprocessor lines dropped, then each top-level declaration looked at).
declared_names=$(python3 - "$header" <<'PY'
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
text = re.sub(r"//[^\n]*", " ", text)
text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
text = re.sub(r'extern\s+"C"\s*\{', " ", text)  # (its closing brace is in an #ifdef)
tokens = re.findall(r"[A-Za-z_]\w*|\S", text)
ident = re.compile(r"[A-Za-z_]\w*$")
keywords = {"typedef", "struct", "union", "enum", "const", "volatile", "extern", "static",
            "inline", "void", "char", "short", "int", "long", "float", "double", "signed",
            "unsigned", "_Bool", "bool", "restrict"}
names = []

def declarator(decl):
    """The name a top-level declaration (or typedef) declares: the identifier of `(*name)`,
    or the one before the first '(' (a function), or the last one (a variable or type)."""
    for i, t in enumerate(decl[:-2]):
        if t == "(" and decl[i + 1] == "*" and ident.match(decl[i + 2]):
            return decl[i + 2], "callback type" if decl[0] == "typedef" else "function pointer"
    if "(" in decl:
        i = decl.index("(")
        return decl[i - 1], "type" if decl[0] == "typedef" else "function"
    rest = [t for t in decl if ident.match(t) and t not in keywords]
    return (rest[-1] if rest else None), "type" if decl[0] == "typedef" else "variable"

i, decl = 0, []
while i < len(tokens):
    t = tokens[i]
    if t in ("struct", "union", "enum") and i + 1 < len(tokens):
        if ident.match(tokens[i + 1]):
            names.append((t + " tag", tokens[i + 1]))
        j = i + 1 + bool(ident.match(tokens[i + 1]))
        if t == "enum" and j < len(tokens) and tokens[j] == ":":  # C++'s `enum X : uint32_t {`
            while j < len(tokens) and tokens[j] not in ("{", ";"):
                j += 1
        if j < len(tokens) and tokens[j] == "{":
            depth, k, body = 1, j + 1, []
            while depth:
                depth += {"{": 1, "}": -1}.get(tokens[k], 0)
                body.append(tokens[k])
                k += 1
            if t == "enum":  # enumerators: the identifier at the start of each item
                items = " ".join(body[:-1]).split(",")
                names += [("enum constant", it.split()[0]) for it in items if it.split()]
            decl += [t, "{}"]
            i = k
            continue
    if t == ";":
        if len(decl) == 2 and decl[0] in ("struct", "union", "enum"):
            pass  # a forward declaration (`struct X;`): its tag is recorded above
        elif decl:
            name, kind = declarator(decl)
            if name:
                names.append((kind, name))
        decl = []
    elif t != "}":
        decl.append(t)
    i += 1
for kind, name in names:
    print(kind, name)
PY
)
# One foreign name is declared on purpose: the tag `struct dpiAccessToken` (forward-declared,
# never defined), so that aadtoken_odpi_access_token_callback has exactly the type of ODPI-C's
# dpiAccessTokenCallback (see cbindgen.toml). Nothing else outside the namespaces.
stray_names=$(grep -vE ' (aadtoken_|AADTOKEN_)[A-Za-z0-9_]*$' <<<"$declared_names" |
  grep -vxF 'struct tag dpiAccessToken' || true)
if [ -n "$stray_names" ]; then
  echo "names in $header outside the aadtoken_/AADTOKEN_ namespaces (rename the Rust item, or make it pub(crate) so cbindgen leaves it out):" >&2
  echo "$stray_names" >&2
  exit 1
fi
stray=$(grep -vE '^(aadtoken_|Java_aadtoken_)' <<<"$exported" || true)
if [ -n "$stray" ]; then
  echo "exported symbols outside the aadtoken_ and Java_aadtoken_ namespaces:" >&2
  echo "$stray" >&2
  exit 1
fi
c_exported=$(grep -E '^aadtoken_' <<<"$exported" || true)
if [ "$c_exported" != "$declared" ]; then
  echo "exported functions differ from the header (< exported only, > declared only):" >&2
  diff <(echo "$c_exported") <(echo "$declared") >&2 || true
  exit 1
fi
jni_exported=$(grep -E '^Java_aadtoken_' <<<"$exported" || true)
if [ "$jni_exported" != "$native" ]; then
  echo "JNI exports differ from the Java native methods (< exported only, > declared in Java only):" >&2
  diff <(echo "$jni_exported") <(echo "$native") >&2 || true
  exit 1
fi
echo "$(wc -l <<<"$c_exported") C functions, all aadtoken_*, all declared in include/aadtoken.h;" \
  "$(wc -l <<<"$jni_exported") JNI functions, one per native method of bindings/java"
