#!/usr/bin/env bash
# Benchmarks and measurements. Each writes its section under docs/perf/ (Markdown + JSON) and
# docs/perf/report.md / report.json are rebuilt from all sections, with the commands used.
#
#   infra/bench.sh          every benchmark
#   infra/bench.sh build    cold release build of every Lambda function for arm64
#                           (cargo-lambda + zig, as `sam build` does): time and binary sizes
#   infra/bench.sh list     the registrant list with 10,000 registrants on the embedded store:
#                           page latency p50/p99 through the router, Store calls per page
#   infra/bench.sh bulk     CSVアップロード of a 10,000-row file and CSVダウンロード of 10,000 and
#                           50,000 registrants (a dependent each) on the embedded store: rows/s,
#                           peak heap, data-key unwraps per download, the download against a
#                           fair bare loop (same store pages, open, write, CP932)
#   infra/bench.sh load     200 logged-in sessions (wrk -c 200, 30 s, over loopback) browsing the
#                           list, searches and detail pages of a 10,000-registrant tenant while a
#                           10,000-row CSV import and a 1,000-mail collection blast run:
#                           requests/s, p50/p99, errors (the run fails on any); needs `wrk` (apt,
#                           installed here). MYNA_BENCH_PROFILE=dev measures the debug build.
#   infra/bench.sh coldstart  every function's release binary (x86_64) under a local Lambda
#                           Runtime API on moto: init (exec → first /next) and first answer,
#                           median of 15 runs; the stripped arm64 bootstrap (cargo-lambda + zig,
#                           as `sam build` makes it) of each
#   infra/bench.sh profiles the build profiles compared on the largest and the smallest
#                           function: opt-level 3 / "s" / "z", fat / thin LTO: arm64 size, init
#   infra/bench.sh auth     the login's password step (argon2id m=19 MiB, t=2) through the router,
#                           p50/p99; 100,000 audit appends and the chain's verification
#
# Release builds run under `nice -n 19` in MYNA_RELEASE_TARGET (default target/release-bench),
# kept between runs (only `build` starts cold, in MYNA_BENCH_TARGET). Every run ends with
# docs/perf/report.md and report.json (infra/perf_report.py): the issue's figures, the previous
# report's beside them, the machine and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/perf
# The report this run replaces: its figures are shown as "previous".
PREVIOUS_REPORT="$(mktemp -t myna-report.XXXXXX.json)"
[ -f docs/perf/report.json ] && cp docs/perf/report.json "$PREVIOUS_REPORT"

