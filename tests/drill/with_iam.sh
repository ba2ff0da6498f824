#!/bin/sh
# with_iam.sh COMMAND [ARGS...]
#
# Run tagstream-drill (COMMAND) against the MSK IAM listener of the local
# cluster in $TAGSTREAM_KAFKA_DIR (infra/local/kafka: SASL_SSL, OAUTHBEARER,
# every token's SigV4 signature checked by
# tests/msk_iam/MskIamCallbackHandler.java), with msk.iam=true and the
# test keys of tests/msk_iam/credentials.txt in the environment, as a task
# gets its role's credentials; the processors the drill starts inherit them.
# The listener takes nothing but IAM tokens, so a passing drill means that
# the drill's clients and every processor signed in with IAM; the broker's
# log must also show new sign-ins with the key. Exits with COMMAND's status
# (3 when the cluster has no IAM listener, 4 when the log shows none).
set -u
dir=${TAGSTREAM_KAFKA_DIR:?TAGSTREAM_KAFKA_DIR is not set}
key=AKIATSTLONGTERM00001
log=$dir/nodes/1/node.log
if ! bs=$(cat "$dir/bootstrap-IAM" 2>/dev/null) || [ -z "$bs" ]; then
  echo "with_iam.sh: no $dir/bootstrap-IAM: the cluster has no IAM listener" >&2
  exit 3
fi
signins() { grep -c "MSK IAM token accepted for .*(key $key)" "$log" 2>/dev/null || true; }
before=$(signins)
# msk.iam through the drill's environment, as the task definition gives it;
# no AWS_REGION: the processors get the region from the drill's setting.
env -u AWS_SESSION_TOKEN -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
  -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_PROFILE -u AWS_REGION -u AWS_DEFAULT_REGION \
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=l0ngTermS3cretKeyForTheLocalIamListener01 \
  AWS_EC2_METADATA_DISABLED=true \
  TAGSTREAM_DRILL_MSK_IAM=true TAGSTREAM_DRILL_MSK_IAM_REGION=eu-west-1 \
  "$@" --bootstrap.servers "$bs" --msk.iam.imds false \
  -X "kafka.ssl.ca.location=$dir/tls/ca.crt"
st=$?
after=$(signins)
echo "with_iam.sh: the broker accepted $((after - before)) IAM sign-ins with $key"
if [ "$st" -eq 0 ] && [ "$after" -le "$before" ]; then
  echo "with_iam.sh: the drill passed, but the broker logged no IAM sign-in" >&2
  exit 4
fi
exit "$st"
