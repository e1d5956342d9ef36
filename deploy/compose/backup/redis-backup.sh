#!/bin/sh
# RDB backups of relier's Redis, copied from a replica so the master never forks for them:
# each dump is verified, kept locally with rotation, and uploaded to S3 when S3_BUCKET is set.
#
#   redis-backup.sh          one backup, then exit (systemd timer, Kubernetes CronJob)
#   redis-backup.sh --loop   one backup now and every BACKUP_INTERVAL seconds (compose service)
#
# Environment (all optional):
#   SENTINEL_HOSTS    comma-separated host[:port] of Sentinels; the backup is taken from a
#   SENTINEL_MASTER   replica they report healthy for this master (default relier-master)
#   REDIS_HOST        node to copy from when no Sentinel answers (default redis-replica)
#   REDIS_PORT        its port (default 6379)
#   REDIS_PASSWORD    password of the Redis nodes; passed as REDISCLI_AUTH, never on argv.
#                     Sentinels are asked without it.
#   BACKUP_DIR        where dumps go (default /backups)
#   BACKUP_KEEP       dumps kept locally, newest first (default 48: two days of hourly dumps)
#   BACKUP_INTERVAL   seconds between backups with --loop (default 3600)
#   S3_BUCKET         upload each dump to s3://$S3_BUCKET/$S3_PREFIX/ with the aws CLI, which
#   S3_PREFIX         reads the usual AWS_* variables (default prefix relier). Expire old
#                     objects with a bucket lifecycle rule; this script never deletes in S3.
#
# Restore: stop the master, put the dump at its dir as dump.rdb with appendonly off, start,
# then CONFIG SET appendonly yes (docs/deployment.md, "Backups").
set -eu

SENTINEL_MASTER=${SENTINEL_MASTER:-relier-master}
REDIS_HOST=${REDIS_HOST:-redis-replica}
REDIS_PORT=${REDIS_PORT:-6379}
BACKUP_DIR=${BACKUP_DIR:-/backups}
BACKUP_KEEP=${BACKUP_KEEP:-48}
BACKUP_INTERVAL=${BACKUP_INTERVAL:-3600}

log() {
    printf '%s redis-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

# redis-cli against a data node, authenticated through the environment when a password is set.
node_cli() {
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$REDIS_PASSWORD redis-cli "$@"
    else
        redis-cli "$@"
    fi
}

# Print "host port" of the first replica a Sentinel reports healthy (flags exactly "slave",
# master link up); print nothing when no Sentinel is set or none answers.
sentinel_replica() {
    [ -n "${SENTINEL_HOSTS:-}" ] || return 0
    for sentinel in $(printf '%s' "$SENTINEL_HOSTS" | tr ',' ' '); do
        case $sentinel in
            *:*) host=${sentinel%:*}; port=${sentinel##*:} ;;
            *) host=$sentinel; port=26379 ;;
        esac
        # --raw prints one field per line: name, value, name, value, ... replica after replica,
        # each starting with "name".
        found=$(redis-cli -h "$host" -p "$port" --raw SENTINEL REPLICAS "$SENTINEL_MASTER" 2>/dev/null |
            awk 'function pick() {
                     if (flags == "slave" && link == "ok") { print ip, port; picked = 1; exit }
                 }
                 NR % 2 == 1 { key = $0; next }
                 key == "name" { pick(); ip = ""; port = ""; flags = ""; link = "" }
                 key == "ip" { ip = $0 }
                 key == "port" { port = $0 }
                 key == "flags" { flags = $0 }
                 key == "master-link-status" { link = $0 }
                 END { if (!picked) pick() }') || found=""
        if [ -n "$found" ]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
}

upload() {
    [ -n "${S3_BUCKET:-}" ] || return 0
    if ! command -v aws >/dev/null 2>&1; then
        log "S3_BUCKET is set but the aws CLI is not installed; $1 stays local only"
        return 1
    fi
    destination="s3://$S3_BUCKET/${S3_PREFIX:-relier}/$(basename "$1")"
    aws s3 cp --only-show-errors "$1" "$destination"
    log "uploaded $destination"
}

# Keep the newest BACKUP_KEEP dumps; the UTC stamps in their names sort by time.
rotate() {
    ls -1 "$BACKUP_DIR"/relier-*.rdb 2>/dev/null | sort -r | tail -n +"$((BACKUP_KEEP + 1))" |
        while read -r old; do
            rm -f "$old"
            log "removed $old (keeping $BACKUP_KEEP)"
        done
}

backup_once() {
    target=$(sentinel_replica)
    if [ -z "$target" ]; then
        target="$REDIS_HOST $REDIS_PORT"
    fi
    host=${target% *}
    port=${target#* }
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    partial="$BACKUP_DIR/.relier-$stamp.rdb.partial"
    dump="$BACKUP_DIR/relier-$stamp.rdb"
    mkdir -p "$BACKUP_DIR"
    log "copying an RDB snapshot from $host:$port"
    # --rdb asks the node for a full sync and writes the RDB payload: on a replica this forks
    # the replica, never the master.
    if ! node_cli -h "$host" -p "$port" --rdb "$partial" >/dev/null; then
        rm -f "$partial"
        log "redis-cli --rdb from $host:$port failed"
        return 1
    fi
    if command -v redis-check-rdb >/dev/null 2>&1 && ! redis-check-rdb "$partial" >/dev/null 2>&1; then
        rm -f "$partial"
        log "the snapshot from $host:$port does not verify (redis-check-rdb)"
        return 1
    fi
    mv "$partial" "$dump"
    log "wrote $dump ($(wc -c <"$dump") bytes)"
    rotate
    upload "$dump"
}

case ${1:-} in
    --loop)
        if [ -n "${S3_BUCKET:-}" ] && ! command -v aws >/dev/null 2>&1 && command -v apk >/dev/null 2>&1; then
            log "installing the aws CLI for S3 uploads"
            apk add --no-cache aws-cli >/dev/null
        fi
        # Exit promptly on docker stop: sleep in the background and wait, so the trap runs.
        trap 'exit 0' TERM INT
        while :; do
            backup_once || log "backup failed; next attempt in ${BACKUP_INTERVAL}s"
            sleep "$BACKUP_INTERVAL" &
            wait $!
        done
        ;;
    "")
        backup_once
        ;;
    *)
        echo "usage: $0 [--loop]" >&2
        exit 2
        ;;
esac
