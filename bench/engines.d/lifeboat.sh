# lifeboat engine for ../shared/bench/peers.sh (compare.sh picks this file up
# from the project's bench/engines.d). Local mode: one local region at
# $EDIR/repo. S3 mode (REPO_TYPE=s3): one S3 region at
# $S3_ENDPOINT/$S3_BUCKET/$S3_PREFIX/lifeboat, credentials from the
# environment. Passphrase from LIFEBOAT_PASSPHRASE_FILE.

lifeboat_version()  { lifeboat version; }
lifeboat_describe() {
  if [[ $REPO_TYPE == s3 ]]; then echo "lifeboat defaults, one S3 region"; else echo "lifeboat defaults, one local region (\$EDIR/repo)"; fi
}

lifeboat_env() {
  mkdir -p "$EDIR"
  [[ -f $EDIR/pass ]] || echo bench-throwaway-password >"$EDIR/pass"
  export LIFEBOAT_PASSPHRASE_FILE=$EDIR/pass
  export LIFEBOAT_CACHE_DIR=$EDIR/cache
  if [[ $REPO_TYPE == s3 ]]; then
    local ep=${S3_ENDPOINT#http://} insecure=true
    [[ $S3_ENDPOINT == https://* ]] && { ep=${S3_ENDPOINT#https://}; insecure=false; }
    cat >"$EDIR/lifeboat.yaml" <<YAML
version: 1
regions:
  - name: s3
    type: s3
    endpoint: $ep
    bucket: $S3_BUCKET
    prefix: ${S3_PREFIX}/lifeboat
    region: ${S3_REGION:-us-east-1}
    insecure: $insecure
    path_style: true
    access_key_env: AWS_ACCESS_KEY_ID
    secret_key_env: AWS_SECRET_ACCESS_KEY
YAML
  fi
}

# lifeboat_lb runs lifeboat on this engine's repository (local or S3).
lifeboat_lb() {
  if [[ $REPO_TYPE == s3 ]]; then lifeboat --config "$EDIR/lifeboat.yaml" "$@"; else lifeboat --repo "$EDIR/repo" "$@"; fi
}
lifeboat_init()   { lifeboat_lb init; }
lifeboat_backup() { lifeboat_lb backup --host bench "$SRC"; }
# $1 must end up mirroring $SRC
lifeboat_restore() {
  lifeboat_lb restore latest --target "$1.tmp" || return
  if [[ -d $1.tmp/$SRC ]]; then mv "$1.tmp/$SRC" "$1" && rm -rf "$1.tmp"; else mv "$1.tmp" "$1"; fi
}
lifeboat_verify() { lifeboat_lb check --read-data; }
