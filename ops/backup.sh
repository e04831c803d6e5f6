#!/usr/bin/env bash
# Nightly backup of the Branch CRM database with a restore drill.
#
#   ops/backup.sh dump              pg_dump (custom format) into $BACKUP_DIR, with a manifest of every
#                                   table's row count taken in the same snapshot as the dump
#   ops/backup.sh drill FILE.dump   restore FILE into a scratch database, count every table, compare
#                                   with FILE's manifest, drop the scratch database; exit 1 if any differ
#   ops/backup.sh once              dump, then drill that dump
#   ops/backup.sh nightly [HH:MM]   `once` every day at HH:MM (default 01:30), keeping $BACKUP_KEEP dumps
#
# Environment: DATABASE_URL (the database to back up; a role that can read every table),
# DRILL_DATABASE_URL (a role that may create databases, e.g. the bootstrap superuser, on any database
# of the same server), BACKUP_DIR (default /backups), BACKUP_KEEP (default 14). Each step prints one
# JSON line; the drill's says {"equal": true} or names the tables that differ.
set -euo pipefail

BACKUP_DIR="${BACKUP_DIR:-/backups}"
BACKUP_KEEP="${BACKUP_KEEP:-14}"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1)

# Every table of the current schema with its exact row count, one "table|rows" line each: a query
# per table, generated and run by psql's \gexec (no server extension such as libxml needed). Fed to
# psql on its standard input.
COUNTS_SQL="SELECT format('SELECT %L || ''|'' || count(*) FROM %I.%I', c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY c.relname
\\gexec"

log_json() { printf '%s\n' "$1"; }

dump() {
  mkdir -p "$BACKUP_DIR"
  local stamp file manifest snapshot line
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  file="$BACKUP_DIR/branch_crm-$stamp.dump"
  manifest="$file.counts"
  # One repeatable-read transaction exports its snapshot: the counts and pg_dump both read it, so
  # the manifest is exactly what the dump holds, however busy the database is meanwhile.
  coproc SNAPSHOT { "${PSQL[@]}" "$DATABASE_URL"; }
  printf 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n' >&"${SNAPSHOT[1]}"
  read -r snapshot <&"${SNAPSHOT[0]}"
  printf '%s\nSELECT %s;\n' "$COUNTS_SQL" "'--end--'" >&"${SNAPSHOT[1]}"
  : > "$manifest.tmp"
  while read -r line <&"${SNAPSHOT[0]}"; do
    [ "$line" = "--end--" ] && break
    printf '%s\n' "$line" >> "$manifest.tmp"
  done
  pg_dump --snapshot="$snapshot" --format=custom --no-owner --no-privileges --file="$file.tmp" "$DATABASE_URL"
  printf 'COMMIT;\n' >&"${SNAPSHOT[1]}"
  exec {SNAPSHOT[1]}>&-
  wait "$SNAPSHOT_PID" || true
  mv "$file.tmp" "$file"
  mv "$manifest.tmp" "$manifest"
  log_json "{\"dump\": \"$file\", \"bytes\": $(stat -c %s "$file"), \"tables\": $(wc -l < "$manifest")}"
  DUMP_FILE="$file"
}

drill() {
  local file="$1" manifest="$1.counts" scratch scratch_url restored differ
  [ -f "$file" ] && [ -f "$manifest" ] || { echo "drill: $file or its manifest is missing" >&2; return 2; }
  scratch="branch_crm_restore_drill_$$"
  # The same server and role as DRILL_DATABASE_URL, another database; a query string (host=/socket/dir)
  # stays as it is.
  local drill_base="${DRILL_DATABASE_URL%%\?*}"
  scratch_url="${drill_base%/*}/$scratch${DRILL_DATABASE_URL#"$drill_base"}"
  "${PSQL[@]}" "$DRILL_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$scratch\"" -c "CREATE DATABASE \"$scratch\""
  trap '"${PSQL[@]}" "$DRILL_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"'"$scratch"'\"" >/dev/null 2>&1 || true' RETURN
  pg_restore --no-owner --no-privileges --exit-on-error --dbname="$scratch_url" "$file"
  restored="$(printf '%s\n' "$COUNTS_SQL" | "${PSQL[@]}" "$scratch_url")"
  differ="$(diff <(sort "$manifest") <(printf '%s\n' "$restored" | sort) | grep '^[<>]' | cut -c3- | cut -d'|' -f1 | sort -u | paste -sd, - || true)"
  local rows
  rows="$(awk -F'|' '{s += $2} END {print s + 0}' "$manifest")"
  if [ -n "$differ" ]; then
    log_json "{\"drill\": \"$file\", \"equal\": false, \"tables_differ\": \"$differ\"}"
    return 1
  fi
  log_json "{\"drill\": \"$file\", \"equal\": true, \"tables\": $(wc -l < "$manifest"), \"rows\": $rows}"
}

prune() {
  # The newest $BACKUP_KEEP dumps (and their manifests) stay.
  ls -1t "$BACKUP_DIR"/branch_crm-*.dump 2>/dev/null | tail -n +"$((BACKUP_KEEP + 1))" | while read -r old; do
    rm -f "$old" "$old.counts"
  done
}

once() { dump; drill "$DUMP_FILE"; prune; }

nightly() {
  local at="${1:-01:30}" now next
  while true; do
    now="$(date -u +%s)"
    next="$(date -u -d "today $at" +%s)"
    [ "$next" -le "$now" ] && next="$(date -u -d "tomorrow $at" +%s)"
    sleep "$((next - now))"
    once || echo "{\"backup\": \"failed\"}"
  done
}

case "${1:-}" in
  dump) dump ;;
  drill) drill "${2:?drill needs a dump file}" ;;
  once) once ;;
  nightly) nightly "${2:-01:30}" ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