# The function crates' package names (myna-fn-…), sorted.
function_packages() {
  sed -n 's/^name = "\(myna-fn-[a-z-]*\)"$/\1/p' functions/*/Cargo.toml | sort -u
}

# Cross-compiling for arm64 as `sam build` does: cargo-lambda and zig from PyPI, the target.
ensure_arm64_tools() {
  # shellcheck source=tools.sh
  source infra/tools.sh
  ensure_build_venv
  export PATH="$PWD/.venv-build/bin:$PATH"
  rustup target add aarch64-unknown-linux-gnu >/dev/null
}

bench_build() {
  ensure_arm64_tools
  local target="${MYNA_BENCH_TARGET:-$PWD/target/bench}"
  local functions
  mapfile -t functions < <(function_packages)
  # Cold: no reuse of earlier release artefacts (the registry cache is kept).
  rm -rf "$target"
  local args=()
  for f in "${functions[@]}"; do args+=(-p "$f"); done
  local start end
  start=$(date +%s)
  CARGO_TARGET_DIR="$target" nice -n 19 cargo lambda build --release --arm64 "${args[@]}"
  end=$(date +%s)
  local secs=$((end - start))
  {
    echo "## Release build of the Lambda functions (arm64)"
    echo
    echo "Command: \`infra/bench.sh build\` (cold: \`cargo lambda build --release --arm64 ${args[*]}\`, profile"
    echo "release = opt-level z (the crypto crates 3), fat lto, codegen-units 1, panic abort, strip), on $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| wall time, all functions | ${secs} s |"
    for f in "${functions[@]}"; do
      local size
      size=$(stat -c %s "$target/lambda/$f/bootstrap")
      echo "| \`$f\` stripped bootstrap | $((size / 1024)) KiB ($size bytes) |"
    done
  } > docs/perf/build.md
  python3 - "$secs" "$target" "${functions[@]}" > docs/perf/build.json <<'PY'
import json, os, sys
secs, target, fns = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
print(json.dumps({"build": {"wall_seconds": secs, "cores": os.cpu_count(),
  "binaries": {f: os.path.getsize(f"{target}/lambda/{f}/bootstrap") for f in fns}}}, indent=2))
PY
}

bench_list() {
  local out
  out="$(cargo bench -p myna-tests --bench registrants_list 2>/dev/null)"
  printf '%s\n' "$out" > docs/perf/registrants_list.json
  python3 - <<'PY' > docs/perf/registrants_list.md
import json
d = json.load(open("docs/perf/registrants_list.json"))["registrants_list"]
print("## Registrant list, 10,000 registrants (embedded store)")
print()
print("Command: `infra/bench.sh list` (`cargo bench -p myna-tests --bench registrants_list`):")
print(f"{d['registrants']:,} registrants with {d['dependents_each']} dependent each in {d['groups']} groups,")
print(f"{d['runs_per_case']} requests per case through the HTTP router (session, role check, page render).")
print("The list is filtered, sorted and paged in memory from the tenant's registrant directory, whose")
print("copy each container keeps by version: one Store call (the version) when current; the cases")
print("\"right after another container saved\" move the version before every request, so each")
print("pays the version check and the directory query.")
if "directory_bytes" in d:
    print(f"The directory holds {d['directory_items']:,} items, {d['directory_bytes'] / 1e6:.2f} MB as DynamoDB counts them")
    print(f"(a cold query reads it in {-(-d['directory_bytes'] // 1_000_000)} page(s) of 1 MB on DynamoDB, one call on the embedded store).")
print()
print("| case | rows selected | p50 | p99 | Store calls for the list | Store calls per request (main table) |")
print("|---|---|---|---|---|---|")
for name, c in d["cases"].items():
    print(f"| {name} | {c.get('rows_selected', '')} | {c['p50_ms']} ms | {c['p99_ms']} ms | {c['store_calls_for_the_list']} | {c['store_calls_per_request']} |")
PY
}

bench_bulk() {
  local out
  out="$(cargo bench -p myna-tests --bench bulk_csv 2>/dev/null)"
  printf '%s\n' "$out" > docs/perf/bulk_csv.json
  python3 - "$(nproc)" "$(date -u +%Y-%m-%d)" <<'PY' > docs/perf/bulk_csv.md
import json, sys
cores, day = sys.argv[1], sys.argv[2]
d = json.load(open("docs/perf/bulk_csv.json"))["bulk_csv"]
i, m = d["import"], d["vm_hwm_mib"]
print("## CSV upload and download (embedded store)")
print()
print("Command: `infra/bench.sh bulk` (`cargo bench -p myna-tests --bench bulk_csv`, profile bench),")
print(f"on {cores} cores, {day}. Through the HTTP router (session, CSRF, role check, pages). Where the")
print("time goes: `docs/perf/bulk_profile.md`.")
print()
print("| | |")
print("|---|---|")
print(f"| upload: {i['rows']:,}-row CP932 file ({i['registrants']:,} registrants with {i['dependents_each']} dependents each, {i['file_bytes']:,} bytes): read, check, seal, stage | {i['upload_check_stage_seconds']} s |")
print(f"| commit: chunks, flip, tidy ({i['status_page_requests']} status-page requests) | {i['commit_seconds']} s |")
print(f"| import, rows per second (upload + commit) | {i['rows_per_second']:,.0f} |")
print(f"| import, heap peak above start | {i['heap_peak_mib']} MiB |")
print(f"| process VmHWM after import / after the downloads | {m['after_import']} / {m['after_export']} MiB |")
print()
print("Download (CSVダウンロード, CP932, numbers opened), against a fair bare loop in the same run: the")
print("same rows read from the same SQLite file through the store's query (the same pages), each")
print("sealed number opened with the same cipher, each row written by the csv crate, every page")
print("encoded CP932. Heap peaks are above the start of each phase; the body is read frame by")
print("frame and dropped, as a socket would send it.")
print()
print("CPU seconds (user + system, the whole process) beside wall time: on a shared machine the")
print("wall time includes other people's work.")
print()
print("| registrants (+1 dependent each) | rows | bytes | download (CPU) | first piece | rows/s | heap peak | data-key unwraps | bare loop (CPU) | bare heap | download / bare, wall (CPU) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for e in d["export"]:
    b = e["bare_loop"]
    rows = e["registrants"] + e["dependents"]
    print(f"| {e['registrants']:,} | {rows:,} | {e['bytes']:,} | {e['seconds']} s ({e['cpu_seconds']} s) | {e['first_piece_seconds']} s | {e['rows_per_second']:,.0f} | {e['heap_peak_mib']} MiB | {e['data_key_unwraps']} | {b['seconds']} s ({b['cpu_seconds']} s) | {b['heap_peak_mib']} MiB | {e['export_to_bare_time_ratio']} ({e['export_to_bare_cpu_ratio']}) |")
PY
}

bench_load() {
  if ! command -v wrk >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk
  fi
  local profile="${MYNA_BENCH_PROFILE:-bench}" out status=0
  out="$(cargo bench -q -p myna-tests --bench load --profile "$profile")" || status=$?
  printf '%s\n' "$out" > docs/perf/load.json
  python3 - "$profile" "$(date -u +%Y-%m-%d)" <<'PY' > docs/perf/load.md
import json, sys
profile, day = sys.argv[1], sys.argv[2]
d = json.load(open("docs/perf/load.json"))["load"]
lat, i, b = d["latency_ms"], d["import"], d["blast"]
print("## Load: 200 sessions browsing while an import and a blast run")
print()
print(f"Command: `infra/bench.sh load` (`cargo bench -p myna-tests --bench load`, profile {profile}),")
print(f"on {d['cores']} cores, {day}. The product's router on a loopback socket (embedded store, worker")
print(f"in process); `wrk -t 2 -c {d['connections']} -d {d['seconds']:.0f}s` rotating {d['sessions']} logged-in sessions over")
print(f"{d['paths']} list, search (name, kana, 社員コード) and detail pages of a tenant with {d['registrants']:,}")
print(f"registrants ({d['dependents_each']} dependent each). wrk and the server share the machine.")
print()
print("| | |")
print("|---|---|")
print(f"| requests | {d['requests']:,} in {d['seconds']} s |")
print(f"| throughput | {d['requests_per_second']:,} requests/s |")
print(f"| latency p50 / p90 / p99 / max | {lat['p50']} / {lat['p90']} / {lat['p99']} / {lat['max']} ms |")
e = d["errors_by_kind"]
kinds = ", ".join(f"{k} {v}" for k, v in e.items())
print(f"| errors (anything but 200, socket errors, answers slower than {d['timeout_seconds']} s) | {d['errors']} ({kinds}) |")
print(f"| during it: CSV import into a second company, {i['rows']:,} rows ({i['registrants']:,} registrants) | {'completed' if i['completed'] else 'NOT completed'} in {i['seconds']} s ({i['registrants_after']:,} registrants after) |")
print(f"| during it: collection mail blast to {b['recipients']:,} registrants | {'completed' if b['completed'] else 'NOT completed'} in {b['seconds']} s ({b['sent']:,} sent, {b['failed']} failed, {b['mails_in_outbox']:,} mails in the outbox) |")
PY
  # A benchmark reports what it measured: errors are in the table (and the smoke in
  # infra/test.sh load fails on them), the other sections are still written.
  [ "$status" = 0 ] || echo "infra/bench.sh load: the run had errors or an unfinished import or blast (docs/perf/load.md)" >&2
}

# release_build PROFILE PACKAGE…: the packages' arm64 bootstraps (TARGET/lambda/<bin>/bootstrap)
# and x86_64 binaries (TARGET/<profile>/<bin>), niced: the machine is shared.
release_build() {
  local profile="$1"; shift
  local target="${MYNA_RELEASE_TARGET:-$PWD/target/release-bench}"
  local args=()
  for f in "$@"; do args+=(-p "$f"); done
  ensure_arm64_tools
  CARGO_TARGET_DIR="$target" nice -n 19 cargo lambda build --profile "$profile" --arm64 "${args[@]}" >&2
  CARGO_TARGET_DIR="$target" nice -n 19 cargo build --profile "$profile" "${args[@]}" >&2
}

# coldstart_run PROFILE [FUNCTIONS] [RUNS]: the coldstart bench's JSON on stdout, for the
# binaries of PROFILE (comma-separated FUNCTIONS only, if given), with the arm64 sizes added.
# The bench itself (the Runtime API that times the functions) is the debug build the tests
# already made (MYNA_BENCH_PROFILE=bench for an optimised one): only the functions are timed.
coldstart_run() {
  local profile="$1" only="${2:-}" runs="${3:-15}"
  local target="${MYNA_RELEASE_TARGET:-$PWD/target/release-bench}"
  if [ -z "${MOTO_URL:-}" ]; then
    # shellcheck source=tools.sh
    source infra/tools.sh
    start_moto >&2
  fi
  local out
  out="$(AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_SESSION_TOKEN= AWS_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true MYNA_MOTO_ENDPOINT="$MOTO_URL" \
    MYNA_COLDSTART_BINARIES="$target/$profile" MYNA_COLDSTART_ONLY="$only" MYNA_COLDSTART_RUNS="$runs" \
    cargo bench -q -p myna-tests --bench coldstart --profile "${MYNA_BENCH_PROFILE:-dev}")"
  printf '%s\n' "$out" | python3 -c '
import json, os, sys
lambda_dir = sys.argv[1]
d = json.load(sys.stdin)
for f, v in d["coldstart"]["functions"].items():
    p = os.path.join(lambda_dir, f, "bootstrap")
    v["arm64_stripped_bytes"] = os.path.getsize(p) if os.path.exists(p) else None
print(json.dumps(d, indent=2))' "$target/lambda"
}

bench_coldstart() {
  # MYNA_COLDSTART_PROFILE=release-z measures `release` from the build `infra/bench.sh profiles`
  # made (the same settings under another name), without building it again.
  local profile="${MYNA_COLDSTART_PROFILE:-release}" functions
  mapfile -t functions < <(function_packages)
  # MYNA_SKIP_BUILD=1 times the binaries already built (after a build of the same commit).
  [ -n "${MYNA_SKIP_BUILD:-}" ] || release_build "$profile" "${functions[@]}"
  coldstart_run "$profile" > docs/perf/coldstart.json
  python3 - "$(nproc)" "$(date -u +%Y-%m-%d)" "$profile" <<'PY' > docs/perf/coldstart.md
import json, sys
cores, day, profile = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open("docs/perf/coldstart.json"))["coldstart"]
print("## Lambda cold start and size, per function")
print()
print("Command: `infra/bench.sh coldstart` (`cargo bench -p myna-tests --bench coldstart`): each")
print("function's x86_64 release binary started under a local Lambda Runtime API (tests/src/lambda) on")
print(f"moto, {d['runs']} cold starts each, one after the other, on {cores} cores, {day}. Init: exec → first")
print("`GET /next`. First answer: the first invocation until its response (an HTTP function: a GET of its")
print("own route without a session; a job: its event for a record that does not exist, or its schedule's")
print("event). Size: the stripped arm64 `bootstrap` (`cargo lambda build --release --arm64`, as `sam build`")
print(f"makes it). Profile `{profile}` of the root Cargo.toml" + (" (the same settings as `release`)." if profile == "release-z" else "."))
print("Goals: init ≤ 10 ms, size ≤ 8 MB (8,000,000 bytes).")
print()
print("| function | init median (min–max) | first answer median | exec → first answer | arm64 bootstrap | first event → answer |")
print("|---|---|---|---|---|---|")
for f, v in d["functions"].items():
    size = v.get("arm64_stripped_bytes")
    size = f"{size / 1e6:.2f} MB" if size else "not built"
    print(f"| `{f}` | {v['init_median_ms']} ms ({v['init_min_ms']}–{v['init_max_ms']}) | {v['first_answer_median_ms']} ms"
          f" | {v['exec_to_first_answer_median_ms']} ms | {size} | {'; '.join(v['first_event'])} |")
PY
}

# The profile comparison on the largest (registrants) and the smallest (purge) function.
bench_profiles() {
  local pair=(myna-fn-registrants myna-fn-purge) profile
  local rows=()
  # MYNA_PROFILES="release-o3 release-z" compares fewer (each profile is a release build).
  for profile in ${MYNA_PROFILES:-release-o3 release-s release-z release-thin}; do
    release_build "$profile" "${pair[@]}"
    coldstart_run "$profile" "$(IFS=,; echo "${pair[*]}")" 15 > "/tmp/myna-profile-$profile.json"
    rows+=("$profile")
  done
  python3 - "$(nproc)" "$(date -u +%Y-%m-%d)" "${rows[@]}" <<'PY'
import json, re, sys
cores, day, profiles = sys.argv[1], sys.argv[2], sys.argv[3:]
toml = open("Cargo.toml").read()
def setting(profile):
    block = re.search(r"\[profile\.%s\]\n(.*?)(?:\n\n|\Z)" % re.escape(profile), toml, re.S)
    lines = [l for l in block.group(1).splitlines() if "=" in l and not l.startswith("inherits")] if block else []
    return ", ".join(l.strip() for l in lines)
out = {}
for p in profiles:
    out[p] = {"settings": setting(p), "functions": json.load(open(f"/tmp/myna-profile-{p}.json"))["coldstart"]["functions"]}
json.dump({"profiles": {"cores": int(cores), "date": day, "compared": out}}, open("docs/perf/profiles.json", "w"), indent=2)
with open("docs/perf/profiles.md", "w") as md:
    print("## Build profiles compared (largest and smallest function)", file=md)
    print(file=md)
    print("Command: `infra/bench.sh profiles`: each profile of the root Cargo.toml (all inherit `release`:", file=md)
    print(f"lto fat, codegen-units 1, panic abort, strip) built for arm64 (size) and x86_64 (init, 15 runs), {cores} cores, {day}.", file=md)
    print(file=md)
    print("| profile | differs from release | function | arm64 bootstrap | init median | first answer median |", file=md)
    print("|---|---|---|---|---|---|", file=md)
    for p, v in out.items():
        for f, r in v["functions"].items():
            size = r.get("arm64_stripped_bytes")
            print(f"| `{p}` | {v['settings'] or '—'} | `{f}` | {size / 1e6:.2f} MB | {r['init_median_ms']} ms | {r['first_answer_median_ms']} ms |" if size else
                  f"| `{p}` | {v['settings'] or '—'} | `{f}` | not built | {r['init_median_ms']} ms | {r['first_answer_median_ms']} ms |", file=md)
PY
}

bench_auth() {
  local out
  out="$(cargo bench -p myna-tests --bench auth_audit 2>/dev/null)"
  printf '%s\n' "$out" > docs/perf/auth_audit.json
  python3 - "$(nproc)" "$(date -u +%Y-%m-%d)" <<'PY' > docs/perf/auth_audit.md
import json, sys
cores, day = sys.argv[1], sys.argv[2]
d = json.load(open("docs/perf/auth_audit.json"))["auth_audit"]
l, a = d["login"], d["audit"]
print("## Login and the operation log (embedded store)")
print()
print("Command: `infra/bench.sh auth` (`cargo bench -p myna-tests --bench auth_audit`, profile bench),")
print(f"on {cores} cores, {day}.")
print()
print("| | |")
print("|---|---|")
print(f"| login, password step through the router ({l['password_setting']}), {l['runs']} logins: p50 / p99 / max | {l['p50_ms']} / {l['p99_ms']} / {l['max_ms']} ms |")
print(f"| audit append, {a['entries']:,} entries to one tenant's chain (one transaction each) | {a['append_seconds']} s ({a['append_entries_per_second']:,.0f} entries/s) |")
print(f"| audit chain verification, {a['verify_entries']:,} entries (操作履歴 → 検証) | {a['verify_seconds']} s |")
PY
}

report() {
  python3 infra/perf_report.py docs/perf "$PREVIOUS_REPORT"
  rm -f "$PREVIOUS_REPORT"
  echo "wrote docs/perf/report.md and docs/perf/report.json"
}

case "${1:-all}" in
  all) bench_list; bench_bulk; bench_load; bench_auth; bench_coldstart; bench_build ;;
  build) bench_build ;;
  list) bench_list ;;
  bulk) bench_bulk ;;
  load) bench_load ;;
  coldstart) bench_coldstart ;;
  profiles) bench_profiles ;;
  auth) bench_auth ;;
  *) echo "usage: infra/bench.sh [build|list|bulk|load|coldstart|profiles|auth]" >&2; exit 64 ;;
esac
report
