#!/usr/bin/env bash
# The whole job on one machine, on the embedded default (SQLite): a county
# server starts on a loopback port, a field device fills and finalizes one
# survey for a village of each township (the sample survey, varied), syncs
# them over libcurl; a township approves one, the county returns it with a
# question and the device hears of it at its next sync; and the county's
# report is printed from the server.
# Everything is kept in ./vsurvey-demo (removed first).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --product vsurvey-server >/dev/null
swift build --product vsurvey >/dev/null
bin=$(swift build --show-bin-path)
demo=$PWD/vsurvey-demo
rm -rf "$demo"
mkdir -p "$demo"

# The county server, with the shipped forms and registry.
"$bin/vsurvey-server" serve --db "$demo/server.sqlite" --forms forms --port 0 --log-level warning >"$demo/server.out" 2>"$demo/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$demo/server.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$demo/server.out")
collector=$("$bin/vsurvey-server" token create --db "$demo/server.sqlite" --name demo-collector --role collector --unit 130102000000 | tail -n 1)
viewer=$("$bin/vsurvey-server" token create --db "$demo/server.sqlite" --name demo-viewer --role viewer --unit 130102000000 | tail -n 1)

# The field device: one survey per township, each a variation of the sample.
device=$demo/device
k=0
for unit in 130102001201 130102002201 130102003201 130102004201 130102005201 130102006201 \
    130102007201 130102008201 130102009201 130102010201 130102011201 130102012201; do
    operating=$(((k * 37000) % 160000))
    sed -e "s/\"members_age_46_59\": 14/\"members_age_46_59\": $((14 + k % 6))/" \
        -e "s/\"members_age_60_over\": 18/\"members_age_60_over\": $((18 - k % 6))/" \
        -e "s/\"operating_income\": 82000/\"operating_income\": $operating/" \
        -e "s/\"unit\": \"130102001203\"/\"unit\": \"$unit\"/" \
        forms/samples/village-branch-valid.json >"$demo/answers-$unit.json"
    "$bin/vsurvey" fill village-branch --unit "$unit" --period 2026 --answers "$demo/answers-$unit.json" --finalize --data-dir "$device" >/dev/null
    k=$((k + 1))
done
printf '%s\n' "$collector" | "$bin/vsurvey" login --server "$url" --token-file - --data-dir "$device"
"$bin/vsurvey" sync --data-dir "$device"

# Review by level: 城关镇 approves its village's survey, the county returns it
# with a question, and the device hears of it at its next sync.
township=130102001000
"$bin/vsurvey-server" token create --db "$demo/server.sqlite" --name 城关镇审核 --role reviewer --unit $township >/dev/null
"$bin/vsurvey-server" token create --db "$demo/server.sqlite" --name 县委组织部 --role reviewer --unit 130102000000 >/dev/null
id=$("$bin/vsurvey" list --unit 130102001201 --json --data-dir "$device" | sed -n 's/.*"id": *"\([0-9a-f-]*\)".*/\1/p' | head -n 1)
"$bin/vsurvey-server" surveys review "$id" --revision 1 --action approve --as 城关镇审核 --db "$demo/server.sqlite" --forms forms
"$bin/vsurvey-server" surveys review "$id" --revision 1 --action return --comment "村集体经营收入填的是 0 元,请核实后重报" --as 县委组织部 \
    --db "$demo/server.sqlite" --forms forms
"$bin/vsurvey" sync --data-dir "$device"
"$bin/vsurvey" list --data-dir "$device"
echo

# The county office reads the report from the server.
"$bin/vsurvey" logout --data-dir "$device" >/dev/null
printf '%s\n' "$viewer" | "$bin/vsurvey" login --server "$url" --token-file - --data-dir "$device" >/dev/null
"$bin/vsurvey" report village-branch --remote --period 2026 --limit 5 --data-dir "$device"
