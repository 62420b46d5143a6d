#!/usr/bin/env bash
# Post the featrix plan Markdown as ONE pull-request comment, updated in place on every push.
#
#   post-plan-comment.sh PLAN_MD [EXITCODE]
#
# PLAN_MD   the output of `featrix show plan.fxplan --markdown`; its first line is a marker
#           (<!-- featrix-plan: PROJECT/ENV -->) that identifies the comment to update.
# EXITCODE  the exit code of `featrix plan --detailed-exitcode` (0 = no changes, 2 = changes).
#           With 0 and no earlier comment, nothing is posted (no noise on PRs that change nothing);
#           an earlier comment is still updated, so it never shows an outdated plan.
#
# Needs: gh (preinstalled on GitHub runners), GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER.
# Exits non-zero when GitHub refuses the post, so the job fails instead of hiding the plan.
set -euo pipefail

body_file=${1:?usage: post-plan-comment.sh PLAN_MD [EXITCODE]}
exitcode=${2:-2}
repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}
pr=${PR_NUMBER:?PR_NUMBER is not set}

marker=$(head -n 1 "$body_file")
case "$marker" in
  "<!-- featrix-plan: "*" -->") ;;
  *) echo "error: $body_file does not start with a featrix plan marker" >&2; exit 1 ;;
esac

# the id of our earlier comment, if any (the first comment whose body starts with the marker)
existing=$(gh api --paginate "repos/$repo/issues/$pr/comments" \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | awk 'NR == 1')

if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$repo/issues/comments/$existing" -F "body=@$body_file" --silent
  echo "updated plan comment $existing"
elif [ "$exitcode" = "0" ]; then
  echo "no changes and no earlier plan comment: nothing posted"
else
  gh api --method POST "repos/$repo/issues/$pr/comments" -F "body=@$body_file" --silent
  echo "posted plan comment"
fi
